"""Live updates (``GET /live``, server-sent events) against a real server: an event names an
incident another session changed; nothing is said about incidents the user may not see; the
stream ends on sign-out; the per-process cap. Reads are bounded: the server ends every stream
after ``live_max_seconds`` and httpx stops waiting after its read timeout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast as typed

import httpx
import pytest
from fastapi.testclient import TestClient

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database
from tests.conftest import Backend
from tests.factories import Cast, act, make_cast, new_incident
from tests.serving import ServerThread
from tests.web.conftest import sign_in

TIMEOUT = httpx.Timeout(10.0)
SSE = {"Accept": "text/event-stream"}  # what EventSource sends


@dataclass
class Live:
    url: str
    cast: Cast


@pytest.fixture(scope="module")
def live(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    url, engine = backend.create()
    db = Database(engine)
    settings = Settings(
        database_url=url,
        storage_dir=tmp_path_factory.mktemp("files"),
        serve_worker=False,
        cookie_secure="never",
        live_poll_seconds=0.05,
        live_max_seconds=6.0,
        live_max_streams=3,
    )
    app = create_app(settings, db)
    server = ServerThread(app)
    server.start()
    yield Live(server.url, make_cast(db))
    server.stop()
    app.state.runtime.close()
    backend.drop(url, engine)


@contextmanager
def browser(live: Live, username: str) -> Iterator[tuple[httpx.Client, str]]:
    """A cookie jar signed in through the form; yields it and the session's CSRF token."""
    with httpx.Client(base_url=live.url, timeout=TIMEOUT) as client:
        yield client, sign_in(typed(TestClient, client), username)


def events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of an SSE stream; comments are skipped."""
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data:") and name:
            yield name, line[5:].strip()
            name = ""


def until_connected(lines: Iterator[str]) -> None:
    for line in lines:
        if line == ": connected":
            return
    raise AssertionError("the stream ended before it connected")


def test_a_change_committed_elsewhere_is_announced_and_hidden_ones_are_not(live: Live) -> None:
    cast = live.cast
    with httpx.Client(base_url=live.url, timeout=TIMEOUT) as api:
        mine = new_incident(typed(TestClient, api), cast.dave)["number"]  # Acme: alice sees it
        hidden = new_incident(typed(TestClient, api), cast.carol)["number"]  # Globex: not hers
        with (
            browser(live, "alice") as (client, _),
            client.stream("GET", "/live", headers=SSE) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            until_connected(lines)
            assert act(typed(TestClient, api), cast.bob, hidden, "start").status_code == 200
            assert act(typed(TestClient, api), cast.bob, mine, "start").status_code == 200
            name, data = next(events(lines))
    assert name == "changed"
    assert data.split() == [mine]  # the Globex incident changed first, and is never named


def test_a_stream_for_one_incident_names_only_it(live: Live) -> None:
    cast = live.cast
    with httpx.Client(base_url=live.url, timeout=TIMEOUT) as api:
        watched = new_incident(typed(TestClient, api), cast.dave)["number"]
        other = new_incident(typed(TestClient, api), cast.dave)["number"]
        with (
            browser(live, "alice") as (client, _),
            client.stream("GET", f"/live?incident={watched}", headers=SSE) as response,
        ):
            lines = response.iter_lines()
            until_connected(lines)
            assert act(typed(TestClient, api), cast.bob, other, "start").status_code == 200
            assert act(typed(TestClient, api), cast.bob, watched, "start").status_code == 200
            assert next(events(lines)) == ("changed", watched)


def test_the_stream_ends_when_the_session_ends(live: Live) -> None:
    with (
        browser(live, "alice") as (client, csrf),
        client.stream("GET", "/live", headers=SSE) as response,
    ):
        lines = response.iter_lines()
        until_connected(lines)
        out = client.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert list(events(lines)) == [("signedout", "")]  # and then the stream ended


def test_visitors_are_sent_to_sign_in_and_streams_are_capped(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=TIMEOUT) as visitor:
        response = visitor.get("/live")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    with browser(live, "alice") as (client, _):
        assert client.get("/live").status_code == 406  # not an EventSource: no endless body
        streams = [client.stream("GET", "/live", headers=SSE) for _ in range(3)]
        opened = [s.__enter__() for s in streams]
        try:
            readers = [response.iter_lines() for response in opened]  # kept: open streams
            for lines in readers:
                until_connected(lines)
            refused = client.get("/live", headers=SSE)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        finally:
            for s in streams:
                s.__exit__(None, None, None)
