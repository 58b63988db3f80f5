"""The admin screens in a real browser: the main flow with the keyboard and a confirmation,
no CSP errors or sideways scrolling on a phone, and screenshots of the main pages at
1366×768 and 390×844 under test-artifacts/."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Served, screenshot

PAGES = (
    "/admin",
    "/admin/users",
    "/admin/users/new",
    "/admin/calendars/new",
    "/admin/priority-matrix",
    "/admin/escalation-paths/new",
    "/admin/templates/assigned/email",
)


def test_an_admin_adds_a_customer_and_disables_a_user(open_page: Any, served: Served) -> None:
    page = open_page("bob")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto("/admin")
    page.get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="New customer").click()
    page.locator("#name").focus()
    page.keyboard.type("Initech")
    page.keyboard.press("Tab")
    page.keyboard.type("TPS reports")
    page.keyboard.press("Enter")  # a textarea takes Enter as text …
    page.get_by_role("button", name="Save").click()  # … so save with the button
    page.wait_for_url("**/admin/customers")
    assert page.locator("#flash").inner_text().strip() == "Customer Initech was added."
    assert page.get_by_role("link", name="Initech", exact=True).count() == 1

    page.locator("#q").fill("ini")  # HTMX search swaps the results in
    page.wait_for_function("() => document.querySelectorAll('#results tbody tr').length === 1")

    page.goto(f"/admin/users/{served.cast.erin.user.id}")
    answers: list[str] = []

    def dismiss_then_accept(dialog: Any) -> None:
        answers.append(dialog.message)
        (dialog.dismiss if len(answers) == 1 else dialog.accept)()

    page.on("dialog", dismiss_then_accept)
    page.get_by_role("button", name="Disable the user").click()
    assert answers and "Disable erin?" in answers[0]
    assert "(disabled)" not in page.locator("h1").inner_text()  # dismissed: nothing happened
    page.get_by_role("button", name="Disable the user").click()
    page.wait_for_selector("text=User erin was disabled")
    assert "(disabled)" in page.locator("h1").inner_text()
    assert problems == []


def test_admin_pages_on_a_desktop_and_a_phone(open_page: Any) -> None:
    for width, height in ((1366, 768), (390, 844)):
        page = open_page("bob", width=width, height=height)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        for path in PAGES:
            page.goto(path)
            assert page.locator("h1").count() == 1, path
            name = "admin" + path.replace("/admin", "").replace("/", "-")
            screenshot(page, f"{name}-{width}x{height}")
            overflow = page.evaluate("() => document.documentElement.scrollWidth")
            assert overflow <= width, (path, overflow)
        assert problems == []
