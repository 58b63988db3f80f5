"""The layout in a real browser (Playwright + chromium): usable with the keyboard alone,
the menu of small screens, no Content-Security-Policy violations, no horizontal scrolling
at 360 px, and no serious axe-core findings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import axe_violations

MISSING = "Failed to load resource: the server responded with a status of 404"  # the 404 page


def focused(page: Any) -> dict[str, str]:
    return page.evaluate(
        """() => { const e = document.activeElement;
        return {tag: e.tagName, id: e.id, text: (e.innerText || e.value || "").trim(),
                href: e.getAttribute("href") || ""}; }"""
    )


def test_sign_in_with_the_keyboard_alone(open_page: Any) -> None:
    page = open_page(None)
    page.goto("/login")
    assert focused(page)["id"] == "login"  # the first field has the focus
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    page.wait_for_url("**/queues")
    assert page.locator("#flash").inner_text().strip() == "Signed in as Alice."
    assert page.locator("#flash").get_attribute("role") == "status"


def test_the_skip_link_comes_first_and_moves_to_the_content(open_page: Any) -> None:
    page = open_page("alice")
    page.goto("/queues")
    page.keyboard.press("Tab")
    first = focused(page)
    assert first["text"] == "Skip to content" and first["href"] == "#main"
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0  # visible when focused
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"


def test_the_header_is_reached_in_reading_order_with_visible_focus(open_page: Any) -> None:
    page = open_page("alice")
    page.goto("/queues")
    seen = []
    for _ in range(8):
        page.keyboard.press("Tab")
        seen.append(focused(page)["text"])
        ring = page.evaluate("() => getComputedStyle(document.activeElement).boxShadow")
        assert ring not in ("", "none"), seen[-1]  # a focus ring on every stop
    assert seen == [
        "Skip to content",
        "DutyDesk",
        "Queues",
        "Board",
        "Dashboard",
        "Portal",
        "Account",
        "Sign out",
    ]


def test_the_menu_of_a_phone_opens_and_closes_with_the_keyboard(open_page: Any) -> None:
    page = open_page("alice", width=360, height=740)
    page.goto("/queues")
    nav = page.locator("#site-nav")
    button = page.locator("[data-menu-toggle]")
    assert button.is_visible() and not nav.is_visible()
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true" and nav.is_visible()
    assert focused(page)["text"] == "Queues"  # the focus moves into the menu
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false" and not nav.is_visible()
    assert focused(page)["text"] == "Menu"


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/login"),
        (None, "/password/forgot"),
        ("alice", "/queues"),
        ("dave", "/portal"),
        ("alice", "/account"),
        ("alice", "/account/notifications"),
        ("alice", "/account/password"),
        ("dave", "/no/such/page"),
    ],
)
def test_pages_fit_a_phone_and_break_no_csp_rule(
    open_page: Any, who: str | None, path: str
) -> None:
    page = open_page(who, width=360, height=740)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 360, f"{path} scrolls sideways at 360 px ({overflow} px)"
    unexpected = [p for p in problems if not (path == "/no/such/page" and p.startswith(MISSING))]
    assert not unexpected, unexpected  # no CSP violation, no missing file
    assert page.evaluate("() => typeof window.htmx") == "object"  # the vendored script ran


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/login"),
        ("alice", "/queues"),
        ("alice", "/account/notifications"),
        ("alice", "/account/password"),
    ],
)
def test_no_serious_accessibility_findings(open_page: Any, who: str | None, path: str) -> None:
    page = open_page(who, bypass_csp=True)  # axe is injected as an inline script
    page.goto(path)
    violations = axe_violations(page)
    assert not violations, violations
