"""Live updates on the incident page and the queue in a real browser (Debian's chromium): a
change made in another browser context shows within two seconds, without a reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import Served


def test_a_work_note_from_another_agent_appears_on_an_open_incident_page(
    served: Served, open_page: Callable[..., Any]
) -> None:
    number = served.incidents[2]
    watcher = open_page("alice", width=1366, height=768)
    watcher.goto(f"/incidents/{number}")
    expect(watcher.locator("#timeline")).to_be_visible()
    writer = open_page("bob")
    writer.goto(f"/incidents/{number}")
    writer.locator("#comment-body").fill("Checked the switch port: errors on gi0/12")
    writer.locator("#composer").get_by_role("button", name="Add").click()
    expect(writer.locator("#timeline")).to_contain_text("errors on gi0/12")
    expect(watcher.locator("#timeline")).to_contain_text("errors on gi0/12", timeout=2000)


def test_a_new_incident_appears_in_an_open_queue(
    served: Served, open_page: Callable[..., Any]
) -> None:
    watcher = open_page("bob", width=1366, height=768)
    watcher.goto("/queues?tab=all")
    expect(watcher.locator("#queue")).to_be_visible()
    writer = open_page("alice")
    writer.goto(f"/incidents/{served.incidents[0]}")
    writer.locator("details.edit > summary").click()
    writer.locator("#edit-short_description").fill("Badge reader at door 3 beeps red")
    writer.locator("#edit-short_description").press("Enter")
    expect(watcher.locator("#queue")).to_contain_text("Badge reader at door 3", timeout=2000)
