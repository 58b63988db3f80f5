"""Every main page in a real browser: no serious or critical axe-core finding (1366×768, with
`bypass_csp` because axe is injected inline), no sideways scrolling at 390×844, and
screenshots at both sizes under test-artifacts/ (`a11y-<page>-desktop|phone.png`).

One signed-in context per user for the whole module (the `served` app is module-scoped
too), resized from phone to desktop on each page; the parametrized test names the page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.web.conftest import Served, axe_violations, new_page, screenshot
from tests.web.test_dashboard_browser import resolve_one

# page name -> (who, path); {incident} is an incident with timeline entries and SLA clocks,
# {own} Dave's own incident, resolved
PAGES = {
    "sign-in": (None, "/login"),
    "queues": ("bob", "/queues?tab=all"),  # Bob holds nothing: his default tab is empty
    "incident": ("bob", "/incidents/{incident}"),
    "new-incident": ("bob", "/incidents/new"),
    "board": ("bob", "/board?group=all"),
    "dashboard": ("bob", "/dashboard"),
    "account": ("bob", "/account"),
    "portal-home": ("dave", "/portal"),
    "portal-new": ("dave", "/portal/new"),
    "portal-incident": ("dave", "/portal/incidents/{own}"),
    "admin-index": ("bob", "/admin"),
    "admin-list": ("bob", "/admin/users"),
    "admin-form": ("bob", "/admin/groups/new"),
}


class Pages:
    """One signed-in page per user for the module (its viewport is resized per size)."""

    def __init__(self, chromium: Any, served: Served) -> None:
        self.chromium, self.served = chromium, served
        self.open: dict[str | None, Any] = {}

    def get(self, who: str | None) -> Any:
        if who not in self.open:
            self.open[who] = new_page(self.chromium, self.served, who, bypass_csp=True)
        return self.open[who]

    def close(self) -> None:
        for page in self.open.values():
            page.context.close()


@pytest.fixture(scope="module")
def pages(chromium: Any, served: Served) -> Iterator[Pages]:
    resolve_one(served)  # Dave's own: the portal asks him to confirm, the charts have data
    number = served.incidents[2]  # logged by Alice for Dave
    with httpx.Client(base_url=served.url) as api:
        for visibility, body in (("work_note", "Relay 2 is slow"), ("public", "Looking at it")):
            note = api.post(
                f"/api/v1/incidents/{number}/comments",
                json={"body": body, "visibility": visibility},
                headers=served.cast.alice.headers,
            )
            assert note.status_code == 201, note.text
    found = Pages(chromium, served)
    yield found
    found.close()


@pytest.mark.parametrize("name", PAGES)
def test_the_page_has_no_serious_axe_finding_and_fits_a_phone(
    pages: Pages, served: Served, name: str
) -> None:
    who, path = PAGES[name]
    path = path.format(incident=served.incidents[2], own=served.incidents[0])
    page = pages.get(who)
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(path)
    assert response.status == 200, (name, response.status)
    screenshot(page, f"a11y-{name}-phone")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    page.set_viewport_size({"width": 1366, "height": 768})
    screenshot(page, f"a11y-{name}-desktop")
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true })")
    violations = axe_violations(page)  # with the forms behind "Assign…", "Edit details" open
    assert violations == [], violations
    assert widths[0] <= widths[1], f"{name} scrolls sideways at 390 px: {widths}"
