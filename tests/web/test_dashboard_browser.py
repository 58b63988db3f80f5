"""The KPI dashboard in a real browser: filters through HTMX with the keyboard, phone and
desktop widths, no CSP complaint, screenshots under test-artifacts/ (axe-core:
`test_a11y_browser.py`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.web.conftest import ARTIFACTS, Served, screenshot
from tests.web.test_portal_browser import api_act

SIZES = {"desktop": (1366, 768), "phone": (390, 844)}


@pytest.fixture(scope="module")
def resolved(served: Served) -> Served:
    return resolve_one(served)


def resolve_one(served: Served) -> Served:
    """One of the served incidents resolved, so both bars and the MTTR line have data."""
    bob = served.cast.bob
    number = served.incidents[0]
    with httpx.Client(base_url=served.url) as api:
        api_act(api, bob, number, "assign", group_id=served.cast.desk.id)
        current = api.get(f"/api/v1/incidents/{number}", headers=bob.headers)
        api.patch(
            f"/api/v1/incidents/{number}",
            json={"category_id": served.cast.hardware.id},
            headers={**bob.headers, "If-Match": current.headers["etag"]},
        ).raise_for_status()
        api_act(
            api,
            bob,
            number,
            "resolve",
            resolution_code="fixed",
            resolution_notes="ok",
            is_workaround=False,
        )
    return served


@pytest.mark.parametrize("size", SIZES)
def test_the_dashboard_fits_breaks_no_csp_rule_and_is_screenshotted(
    open_page: Any, resolved: Served, size: str
) -> None:
    width, height = SIZES[size]
    page = open_page("bob", width=width, height=height)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto("/dashboard")
    assert page.locator(".kpi-tile").count() >= 17
    assert page.locator("svg.chart").count() == 4
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    screenshot(page, f"dashboard-{size}")
    page.locator(".chart-card").first.screenshot(
        path=str(ARTIFACTS / f"dashboard-chart-{size}.png")
    )
    page.goto(f"/dashboard/groups/{resolved.cast.desk.id}")
    assert "Group: Service Desk" in page.inner_text("h1")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    screenshot(page, f"dashboard-group-{size}")
    assert problems == []


def test_filters_work_with_the_keyboard_and_swap_the_page_in_place(
    open_page: Any, resolved: Served
) -> None:
    page = open_page("bob", width=1366, height=768)
    page.goto("/dashboard")
    page.focus("input[name=range][value='30']")
    page.keyboard.press("ArrowLeft")  # radio group: to 7 days
    page.focus("#f-priority")
    with httpx.Client(base_url=resolved.url) as api:
        relay = api.get(
            f"/api/v1/incidents/{resolved.incidents[2]}", headers=resolved.cast.bob.headers
        ).json()
    page.select_option("#f-priority", str(relay["priority"]))
    page.focus(".dash-filters button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard?*range=7*")
    assert f"priority={relay['priority']}" in page.url
    assert page.locator("#f-priority").input_value() == str(relay["priority"])
    assert "by day" in page.inner_text(".page-header")
    opened = page.locator(".kpi-tile__value[aria-describedby=kpi-count-def]")
    assert opened.inner_text() == "1"  # only "Mail relay queue growing" (impact 1; others 2, 3)
    page.locator(".kpi-tile__info summary").first.focus()
    page.keyboard.press("Enter")
    assert page.locator(".kpi-tile__info").first.get_attribute("open") is not None
