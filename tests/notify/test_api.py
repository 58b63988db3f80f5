"""The notification API: endpoints, templates, the outbox and preferences, with bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import Incident
from dutydesk.notify import service
from tests.factories import Cast
from tests.notify.conftest import SYSTEM, T0, make_incident

API = "/api/v1"
ENDPOINTS = f"{API}/admin/notify/endpoints"
TEMPLATES = f"{API}/admin/notify/templates"
OUTBOX = f"{API}/admin/notify/outbox"
PREFS = f"{API}/me/notify/preferences"


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


def test_endpoints_are_created_listed_and_changed(client: TestClient, cast: Cast) -> None:
    bob = cast.bob.headers
    made = client.post(
        ENDPOINTS,
        json={"name": "pager", "url": "https://hooks.example/in", "events": ["sla_breached"]},
        headers=bob,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["kind"] == "webhook" and body["events"] == ["sla_breached"] and body["active"]
    assert len(body["secret"]) >= 40 and body["has_secret"]  # generated, shown this once
    listed = client.get(ENDPOINTS, headers=bob).json()
    assert [e["name"] for e in listed] == ["pager"] and "secret" not in listed[0]
    own = client.post(
        ENDPOINTS,
        json={"name": "chat", "kind": "slack", "url": "http://chat.example/x", "secret": "k" * 16},
        headers=bob,
    )
    assert own.status_code == 201 and own.json()["secret"] == "k" * 16
    patched = client.patch(
        f"{ENDPOINTS}/{body['id']}",
        json={"url": "https://hooks.example/v2", "events": [], "active": False},
        headers=bob,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["url"] == "https://hooks.example/v2"
    assert patched.json()["events"] == [] and patched.json()["active"] is False
    assert problem(client.patch(f"{ENDPOINTS}/9999", json={}, headers=bob), 404)
    dup = client.post(ENDPOINTS, json={"name": "pager", "url": "https://a.example"}, headers=bob)
    assert problem(dup, 409)["detail"] == "an endpoint named 'pager' already exists"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example/hook",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "gopher://x.example",
        "http://",
        "https://exa mple.com/",
        "https://example.com/\r\nX-Evil: 1",
        "https://example.com:99999/",
        "hooks.example/no-scheme",
    ],
)
def test_endpoint_urls_must_be_http_or_https(client: TestClient, cast: Cast, url: str) -> None:
    r = client.post(ENDPOINTS, json={"name": "bad", "url": url}, headers=cast.bob.headers)
    assert problem(r, 422)["errors"][0]["field"] == "url"


def test_endpoint_input_is_checked(client: TestClient, cast: Cast) -> None:
    bob = cast.bob.headers
    for body, field in (
        ({"name": "x", "url": "https://a.example", "events": ["exploded"]}, "events.0"),
        ({"name": "x", "url": "https://a.example", "kind": "pager"}, "kind"),
        ({"name": "x", "url": "https://a.example", "secret": "short"}, "secret"),
        ({"name": "x", "url": "https://a.example", "active": False}, "active"),
        ({"name": " ", "url": "https://a.example"}, "name"),
    ):
        errors = problem(client.post(ENDPOINTS, json=body, headers=bob), 422)["errors"]
        assert errors[0]["field"] == field, errors
    made = client.post(ENDPOINTS, json={"name": "x", "url": "https://a.example"}, headers=bob)
    r = client.patch(f"{ENDPOINTS}/{made.json()['id']}", json={"url": "ftp://a"}, headers=bob)
    assert problem(r, 422)["errors"] == [
        {"field": "url", "msg": "the scheme must be http or https, not 'ftp'"}
    ]
    for who in (cast.alice, cast.ivy, cast.dave):
        assert problem(client.get(ENDPOINTS, headers=who.headers), 403)
        r = client.post(
            ENDPOINTS, json={"name": "y", "url": "https://a.example"}, headers=who.headers
        )
        assert problem(r, 403)


def test_templates_are_listed_overridden_previewed_and_reset(
    client: TestClient, cast: Cast
) -> None:
    bob = cast.bob.headers
    listed = client.get(TEMPLATES, headers=bob).json()
    assert len(listed) == 9 * 3 + 1 and not any(t["overridden"] for t in listed)
    assert [t["channel"] for t in listed if t["event"] == "weekly_report"] == ["email"]
    report = client.post(f"{TEMPLATES}/weekly_report/email/preview", json={}, headers=bob)
    assert report.status_code == 200 and not report.json()["subject"].startswith("[INC")
    assert {t["channel"] for t in listed} == {"email", "slack", "teams"}
    own = {"subject": "Yours: {{ incident.number }}", "body": "{{ actor }} → {{ incident.url }}"}
    r = client.put(f"{TEMPLATES}/assigned/email", json=own, headers=bob)
    assert r.status_code == 200, r.text
    assert r.json()["overridden"] and r.json()["subject"] == own["subject"]
    preview = client.post(f"{TEMPLATES}/assigned/email/preview", json={}, headers=bob)
    assert preview.status_code == 200, preview.text
    assert preview.json()["subject"] == "[INC0000123] Yours: INC0000123"
    assert preview.json()["body"] == "Alice Agent → http://127.0.0.1:8000/incidents/INC0000123"
    draft = client.post(
        f"{TEMPLATES}/resolved/slack/preview",
        json={"body": "{{ extra.comment }} <{{ incident.caller }}>"},
        headers=bob,
    ).json()
    assert draft["subject"] == "INC0000123 resolved by Alice Agent"
    assert draft["body"].startswith("Restarted the mail relay")
    # the requester's signed links are for their e-mail only, never a shared channel
    leak = client.post(
        f"{TEMPLATES}/resolved/slack/preview",
        json={"body": "{{ extra.confirm_url }}"},
        headers=bob,
    )
    assert leak.status_code == 422, leak.text
    hook = client.post(f"{TEMPLATES}/closed/webhook/preview", json={}, headers=bob).json()
    assert '"survey_url"' not in hook["body"] and '"notification_id"' in hook["body"]
    reset = client.delete(f"{TEMPLATES}/assigned/email", headers=bob)
    assert reset.status_code == 200 and not reset.json()["overridden"]
    assert reset.json()["subject"].startswith("Assigned to")
    assert client.delete(f"{TEMPLATES}/assigned/email", headers=bob).status_code == 200


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ("Hello\n{% if %}", "line 2: does not compile"),
        ("Hello\n\n{{ incident.nope }}", "line 3: fails: 'dict object' has no attribute 'nope'"),
        ("{{ customer }}", "line 1: fails: 'customer' is undefined"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "line 1: is not allowed"),
        ("{{ extra.clear() }}", "line 1: is not allowed"),
        ("{{ 'x' * 1000000000 }}", "line 1: is not allowed"),
        ("{{ extra.comment }}", "line 1: fails: 'dict object' has no attribute 'comment'"),
    ],
)
def test_a_broken_template_is_refused_with_its_line(
    client: TestClient, cast: Cast, body: str, msg: str
) -> None:
    r = client.put(
        f"{TEMPLATES}/assigned/email",
        json={"subject": "ok", "body": body},
        headers=cast.bob.headers,
    )
    found = problem(r, 422)
    assert found["errors"][0]["field"] == "body"
    assert found["errors"][0]["msg"].startswith(msg), found
    assert "extra always holds nothing and may hold comment" in found["detail"]
    preview = client.post(
        f"{TEMPLATES}/assigned/email/preview", json={"body": body}, headers=cast.bob.headers
    )
    if "comment" not in body:  # the preview renders with every optional key present
        assert problem(preview, 422)["errors"][0]["msg"].startswith(msg)
    assert not any(t["overridden"] for t in client.get(TEMPLATES, headers=cast.bob.headers).json())


def test_template_names_are_checked(client: TestClient, cast: Cast) -> None:
    bob = cast.bob.headers
    body = {"subject": "s", "body": "b"}
    assert problem(client.put(f"{TEMPLATES}/exploded/email", json=body, headers=bob), 422)[
        "errors"
    ] == [{"field": "event", "msg": "unknown event"}]
    assert problem(client.put(f"{TEMPLATES}/assigned/pigeon", json=body, headers=bob), 422)
    hook = problem(client.put(f"{TEMPLATES}/assigned/webhook", json=body, headers=bob), 422)
    assert "no template" in hook["detail"]
    assert problem(
        client.put(f"{TEMPLATES}/assigned/email", json={"subject": "s"}, headers=bob), 422
    )
    assert problem(client.delete(f"{TEMPLATES}/assigned/webhook", headers=bob), 422)
    for who in (cast.alice, cast.dave):
        assert problem(
            client.put(f"{TEMPLATES}/assigned/email", json=body, headers=who.headers), 403
        )
        assert problem(client.get(TEMPLATES, headers=who.headers), 403)


def _fill_outbox(db: Database, cast: Cast, settings: Settings) -> list[str]:
    numbers = []
    for _ in range(3):
        incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
        numbers.append(incident.number)
        with clock.frozen(T0), db.unit_of_work() as s:
            service.announce(
                s,
                settings,
                s.get(Incident, incident.id) or incident,
                "state_changed",
                actor=SYSTEM,
                occurrence="1",
                extra={"old_state": "a", "new_state": "b"},
                recipients=[cast.dave.id, cast.ivy.id],
            )
    return numbers


def test_the_outbox_pages_filters_and_shows_one(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    numbers = _fill_outbox(db, cast, settings)
    bob = cast.bob.headers
    seen: list[int] = []
    url = f"{OUTBOX}?limit=4"
    while url:
        page = client.get(url, headers=bob).json()
        seen += [n["id"] for n in page["items"]]
        url = f"{OUTBOX}?limit=4&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)
    one = client.get(f"{OUTBOX}?incident={numbers[1]}", headers=bob).json()["items"]
    assert {n["incident_number"] for n in one} == {numbers[1]} and len(one) == 2
    assert client.get(f"{OUTBOX}?state=sent", headers=bob).json()["items"] == []
    shown = client.get(f"{OUTBOX}/{seen[0]}", headers=bob)
    assert shown.status_code == 200 and shown.json()["incident_number"] == numbers[2]
    assert shown.json()["state"] == "pending" and shown.json()["channel"] == "email"
    assert problem(client.get(f"{OUTBOX}/99999", headers=bob), 404)
    assert problem(client.post(f"{OUTBOX}/{seen[0]}/retry", headers=bob), 409)
    assert problem(client.post(f"{OUTBOX}/99999/retry", headers=bob), 404)
    assert problem(client.get(f"{OUTBOX}?state=lost", headers=bob), 422)
    assert problem(client.get(f"{OUTBOX}?cursor=bogus", headers=bob), 422)
    assert problem(client.get(f"{OUTBOX}?limit=0", headers=bob), 422)
    for who in (cast.ivy, cast.alice, cast.dave):
        assert problem(client.get(OUTBOX, headers=who.headers), 403)
        assert problem(client.get(f"{OUTBOX}/{seen[0]}", headers=who.headers), 403)
        assert problem(client.post(f"{OUTBOX}/{seen[0]}/retry", headers=who.headers), 403)


def test_users_set_their_own_preferences(client: TestClient, cast: Cast) -> None:
    dave = cast.dave.headers
    defaults = client.get(PREFS, headers=dave).json()
    assert len(defaults) == 9  # the incident events, "mentioned" included
    assert all(p["enabled"] and p["is_default"] and p["channel"] == "email" for p in defaults)
    r = client.put(
        PREFS,
        json=[
            {"event": "state_changed", "channel": "email", "enabled": False},
            {"event": "closed", "channel": "email", "enabled": True},
        ],
        headers=dave,
    )
    assert r.status_code == 200, r.text
    chosen = {p["event"]: (p["enabled"], p["is_default"]) for p in r.json()}
    assert chosen["state_changed"] == (False, False) and chosen["closed"] == (True, False)
    assert chosen["assigned"] == (True, True)
    assert client.get(PREFS, headers=cast.carol.headers).json() == defaults  # per user
    for body in (
        [{"event": "exploded", "channel": "email", "enabled": False}],
        [{"event": "closed", "channel": "webhook", "enabled": False}],
        [{"event": "closed", "channel": "email", "enabled": False, "user_id": cast.carol.id}],
        {"event": "closed", "channel": "email", "enabled": False},
    ):
        assert problem(client.put(PREFS, json=body, headers=dave), 422)
    assert client.get(PREFS).status_code == 401
