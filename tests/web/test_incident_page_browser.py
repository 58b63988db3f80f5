"""The incident page in two browser contexts at once: a change made in one shows on the
other's open page within two seconds (live updates), and saving an edit of a page that went
stale meanwhile shows the difference instead of overwriting the other agent's change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from dutydesk.models import Incident
from tests.web.conftest import Served, new_page, screenshot

AGENTS = ("alice", "bob")


@pytest.fixture(scope="module")
def agents(chromium: Any, served: Served) -> Iterator[dict[str, Any]]:
    """Alice's and Bob's pages, signed in once for the module."""
    pages = {who: new_page(chromium, served, who, width=1366, height=768) for who in AGENTS}
    yield pages
    for page in pages.values():
        page.context.close()


def open_incident(agents: dict[str, Any], username: str, number: str) -> Any:
    page = agents[username]
    page.goto(f"/incidents/{number}")
    page.wait_for_function(  # the live stream is connected
        "() => document.querySelector('#incident-live').liveSource?.readyState === 1"
    )
    return page


def short_description(served: Served, number: str) -> str:
    with served.db.unit_of_work(write=False) as session:
        found = session.scalar(select(Incident.short_description).where(Incident.number == number))
    return str(found)


def edit_title(page: Any, title: str) -> None:
    page.locator("summary", has_text="Edit details").click()
    page.fill("#edit-short_description", title)
    page.locator("form.edit__form").get_by_role("button", name="Save").click()


def test_a_reply_and_a_state_change_show_on_the_other_open_page_within_two_seconds(
    agents: dict[str, Any], served: Served
) -> None:
    number = served.incidents[2]
    watcher = open_incident(agents, "bob", number)
    actor = open_incident(agents, "alice", number)
    actor.check('#composer input[name=visibility][value="public"]')
    actor.fill("#comment-body", "The relay is draining again.")
    actor.click("#composer button[type=submit]")
    reply = watcher.locator(".timeline__item", has_text="The relay is draining again.")
    expect(reply).to_be_visible(timeout=2000)
    expect(watcher.locator("#incident-header .badge--new")).to_be_visible()
    actor.locator('form[action$="/actions/start"]').get_by_role("button", name="Start").click()
    expect(actor.locator(".flash--success")).to_contain_text("is now in progress")
    expect(watcher.locator("#incident-header .badge--in_progress")).to_be_visible(timeout=2000)
    screenshot(watcher, "incident-live-update-desktop")


def test_saving_a_stale_page_shows_the_difference_and_overwrites_nothing(
    agents: dict[str, Any], served: Served
) -> None:
    number = served.incidents[0]
    seen = short_description(served, number)
    stale = open_incident(agents, "bob", number)
    first = open_incident(agents, "alice", number)
    edit_title(first, "Cannot send e-mail from Outlook")
    expect(first.locator(".flash--success")).to_have_text(f"{number} saved.")
    # the live update refreshes the header and timeline, never a form being filled in
    expect(stale.locator("h1")).to_contain_text("from Outlook", timeout=2000)

    edit_title(stale, "Cannot send e-mail to Globex")
    conflict = stale.locator("section.conflict")
    expect(conflict).to_contain_text(f"{number} changed while you were editing")
    row = conflict.locator("tr", has=stale.locator("th", has_text="Short description"))
    expect(row.locator("td")).to_have_text(
        [seen, "Cannot send e-mail to Globex", "Cannot send e-mail from Outlook"]
    )
    screenshot(stale, "incident-stale-save-conflict-desktop")
    assert short_description(served, number) == "Cannot send e-mail from Outlook"

    stale.get_by_role("link", name="Discard mine").click()
    expect(stale.locator("section.conflict")).to_have_count(0)
    assert short_description(served, number) == "Cannot send e-mail from Outlook"
    edit_title(stale, "Cannot send e-mail to Globex")  # now on the current version
    expect(stale.locator(".flash--success")).to_have_text(f"{number} saved.")
    assert short_description(served, number) == "Cannot send e-mail to Globex"
