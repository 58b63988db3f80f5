"""The portal in a real browser: the requester's whole path with the desk's half done through
the REST API, phone widths, CSP, screenshots (axe-core: `test_a11y_browser.py`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Person
from tests.web.conftest import Served, screenshot

SIZES = {"desktop": (1366, 768), "phone": (390, 844)}


def api_act(api: httpx.Client, who: Person, number: str, action: str, **body: Any) -> Any:
    current = api.get(f"/api/v1/incidents/{number}", headers=who.headers)
    done = api.post(
        f"/api/v1/incidents/{number}/actions/{action}",
        json=body,
        headers={**who.headers, "If-Match": current.headers["etag"]},
    )
    assert done.status_code == 200, done.text
    return done.json()


def desk_handles(served: Served, number: str) -> None:
    """Alice finds it unassigned, takes it, sets its category, writes a work note and a public
    reply, and resolves it."""
    alice = served.cast.alice
    with httpx.Client(base_url=served.url) as api:
        queue = api.get("/api/v1/incidents", params={"state": "new"}, headers=alice.headers).json()
        found = [i for i in queue["items"] if i["number"] == number]
        assert found and found[0]["assignee_id"] is None and found[0]["channel"] == "portal"
        api_act(api, alice, number, "assign", group_id=served.cast.desk.id, assignee_id=alice.id)
        current = api.get(f"/api/v1/incidents/{number}", headers=alice.headers)
        triage = api.patch(  # the closure checklist wants a category before resolving
            f"/api/v1/incidents/{number}",
            json={"category_id": served.cast.hardware.id},
            headers={**alice.headers, "If-Match": current.headers["etag"]},
        )
        assert triage.status_code == 200, triage.text
        for visibility, body in (
            ("work_note", "INTERNAL: toner sensor, see vendor ticket"),
            ("public", "We are sending a technician this afternoon."),
        ):
            note = api.post(
                f"/api/v1/incidents/{number}/comments",
                json={"body": body, "visibility": visibility},
                headers=alice.headers,
            )
            assert note.status_code == 201, note.text
        api_act(
            api,
            alice,
            number,
            "resolve",
            resolution_code="fixed",
            resolution_notes="Replaced the toner sensor.",
            is_workaround=False,
        )


def test_a_requester_reports_the_desk_resolves_the_requester_confirms_and_rates(
    open_page: Any, served: Served
) -> None:
    page = open_page("erin", width=1366, height=768)
    page.goto("/portal")
    screenshot(page, "portal-home-desktop")
    page.get_by_role("link", name="Report a problem").click()
    page.fill("#short_description", "Printer on floor 2 jams")
    page.fill("#description", "Every page since Monday.")
    page.get_by_label("It stops my work").check()
    page.set_input_files(
        "#files",
        files=[{"name": "jam.txt", "mimeType": "text/plain", "buffer": b"paper jam in tray 2"}],
    )
    screenshot(page, "portal-new-desktop")
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_url("**/portal/incidents/INC*")
    number = page.url.rsplit("/", 1)[-1]
    assert f"logged as {number}" in page.locator("#flash").inner_text()
    assert "jam.txt" in page.locator(".portal-conversation").inner_text()

    desk_handles(served, number)

    page.reload()
    body = page.locator("main").inner_text()
    assert "We are sending a technician" in body and "INTERNAL" not in body
    assert "Replaced the toner sensor." in body
    screenshot(page, "portal-incident-resolved-desktop")
    page.get_by_role("button", name="Yes, it is fixed").click()
    page.wait_for_load_state()
    assert f"{number} is closed" in page.locator("#flash").inner_text()
    page.get_by_label("4", exact=True).check()
    page.fill("#rating-comment", "Quick, thanks")
    page.get_by_role("button", name="Send my rating").click()
    page.wait_for_load_state()
    assert "You rated this 4 out of 5" in page.locator("main").inner_text()
    screenshot(page, "portal-incident-closed-desktop")
    with httpx.Client(base_url=served.url) as api:
        final = api.get(f"/api/v1/incidents/{number}", headers=served.cast.alice.headers).json()
    assert (final["state"], final["csat_rating"]) == ("closed", 4)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_portal_pages_fit_break_no_csp_rule_and_are_screenshotted(
    open_page: Any, served: Served, size: str
) -> None:
    width, height = SIZES[size]
    page = open_page("dave", width=width, height=height)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    number = served.incidents[0]  # Dave's own
    for name, path in (
        ("home", "/portal"),
        ("new", "/portal/new?kind=request"),
        ("incident", f"/portal/incidents/{number}"),
    ):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("() => document.documentElement.scrollWidth")
        assert overflow <= width, f"{path} scrolls sideways at {width} px ({overflow} px)"
        screenshot(page, f"portal-{name}-{size}")
    assert not problems, problems


def test_the_whole_submit_form_works_with_the_keyboard(open_page: Any) -> None:
    page = open_page("dave")
    page.goto("/portal/new")
    page.focus("#short_description")
    page.keyboard.type("Cannot print")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "description"
    page.keyboard.type("Nothing comes out")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "service"
    page.keyboard.press("Tab")  # the checked radio of the urgency group
    assert page.evaluate("() => document.activeElement.value") == "workaround"
    page.keyboard.press("ArrowUp")
    assert page.locator("input[value=blocking]").is_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "files"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.innerText") == "Send the report"
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/incidents/INC*")
    assert "Cannot print" in page.locator("h1").inner_text()
