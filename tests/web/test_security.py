"""Security of every web page, generated from the route table so pages added later are
covered: security headers on every page, CSRF refused on every state-changing route (403,
nothing written), error pages that leak nothing, API routes untouched."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, Route

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel.route_index import RouteIndex
from dutydesk.web.errors import is_web_path
from dutydesk.web.security import CSP
from tests.factories import PASSWORD, Cast
from tests.web.conftest import row_counts, sign_in

SAFE = {"GET", "HEAD", "OPTIONS"}
EXPIRED = "This form has expired"
FORM = {  # plausible fields of every form, so only the token is missing
    "login": "bob",
    "password": "a new password 123",
    "confirm": "a new password 123",
    "current": PASSWORD,
    "next": "/",
    "t": "link-token",
    "answer": "confirm",
    "rating": "5",
}


def route_table(routes: Sequence[BaseRoute]) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers (FastAPI keeps those as
    branches with their effective routes); a route of an unknown kind fails the test."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                for method in context.methods or ():
                    yield method, context.path
        elif isinstance(route, Route | APIRoute):
            for method in route.methods or ():
                yield method, route.path
        elif isinstance(route, RouteIndex):  # serves nothing itself: an index of the others
            continue
        elif not isinstance(route, Mount):  # /static: files, GET and HEAD only
            raise AssertionError(f"unknown route kind {route!r}: teach route_table about it")


def web_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every web route of the app (not the API, receivers or probes)."""
    return ((m, p) for m, p in route_table(app.routes) if is_web_path(p))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


ROUTES = sorted(set(web_routes(create_app(Settings(database_url="sqlite://")))))
CHANGING = [(m, p) for m, p in ROUTES if m not in SAFE]
PAGES = [p for m, p in ROUTES if m == "GET"]


def test_the_route_table_is_walked() -> None:
    assert ("POST", "/logout") in CHANGING and ("POST", "/login") in CHANGING
    assert ("POST", "/confirm/{number}") in CHANGING and ("GET", "/queues") in ROUTES
    assert not any(p.startswith(("/api/", "/v2/", "/integrations/")) for _, p in ROUTES)


@pytest.mark.parametrize(("method", "path"), CHANGING)
def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(
    client: TestClient, second: TestClient, cast: Cast, db: Database, method: str, path: str
) -> None:
    sign_in(client, "bob")  # an admin: only the token can be wrong
    second.get("/login")  # a visitor with a double-submit cookie
    url = concrete(path)
    before = row_counts(db)
    attempts = [
        client.request(method, url, data=FORM, follow_redirects=False),
        client.request(method, url, data={**FORM, "csrf_token": "forged"}, follow_redirects=False),
        client.request(
            method, url, data=FORM, headers={"X-CSRF-Token": "forged"}, follow_redirects=False
        ),
        second.request(method, url, data=FORM, follow_redirects=False),
        second.request(method, url, data={**FORM, "csrf_token": "forged"}, follow_redirects=False),
    ]
    for response in attempts:
        if response.status_code == 303:  # a visitor on a signed-in route: sign in first
            assert response.headers["location"].startswith("/login")
            continue
        assert response.status_code == 403, (method, path, response.text[-400:])
        assert EXPIRED in response.text
    assert row_counts(db) == before
    assert client.get("/queues").status_code == 200  # the session survived (no sign-out)


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("who", ["visitor", "admin", "requester"])
def test_every_page_sends_the_security_headers(
    client: TestClient, cast: Cast, path: str, who: str
) -> None:
    if who != "visitor":
        sign_in(client, "bob" if who == "admin" else "carol")
    response = client.get(concrete(path), follow_redirects=False)
    assert response.status_code < 500, response.text
    assert response.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] in ("same-origin", "no-referrer")
    if response.headers.get("content-type", "").startswith("text/html"):
        assert "<script>" not in response.text and " style=" not in response.text
        assert re.search(r"\son[a-z]+=", response.text) is None  # no inline handlers


def test_static_files_and_error_pages_send_the_headers_too(client: TestClient) -> None:
    for path in ("/static/app.css", "/static/app.js", "/static/vendor/htmx-2.0.11.min.js"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["x-frame-options"] == "DENY"
    missing = client.get("/static/nope.js")
    assert missing.status_code == 404 and missing.headers["content-security-policy"] == CSP


def test_missing_and_forbidden_pages_say_nothing_about_what_was_asked(
    client: TestClient, cast: Cast
) -> None:
    sign_in(client, "carol")
    missing = client.get("/no/such/page/INC0000123")
    assert missing.status_code == 404 and "Page not found" in missing.text
    assert "INC0000123" not in missing.text
    forbidden = client.get("/queues")
    assert forbidden.status_code == 403 and "/queues" not in forbidden.text.split("<main", 1)[1]


def test_a_crash_is_a_500_page_without_details_and_the_api_keeps_problem_details(
    app: FastAPI, cast: Cast
) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/boom", boom)
    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/boom")
        assert page.status_code == 500 and "Something went wrong" in page.text
        assert "hunter2" not in page.text and "RuntimeError" not in page.text
        assert page.headers["content-security-policy"] == CSP
        api = client.get("/api/v1/boom")
        assert api.status_code == 500
        assert api.headers["content-type"] == "application/problem+json"
        assert client.get("/api/v1/nope").headers["content-type"] == "application/problem+json"
        assert client.get("/api/v1/incidents").status_code == 401  # JSON, not a redirect


def test_user_text_is_escaped(client: TestClient, cast: Cast, db: Database) -> None:
    with db.unit_of_work() as s:
        user = s.get(type(cast.alice.user), cast.alice.id)
        assert user is not None
        user.full_name = '<script>alert("x")</script>'
    sign_in(client, "alice")
    page = client.get("/queues")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_htmx_requests_send_the_token_as_a_header(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "alice")
    page = client.get("/queues")
    assert f"hx-headers='{{&#34;X-CSRF-Token&#34;: &#34;{csrf}&#34;}}'" in page.text
    out = client.post("/logout", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert out.status_code == 200 and out.headers["hx-redirect"] == "/login"  # a full page
    assert "You are signed out." in client.get("/login").text
    assert client.get("/queues", follow_redirects=False).status_code == 303
