"""The whole ITIL path through the real pages, in two browser contexts: a requester reports in
the portal; an agent finds it under Unassigned, takes it, sets its category, writes a work
note and a public reply, resolves it; the requester sees the resolution (never the work note)
and confirms; the incident is closed. Screenshots at 1366×768 under test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from dutydesk.models import Incident
from tests.web.conftest import Served, screenshot

WORK_NOTE = "INTERNAL: the fuser unit is on the vendor's recall list"
REPLY = "A technician will swap the fuser this afternoon."
NOTES = "Swapped the fuser unit; test pages print cleanly."


def submit_in_the_portal(page: Any) -> str:
    page.goto("/portal")
    page.get_by_role("link", name="Report a problem").click()
    page.fill("#short_description", "Printer on floor 3 prints blank pages")
    page.fill("#description", "Since this morning, every job comes out blank.")
    page.get_by_label("It stops my work").check()
    screenshot(page, "itil-1-portal-new-desktop")
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_url("**/portal/incidents/INC*")
    return str(page.url.rsplit("/", 1)[-1])


def act(page: Any, action: str, fill: Callable[[Any], None]) -> None:
    """Open an action's form on the incident page, fill it, submit, wait for the flash."""
    page.locator("summary", has_text=f"{action.capitalize()}…").click()
    form = page.locator(f'form[action$="/actions/{action}"]')
    fill(form)
    form.get_by_role("button", name=action.capitalize()).click()
    expect(page.locator(".flash--success")).to_contain_text(f"{action.capitalize()}:")


def comment(page: Any, kind: str, text: str) -> None:
    page.check(f'#composer input[name=visibility][value="{kind}"]')
    page.fill("#comment-body", text)
    page.click("#composer button[type=submit]")
    done = "Work note added." if kind == "work_note" else "Public reply sent."
    expect(page.locator(".flash--success")).to_contain_text(done)


def test_report_take_note_reply_resolve_confirm_close(
    open_page: Callable[..., Any], served: Served
) -> None:
    requester = open_page("erin", width=1366, height=768)
    number = submit_in_the_portal(requester)
    screenshot(requester, "itil-2-portal-submitted-desktop")

    agent = open_page("alice", width=1366, height=768)
    agent.goto("/queues")
    agent.get_by_role("link", name="Unassigned").click()
    agent.wait_for_url("**/queues?tab=unassigned")
    row = agent.locator(f'#queue a[href="/incidents/{number}"]')
    expect(row).to_be_visible()
    screenshot(agent, "itil-3-queue-unassigned-desktop")
    row.click()
    agent.wait_for_url(f"**/incidents/{number}")

    def to_me(form: Any) -> None:
        form.get_by_label("Group").select_option(label="Service Desk")
        form.get_by_label("Assignee (optional)").select_option(label="Alice")

    act(agent, "assign", to_me)
    people = agent.locator("#people-title + dl").inner_text()
    assert "Alice" in people and "Service Desk" in people
    agent.locator("summary", has_text="Edit details").click()  # the checklist wants a category
    agent.select_option("#edit-category_id", label="Hardware")
    agent.locator("form.edit__form").get_by_role("button", name="Save").click()
    expect(agent.locator(".flash--success")).to_have_text(f"{number} saved.")
    comment(agent, "work_note", WORK_NOTE)
    comment(agent, "public", REPLY)
    expect(agent.locator(".timeline__item--note", has_text=WORK_NOTE)).to_be_visible()
    screenshot(agent, "itil-4-incident-in-hand-desktop")

    def resolution(form: Any) -> None:
        form.get_by_label("Resolution code").fill("fixed")
        form.get_by_label("Resolution notes").fill(NOTES)
        form.get_by_label("Permanent").check()

    act(agent, "resolve", resolution)
    expect(agent.locator("#incident-header .badge--resolved")).to_be_visible()
    screenshot(agent, "itil-5-incident-resolved-desktop")

    requester.reload()
    main = requester.locator("main")
    expect(main).to_contain_text(NOTES)
    expect(main).to_contain_text(REPLY)
    assert "INTERNAL" not in main.inner_text() and "recall" not in requester.content()
    screenshot(requester, "itil-6-portal-resolved-desktop")
    requester.get_by_role("button", name="Yes, it is fixed").click()
    expect(requester.locator("#flash")).to_contain_text(f"{number} is closed")
    assert "recall" not in requester.content()
    screenshot(requester, "itil-7-portal-closed-desktop")

    agent.reload()
    expect(agent.locator("#incident-header .badge--closed")).to_have_text("closed")
    screenshot(agent, "itil-8-incident-closed-desktop")
    with served.db.unit_of_work(write=False) as session:
        held = session.scalars(select(Incident).where(Incident.number == number)).one()
        saved = (held.state, held.assignee_id, held.resolution_code, held.is_workaround)
    assert saved == ("closed", served.cast.alice.id, "fixed", False)
