"""The receivers over HTTP: auth, bad input, overload and outage answers; the alert list;
the admin routes for integrations and maintenance windows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake import service
from dutydesk.models import Alert, Incident
from tests.intake.helpers import make_integration, payload

EVENTS = "/api/v1/events"
PD = "/v2/enqueue"


def am(token: str) -> str:
    return f"/integrations/alertmanager/{token}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored(db: Database) -> tuple[int, int]:
    with db.unit_of_work(write=False) as s:
        return (
            int(s.scalar(select(func.count()).select_from(Alert)) or 0),
            int(s.scalar(select(func.count()).select_from(Incident)) or 0),
        )


@pytest.fixture
def token(db: Database, cast: Any) -> str:
    return make_integration(db)[1]


def test_generic_single_and_batch(client: TestClient, token: str, db: Database) -> None:
    r = client.post(EVENTS, json=payload("generic_event.json"), headers=bearer(token))
    assert r.status_code == 202, r.text
    assert r.json()["outcome"] == "created" and r.json()["incident"].startswith("INC")
    batch = [
        {"dedup_key": "web01/http_5xx", "summary": "again"},
        {"dedup_key": "b", "summary": "other", "service": "Payments"},
        {"dedup_key": "web01/http_5xx", "status": "resolved"},
    ]
    r = client.post(EVENTS, json=batch, headers=bearer(token))
    assert r.status_code == 202, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["deduplicated", "correlated", "resolved"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"summary": "no key"}, "dedup_key"),
        ({"dedup_key": "k"}, "summary"),
        ({"dedup_key": "k" * 256, "summary": "x"}, "dedup_key"),
        ({"dedup_key": "k", "summary": "x", "severity": "loud"}, "severity"),
        ({"dedup_key": "k", "summary": "x", "occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),
        ({"dedup_key": "k", "summary": "x", "colour": "red"}, "colour"),
        ([{"dedup_key": "k", "summary": "x"}, {"dedup_key": "k", "status": "maybe"}], "1.status"),
        ([], "body"),
    ],
)
def test_bad_events_name_the_field_and_write_nothing(
    client: TestClient, token: str, db: Database, body: Any, field: str
) -> None:
    before = stored(db)
    r = client.post(EVENTS, json=body, headers=bearer(token))
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert stored(db) == before


def test_malformed_json_is_400(client: TestClient, token: str) -> None:
    r = client.post(EVENTS, content=b"{nope", headers=bearer(token))
    assert r.status_code == 400


def test_tokens(client: TestClient, db: Database, cast: Any) -> None:
    iid, token = make_integration(db)
    body = {"dedup_key": "k", "summary": "x"}
    assert client.post(EVENTS, json=body).status_code == 401
    assert client.post(EVENTS, json=body, headers=bearer("ddi_wrong")).status_code == 401
    # A user's API token is not an integration token.
    assert client.post(EVENTS, json=body, headers=cast.bob.headers).status_code == 401
    assert client.post(am("ddi_wrong"), json=payload("alertmanager_firing.json")).status_code == 401
    pd = {**payload("pagerduty_trigger.json"), "routing_key": "ddi_wrong"}
    r = client.post(PD, json=pd)
    assert r.status_code == 401 and r.json()["status"] == "invalid routing key"
    revoked = client.delete(f"/api/v1/admin/integrations/{iid}/token", headers=cast.bob.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.post(EVENTS, json=body, headers=bearer(token)).status_code == 403
    assert client.post(am(token), json=payload("alertmanager_firing.json")).status_code == 403
    assert client.post(PD, json={**pd, "routing_key": token}).status_code == 403
    assert stored(db) == (0, 0)
    rotated = client.post(f"/api/v1/admin/integrations/{iid}/token", headers=cast.bob.headers)
    assert rotated.status_code == 201
    fresh = rotated.json()["token"]
    assert client.post(EVENTS, json=body, headers=bearer(fresh)).status_code == 202
    assert client.post(EVENTS, json=body, headers=bearer(token)).status_code == 401
    off = client.patch(
        f"/api/v1/admin/integrations/{iid}", json={"active": False}, headers=cast.bob.headers
    )
    assert off.status_code == 200
    assert client.post(EVENTS, json=body, headers=bearer(fresh)).status_code == 403


def test_alertmanager_receiver(client: TestClient, token: str, db: Database) -> None:
    r = client.post(am(token), json=payload("alertmanager_firing.json"))
    assert r.status_code == 202, r.text
    outcomes = [x["outcome"] for x in r.json()["results"]]
    assert outcomes == ["created", "correlated"]  # same service, one incident
    r = client.post(am(token), json=payload("alertmanager_resolved.json"))
    assert [x["outcome"] for x in r.json()["results"]] == ["resolved", "resolved"]
    number = r.json()["results"][0]["incident"]
    inc = client.app.state.runtime.db  # type: ignore[attr-defined]
    with inc.unit_of_work(write=False) as s:
        assert s.scalar(select(Incident.state).where(Incident.number == number)) == "resolved"
    bad = payload("alertmanager_firing.json")
    bad["alerts"][0]["status"] = "exploded"
    r = client.post(am(token), json=bad)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "alerts.0.status"


def test_pagerduty_enqueue(client: TestClient, token: str) -> None:
    body = {**payload("pagerduty_trigger.json"), "routing_key": token}
    r = client.post(PD, json=body)
    assert r.status_code == 202, r.text
    assert r.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "samplekeyhere",
    }
    resolve = {**payload("pagerduty_resolve.json"), "routing_key": token}
    assert client.post(PD, json=resolve).status_code == 202
    bad = {**body, "dedup_key": "k" * 256}
    r = client.post(PD, json=bad)
    assert r.status_code == 400 and r.json()["status"] == "invalid event"
    assert any("dedup_key" in e for e in r.json()["errors"])
    big = {**body, "payload": {**body["payload"], "custom_details": {"x": "y" * 600_000}}}
    assert client.post(PD, json=big).status_code == 413
    assert client.post(PD, content=b"not json").status_code == 400


def test_overload_answers_429_with_retry_after(
    client: TestClient, token: str, settings: Settings, db: Database
) -> None:
    settings.intake_max_pending = 0
    r = client.post(EVENTS, json={"dedup_key": "k", "summary": "x"}, headers=bearer(token))
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    body = {**payload("pagerduty_trigger.json"), "routing_key": token}
    r = client.post(PD, json=body)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert stored(db) == (0, 0)


def test_database_down_answers_503_never_500(
    client: TestClient, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(service, "ingest_many", down)
    r = client.post(EVENTS, json={"dedup_key": "k", "summary": "x"}, headers=bearer(token))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    r = client.post(am(token), json=payload("alertmanager_firing.json"))
    assert r.status_code == 503
    r = client.post(PD, json={**payload("pagerduty_trigger.json"), "routing_key": token})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"


def test_alert_list_filters_and_pages(client: TestClient, token: str, cast: Any) -> None:
    events = [
        {"dedup_key": f"k{n}", "summary": f"s{n}", "service": "E-mail" if n % 2 else "Web"}
        for n in range(5)
    ]
    assert client.post(EVENTS, json=events, headers=bearer(token)).status_code == 202
    client.post(EVENTS, json={"dedup_key": "k0", "status": "resolved"}, headers=bearer(token))
    staff = cast.alice.headers
    r = client.get("/api/v1/alerts?count=true&limit=2", headers=staff)
    assert r.status_code == 200 and r.json()["total"] == 5 and len(r.json()["items"]) == 2
    page2 = client.get(f"/api/v1/alerts?limit=2&cursor={r.json()['next_cursor']}", headers=staff)
    seen = [a["dedup_key"] for a in r.json()["items"] + page2.json()["items"]]
    assert seen == ["k4", "k3", "k2", "k1"]
    r = client.get("/api/v1/alerts?service=E-mail&status=triggered&count=true", headers=staff)
    assert r.json()["total"] == 2
    r = client.get("/api/v1/alerts?integration=prometheus&status=resolved", headers=staff)
    assert [a["dedup_key"] for a in r.json()["items"]] == ["k0"]
    assert client.get("/api/v1/alerts?status=bogus", headers=staff).status_code == 422
    assert client.get("/api/v1/alerts", headers=cast.dave.headers).status_code == 403


def test_admin_integrations_and_windows(client: TestClient, cast: Any) -> None:
    bob = cast.bob.headers
    r = client.post(
        "/api/v1/admin/integrations",
        json={"name": "PD", "kind": "pagerduty", "severity_map": {"warning": [1, 2]}},
        headers=bob,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["token"].startswith("ddi_") and created["token_hint"] == created["token"][:8]
    assert (
        client.post("/api/v1/admin/integrations", json={"name": "PD"}, headers=bob).status_code
        == 409
    )
    bad = client.post(
        "/api/v1/admin/integrations", json={"name": "X", "kind": "nagios"}, headers=bob
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "kind"
    listed = client.get("/api/v1/admin/integrations", headers=bob).json()
    assert [i["name"] for i in listed] == ["PD"] and "token" not in listed[0]
    assert client.get("/api/v1/admin/integrations", headers=cast.alice.headers).status_code == 403
    window = {
        "name": "Patch night",
        "starts_at": "2026-11-23T22:00:00Z",
        "ends_at": "2026-11-24T02:00:00Z",
        "service_id": cast.email_service.id,
    }
    r = client.post("/api/v1/admin/maintenance-windows", json=window, headers=bob)
    assert r.status_code == 201, r.text
    assert r.json()["release_at"] == window["ends_at"]  # when the worker releases its alerts
    wid = r.json()["id"]
    backwards = {**window, "ends_at": "2026-11-23T21:00:00Z"}
    r = client.post("/api/v1/admin/maintenance-windows", json=backwards, headers=bob)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ends_at"
    r = client.post(
        "/api/v1/admin/maintenance-windows", json={**window, "service_id": 9999}, headers=bob
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "service_id"
    r = client.patch(
        f"/api/v1/admin/maintenance-windows/{wid}",
        json={"ends_at": "2026-11-23T21:00:00Z"},
        headers=bob,
    )
    assert r.status_code == 422
    assert client.delete(f"/api/v1/admin/maintenance-windows/{wid}", headers=bob).status_code == 204
    assert client.get("/api/v1/admin/maintenance-windows", headers=bob).json() == []
    assert json.dumps(created)  # the created body is plain JSON
