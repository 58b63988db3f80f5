"""Signing in and out of the web UI: the form, the generic error, the rate limit, disabled
users, the `next` parameter, idle and absolute timeouts, password change, cookie flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dutydesk.config import Settings
from dutydesk.kernel import clock
from dutydesk.web.context import safe_next
from tests.factories import PASSWORD, Cast
from tests.web.conftest import csrf_of, sign_in

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WRONG = "User name or password is wrong."


def attempt(client: TestClient, login: str, password: str, **form: str) -> httpx.Response:
    page = client.get("/login")
    data = {"login": login, "password": password, "csrf_token": csrf_of(page.text), **form}
    return client.post("/login", data=data, follow_redirects=False)


def test_visitors_go_to_the_sign_in_page_and_staff_to_the_queues(
    client: TestClient, cast: Cast
) -> None:
    first = client.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and 'autocomplete="current-password"' in page.text
    assert "single sign-on" not in page.text  # no issuer configured
    sign_in(client, "alice")
    assert client.get("/", follow_redirects=False).headers["location"] == "/queues"
    queues = client.get("/queues")
    assert queues.status_code == 200 and "Alice" in queues.text
    assert queues.headers["cache-control"] == "no-store"


def test_requesters_go_to_the_portal_and_may_not_open_the_queues(
    client: TestClient, cast: Cast
) -> None:
    sign_in(client, "dave@example.com")  # by e-mail address
    assert client.get("/", follow_redirects=False).headers["location"] == "/portal"
    assert client.get("/portal").status_code == 200
    refused = client.get("/queues")
    assert refused.status_code == 403 and "You do not have access" in refused.text


def test_sign_in_flashes_and_sign_out_ends_the_session(client: TestClient, cast: Cast) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"login": "alice", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 200 and "Signed in as Alice." in response.text
    again = client.get("/queues")
    assert "Signed in as Alice." not in again.text  # a flash is shown once
    out = client.post("/logout", data={"csrf_token": csrf_of(again.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "You are signed out." in client.get("/login").text
    gone = client.get("/queues", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/login?next=/queues"


@pytest.mark.parametrize(
    ("login", "password"),
    [("alice", "wrong password!"), ("nobody", PASSWORD), ("ALICE", PASSWORD), ("", "")],
)
def test_a_wrong_user_or_password_gets_one_generic_answer(
    client: TestClient, cast: Cast, login: str, password: str
) -> None:
    response = attempt(client, login, password)
    assert response.status_code in (400, 422)
    if response.status_code == 400:
        assert WRONG in response.text
    assert "dd_session" not in client.cookies


def test_sign_in_is_rate_limited_per_account(
    client: TestClient, cast: Cast, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        assert attempt(client, "alice", "not the password").status_code == 400
    blocked = attempt(client, "alice", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    assert blocked.headers["retry-after"] == str(settings.login_window_seconds)
    assert attempt(client, "bob", PASSWORD).status_code == 303


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(
    client: TestClient, second: TestClient, cast: Cast
) -> None:
    sign_in(second, "alice")
    assert second.get("/queues").status_code == 200
    r = client.patch(
        f"/api/v1/admin/users/{cast.alice.id}", json={"is_active": False}, headers=cast.bob.headers
    )
    assert r.status_code == 200
    assert second.get("/queues", follow_redirects=False).status_code == 303
    refused = attempt(second, "alice", PASSWORD)
    assert refused.status_code == 400 and WRONG in refused.text


@pytest.mark.parametrize(
    ("given", "lands"),
    [
        ("/portal?x=1", "/portal?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: a=b", "/"),
    ],
)
def test_next_only_leads_to_paths_of_this_site(
    client: TestClient, cast: Cast, given: str, lands: str
) -> None:
    assert safe_next(given) == lands
    response = attempt(client, "dave", PASSWORD, next=given)
    assert response.headers["location"] == lands


def test_a_protected_page_sends_to_sign_in_and_back(client: TestClient, cast: Cast) -> None:
    away = client.get("/portal", params={"tab": "open"}, follow_redirects=False)
    assert away.headers["location"] == "/login?next=/portal%3Ftab%3Dopen"
    page = client.get(away.headers["location"])
    assert 'name="next" value="/portal?tab=open"' in page.text
    back = attempt(client, "dave", PASSWORD, next="/portal?tab=open")
    assert back.headers["location"] == "/portal?tab=open"


def test_htmx_requests_are_told_to_redirect(client: TestClient, cast: Cast) -> None:
    response = client.get(
        "/queues",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/queues?p=2"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/login?next=/queues%3Fp%3D2"


def test_a_session_ends_after_the_idle_timeout(
    client: TestClient, cast: Cast, settings: Settings
) -> None:
    idle = timedelta(minutes=settings.session_idle_minutes)
    with clock.frozen(START) as advance:
        sign_in(client, "alice")
        advance(idle - timedelta(minutes=1))
        assert client.get("/queues").status_code == 200  # use moves the idle deadline
        advance(idle - timedelta(minutes=1))
        assert client.get("/queues").status_code == 200
        advance(idle)
        assert client.get("/queues", follow_redirects=False).status_code == 303


def test_a_session_ends_at_its_absolute_timeout_however_busy(
    client: TestClient, cast: Cast, settings: Settings
) -> None:
    step = timedelta(minutes=settings.session_idle_minutes - 1)
    end = START + timedelta(hours=settings.session_absolute_hours)
    with clock.frozen(START) as advance:
        sign_in(client, "alice")
        now = START
        while now + step < end:
            advance(step)
            now += step
            assert client.get("/queues").status_code == 200
        advance(end - now)
        assert client.get("/queues", follow_redirects=False).status_code == 303


def test_changing_the_password_ends_every_other_session(
    client: TestClient, second: TestClient, cast: Cast
) -> None:
    sign_in(second, "alice")
    csrf = sign_in(client, "alice")
    new = "a new and longer secret"
    wrong = client.post(
        "/account/password",
        data={"csrf_token": csrf, "current": "not it", "password": new, "confirm": new},
    )
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.text
    short = client.post(
        "/account/password",
        data={"csrf_token": csrf, "current": PASSWORD, "password": "short", "confirm": "short"},
    )
    assert short.status_code == 422 and "at least 10 characters" in short.text
    assert second.get("/queues").status_code == 200  # nothing changed yet
    done = client.post(
        "/account/password",
        data={"csrf_token": csrf, "current": PASSWORD, "password": new, "confirm": new},
    )
    assert done.status_code == 200 and "Your password was changed" in done.text
    assert client.get("/queues").status_code == 200  # this browser got a fresh session
    assert second.get("/queues", follow_redirects=False).status_code == 303
    assert attempt(second, "alice", PASSWORD).status_code == 400
    assert attempt(second, "alice", new).status_code == 303


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cookies_are_httponly_samesite_and_secure_over_https(
    app: FastAPI, cast: Cast, scheme: str
) -> None:
    with TestClient(app, base_url=f"{scheme}://testserver") as second:
        page = second.get("/login")
        anon = page.headers["set-cookie"]
        response = second.post(
            "/login",
            data={"login": "alice", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("dd_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "HttpOnly" in anon and "SameSite=strict" in anon
    assert ("Secure" in cookie) is (scheme == "https")
    assert ("Secure" in anon) is (scheme == "https")
    if scheme == "https":
        assert response.headers["strict-transport-security"].startswith("max-age=")
