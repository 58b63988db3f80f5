"""The agent workspace in a real browser: queues → incident (work note with an @mention,
the live priority of the new-incident form), no CSP errors, no sideways scrolling on a phone;
screenshots of each page at 1366×768 and 390×844 under test-artifacts/."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Served, screenshot

SIZES = ((1366, 768), (390, 844))


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def watch_console(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_queue_to_incident_with_a_mention(open_page: Any, served: Served) -> None:
    page = open_page("alice", width=1366, height=768)
    errors = watch_console(page)
    page.goto("/queues?tab=all")
    number = served.incidents[-1]
    row = page.locator(f'a[href="/incidents/{number}"]')
    assert row.count() == 1
    page.fill("#f-text", "relay")  # HTMX swaps the table after a pause
    page.wait_for_function("() => !document.querySelector('#queue').innerText.includes('Laptop')")
    assert "Mail relay queue growing" in page.locator("#queue").inner_text()
    row.click()
    page.wait_for_url(f"**/incidents/{number}")
    page.fill("#comment-body", "Looking at the relay now, @b")
    page.wait_for_selector('[data-mention="bob"]')
    page.click('[data-mention="bob"]')
    assert page.input_value("#comment-body") == "Looking at the relay now, @bob "
    page.click("#composer button[type=submit]")
    page.wait_for_selector(".flash--success")
    assert "Told @bob." in page.locator("#flash").inner_text()
    assert "Looking at the relay now" in page.locator(".timeline__item--note").last.inner_text()
    assert not errors, errors


def test_the_new_incident_form_shows_the_priority_live(open_page: Any, served: Served) -> None:
    page = open_page("alice", width=1366, height=768)
    errors = watch_console(page)
    page.goto("/incidents/new")
    page.fill("#caller-q", "dave")
    page.wait_for_selector('input[name="caller_id"]')
    page.check('input[name="caller_id"]')
    page.select_option("#new-impact", "1")
    page.select_option("#new-urgency", "1")
    page.wait_for_selector("#references .badge--p1")
    page.fill("#new-short_description", "Phone: printer on fire")
    page.click("form.new-incident button[type=submit]")
    page.wait_for_url("**/incidents/INC*")
    assert "logged." in page.locator("#flash").inner_text()
    assert "Phone: printer on fire" in page.locator("h1").inner_text()
    assert not errors, errors


def test_screenshots_and_phone_widths(open_page: Any, served: Served) -> None:
    number = served.incidents[-1]
    for width, height in SIZES:
        page = open_page("alice", width=width, height=height)
        for name, path in (
            ("queues", "/queues?tab=all"),
            ("incident", f"/incidents/{number}"),
            ("new-incident", "/incidents/new"),
        ):
            page.goto(path)
            screenshot(page, f"workspace-{name}-{width}x{height}")
            assert no_sideways_scroll(page), (name, width)
