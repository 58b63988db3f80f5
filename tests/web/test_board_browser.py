"""The board in a real browser (Debian's chromium): dragging a card performs the action,
a refused drop snaps back with the reason, a move that needs input asks for it, and a change
made in one browser context shows on another's board within two seconds (live updates)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import Served, screenshot

BOARD = "/board?group=all"


def card(page: Any, column: str, number: str) -> Any:
    return page.locator(f'[data-column="{column}"] [data-card="{number}"]')


def no_csp_errors(page: Any) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return found


def test_dragging_cards_moves_them_or_snaps_back_with_the_reason(
    served: Served, open_page: Callable[..., Any]
) -> None:
    number = served.incidents[0]
    page = open_page("alice", width=1366, height=768)
    csp = no_csp_errors(page)
    page.goto(BOARD)
    expect(card(page, "new", number)).to_be_visible()
    screenshot(page, "board-desktop")
    page.drag_and_drop(f'[data-card="{number}"]', '[data-column="in_progress"]')
    expect(card(page, "in_progress", number)).to_be_visible()
    expect(page.locator(".flash--success")).to_have_text(f"{number} is now in progress.")
    page.drag_and_drop(f'[data-card="{number}"]', '[data-column="new"]')  # no action leads there
    expect(page.locator(".flash--error")).to_contain_text("cannot go from in progress to new")
    expect(card(page, "in_progress", number)).to_be_visible()
    page.drag_and_drop(f'[data-card="{number}"]', '[data-column="pending"]')  # needs a reason
    expect(page.get_by_role("heading", name=f"Move {number} to Pending")).to_be_visible()
    screenshot(page, "board-move-desktop")
    page.get_by_label("Pending vendor", exact=False).check()
    page.get_by_label("Reason").fill("Waiting for the RMA")
    page.get_by_role("button", name="Move").click()
    expect(card(page, "pending", number)).to_be_visible()
    expect(page.locator(".flash--success")).to_have_text(f"{number} is now pending vendor.")
    assert csp == []


def test_a_move_in_one_browser_shows_on_the_other_board_within_two_seconds(
    served: Served, open_page: Callable[..., Any]
) -> None:
    number = served.incidents[1]
    watcher = open_page("alice", width=390, height=844)
    watcher.goto(BOARD)
    expect(card(watcher, "new", number)).to_be_attached()
    mover = open_page("bob")
    mover.goto(BOARD)
    mover.get_by_label(f"Move {number} to").select_option("in_progress")  # the keyboard path
    mover.locator(f'[data-card="{number}"]').get_by_role("button", name="Move").click()
    expect(card(mover, "in_progress", number)).to_be_visible()
    expect(card(watcher, "in_progress", number)).to_be_attached(timeout=2000)
    expect(card(watcher, "new", number)).to_have_count(0)
    screenshot(watcher, "board-phone")
