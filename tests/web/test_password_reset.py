"""Password reset by e-mailed single-use link: the same answer for every address, the mail in
the outbox, the link used once, expired links refused with 410, every session ended."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import Notification, PasswordReset
from tests.factories import PASSWORD, Cast
from tests.web.conftest import csrf_of, row_counts, sign_in

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NEW = "my brand new password"
LINK_RE = re.compile(r"https?://[^/\s]+(/password/reset/[A-Za-z0-9_\-]+)")


def ask(client: TestClient, login: str) -> str:
    page = client.get("/password/forgot")
    response = client.post(
        "/password/forgot", data={"login": login, "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 200, response.text
    return response.text


def reset_mails(db: Database) -> list[Notification]:
    with db.unit_of_work(write=False) as s:
        rows = s.scalars(select(Notification).where(Notification.event == "password_reset"))
        found = list(rows)
        s.expunge_all()
        return found


def link_of(mail: Notification) -> str:
    found = LINK_RE.search(mail.body)
    assert found, mail.body
    return found.group(1)


def choose(
    client: TestClient, path: str, password: str, confirm: str | None = None
) -> httpx.Response:
    page = client.get(path)
    data = {"password": password, "confirm": confirm or password, "csrf_token": csrf_of(page.text)}
    return client.post(path, data=data, follow_redirects=False)


def test_every_address_gets_the_same_answer_and_only_accounts_get_mail(
    client: TestClient, cast: Cast, db: Database
) -> None:
    known = ask(client, "alice@example.com")
    unknown = ask(client, "nobody@example.com")
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", known) == strip.sub("", unknown)
    assert "If an account matches, we have sent a link" in known
    (mail,) = reset_mails(db)
    assert mail.recipient == "alice@example.com" and mail.state == "pending"
    assert "/password/reset/" in mail.body


def test_a_reset_link_sets_the_password_once_and_ends_every_session(
    client: TestClient, second: TestClient, cast: Cast, db: Database
) -> None:
    sign_in(second, "alice")
    ask(client, "alice")
    path = link_of(reset_mails(db)[0])
    page = client.get(path)
    assert page.status_code == 200 and "Choose a new password" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    mismatch = choose(client, path, NEW, "something else entirely")
    assert mismatch.status_code == 422
    too_short = choose(client, path, "short")
    assert too_short.status_code == 422
    done = choose(client, path, NEW)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert "Your password was changed" in client.get("/login").text
    assert second.get("/queues", follow_redirects=False).status_code == 303
    sign_in(client, "alice", NEW)
    again = client.get(path)
    assert again.status_code == 410 and "used or has expired" in again.text


def test_an_expired_or_unknown_link_changes_nothing(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    with clock.frozen(START) as advance:
        ask(client, "alice")
        path = link_of(reset_mails(db)[0])
        advance(timedelta(minutes=settings.password_reset_minutes))
        page = client.get("/login")
        before = row_counts(db)
        late = client.post(
            path,
            data={"password": NEW, "confirm": NEW, "csrf_token": csrf_of(page.text)},
        )
        assert late.status_code == 410 and "ask for a new one" in late.text
        assert row_counts(db) == before
        assert client.get("/password/reset/not-a-real-token").status_code == 404
    sign_in(client, "alice", PASSWORD)  # the old password still works
    with db.unit_of_work(write=False) as s:
        (row,) = s.scalars(select(PasswordReset)).all()
        assert row.used_at is None


def test_an_empty_request_is_refused_and_asking_twice_mails_once(
    client: TestClient, cast: Cast, db: Database
) -> None:
    page = client.get("/password/forgot")
    empty = client.post("/password/forgot", data={"login": " ", "csrf_token": csrf_of(page.text)})
    assert empty.status_code == 422 and "Enter your user name" in empty.text
    ask(client, "alice")
    ask(client, "alice")
    assert len(reset_mails(db)) == 1  # one mail per user in the cool-down
