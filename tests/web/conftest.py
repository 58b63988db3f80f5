"""Fixtures of the web UI tests.

TestClient tests: `sign_in`, `csrf_of`, `second` (another cookie jar), `row_counts` (to prove
a refused request wrote nothing).

Browser tests (Playwright with Debian's chromium): `served` (the app on a fresh database of
its own, with the cast and a few incidents, served on 127.0.0.1 for the test module),
`chromium` (one browser per run; the tests skip when /usr/bin/chromium is missing, or fail
when CI=true), `open_page(username | None, width=…)` (a new browser context, signed in through
the form when a user name is given; `new_page` is the same for module-scoped pages),
`screenshot(page, name)`; every page opened by
`open_page` is also saved under test-artifacts/ when its test fails.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Base, Database
from tests.conftest import Backend
from tests.factories import PASSWORD, Cast, make_cast, new_incident
from tests.serving import ServerThread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, login: str, password: str = PASSWORD, **form: str) -> str:
    """Sign `client` in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": csrf_of(page.text), **form},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/account/password").text)


@pytest.fixture
def second(app: FastAPI) -> Iterator[TestClient]:
    """A second browser (cookie jar) on the same app, for the TestClient tests."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def row_counts(db: Database) -> dict[str, int]:
    with db.unit_of_work(write=False) as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


# ---------------------------------------------------------------- browser tests


@dataclass
class Served:
    url: str
    db: Database
    settings: Settings
    cast: Cast
    incidents: list[str]  # numbers, newest last


@pytest.fixture(scope="module")
def served(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on a fresh database with the cast and a few incidents, on 127.0.0.1."""
    url, engine = backend.create()
    db = Database(engine)
    settings = Settings(
        database_url=url,
        storage_dir=tmp_path_factory.mktemp("files"),
        serve_worker=False,
        cookie_secure="never",
    )
    app = create_app(settings, db)
    server = ServerThread(app)
    server.start()
    cast = make_cast(db)
    numbers = []
    with httpx.Client(base_url=server.url) as api:
        for who, title, impact in (
            (cast.dave, "Cannot send e-mail", 2),
            (cast.erin, "Laptop will not start", 3),
            (cast.alice, "Mail relay queue growing", 1),
        ):
            fields: dict[str, Any] = {"short_description": title, "impact": impact}
            if who is cast.alice:  # staff log for a caller
                fields["caller_id"] = cast.dave.id
            numbers.append(new_incident(api, who, **fields)["number"])  # type: ignore[arg-type]
    yield Served(server.url, db, settings, cast, numbers)
    server.stop()
    app.state.runtime.close()
    backend.drop(url, engine)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's chromium driven by Playwright, shared by the whole run."""
    if not CHROMIUM.exists():
        message = "browser tests need Debian's chromium package (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


def axe_violations(page: Any) -> list[tuple[str, str, list[Any]]]:
    """The serious and critical axe-core findings of the page (open it with bypass_csp=True:
    axe is injected as an inline script)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in json.loads(result)["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def new_page(
    browser: Any,
    served: Served,
    username: str | None,
    *,
    width: int = 1280,
    height: int = 800,
    states: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """A page in a new browser context (close it with `page.context.close()`), signed in
    through the form when a user name is given; for module-scoped pages. `states`, a dict the
    caller keeps, remembers each user's signed-in cookies: another context of the same user
    then starts signed in, without the form."""
    known = states is not None and username in states
    if known:
        options["storage_state"] = states[username]  # type: ignore[index]
    context = browser.new_context(
        base_url=served.url, viewport={"width": width, "height": height}, **options
    )
    page = context.new_page()
    if username is not None and not known:
        page.goto("/login")
        page.fill("#login", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        if states is not None:
            states[username] = context.storage_state()
    return page


@pytest.fixture
def open_page(
    chromium: Any, served: Served, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """`open_page("alice")`: a page in a new browser context, signed in through the form
    (`None`: a visitor); `width`/`height` set the viewport (360 for a phone)."""
    contexts: list[Any] = []

    def open_(username: str | None, *, width: int = 1280, height: int = 800, **options: Any) -> Any:
        page = new_page(chromium, served, username, width=width, height=height, **options)
        contexts.append(page.context)
        return page

    yield open_
    if request.node.stash.get(FAILED, False):
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                screenshot(page, f"{request.node.name}-{i}-{j}")
    for context in contexts:
        context.close()
