"""Service requests: the flag (by an agent or a rule), conversion with the history carried
over and the requester told, the request's own lifecycle, and who sees what."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.db import Database
from dutydesk.incidents.history import verify_chains
from dutydesk.models import IncidentEvent, Notification
from dutydesk.routing.request_lifecycle import TRANSITIONS, RequestStatus, allowed_actions
from tests.factories import Cast, new_incident
from tests.routing.common import API, events, make_rule, problem


def _post(client: TestClient, who: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"{API}{path}", json=body or {}, headers={**who.headers, "If-Match": "*"})


def _convert(client: TestClient, who: Any, number: str, reason: str | None = None) -> Any:
    return _post(
        client,
        who,
        f"/incidents/{number}/convert-to-request",
        {"reason": reason} if reason else None,
    )


def test_an_agent_flags_and_unflags_an_incident(client: TestClient, cast: Cast) -> None:
    made = new_incident(client, cast.dave, short_description="Need a new monitor")
    assert made["is_service_request"] is False
    path = f"{API}/incidents/{made['number']}/request-flag"
    body = {"is_service_request": True, "reason": "hardware order"}
    problem(client.put(path, json=body, headers=cast.alice.headers), 428)  # If-Match required
    problem(client.put(path, json=body, headers={**cast.dave.headers, "If-Match": "*"}), 403)
    r = client.put(
        path, json=body, headers={**cast.alice.headers, "If-Match": f'"{made["version"]}"'}
    )
    assert r.status_code == 200, r.text
    assert r.json()["is_service_request"] is True
    read = client.get(f"{API}/incidents/{made['number']}", headers=cast.dave.headers).json()
    assert read["is_service_request"] is True
    flag = [
        e for e in events(client, cast.bob, made["number"]) if e["field"] == "is_service_request"
    ]
    assert flag[0]["rule_id"] == "REQ-FLG" and flag[0]["reason"] == "hardware order"
    r = client.put(
        path, json={"is_service_request": False}, headers={**cast.alice.headers, "If-Match": "*"}
    )
    assert r.json()["is_service_request"] is False


def test_conversion_carries_the_history_and_tells_the_requester(
    client: TestClient, cast: Cast, db: Database
) -> None:
    rule = make_rule(
        client,
        cast.bob,
        name="Access requests",
        conditions=[{"field": "short_description", "op": "regex", "value": "(?i)access to"}],
        actions=[{"type": "mark_request"}, {"type": "assign_group", "value": cast.desk.id}],
    )
    made = new_incident(client, cast.dave, short_description="Access to the sales share")
    assert made["is_service_request"] is True  # detected by the rule
    problem(_convert(client, cast.dave, made["number"]), 403)  # the agent's action
    r = _convert(client, cast.alice, made["number"], "access is a standard request")
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["number"] == "REQ0000001" and req["incident_number"] == made["number"]
    assert r.headers["location"] == f"/api/v1/requests/{req['number']}"
    assert req["state"] == "new" and req["caller_id"] == cast.dave.id
    assert req["assignment_group_id"] == cast.desk.id and req["allowed_actions"] == [
        "approve",
        "cancel",
    ]
    incident = client.get(f"{API}/incidents/{made['number']}", headers=cast.dave.headers).json()
    assert incident["state"] == "cancelled" and req["number"] in incident["cancel_reason"]
    linked = client.get(f"{API}/incidents/{made['number']}/request", headers=cast.dave.headers)
    assert linked.json()["number"] == req["number"]
    original = events(client, cast.bob, made["number"])
    converted = [e for e in original if e["kind"] == "converted_to_request"]
    assert converted[0]["new"] == req["number"] and converted[0]["rule_id"] == "REQ-CNV"
    carried = client.get(f"{API}/requests/{req['number']}/events", headers=cast.dave.headers).json()
    copies = [e for e in carried if e["source_number"] == made["number"]]
    assert [(e["source_seq"], e["source_hash"], e["kind"]) for e in copies] == [
        (e["seq"], e["hash"], e["kind"]) for e in original
    ]
    assert rule["rule_id"] in {e["rule_id"] for e in copies}  # why it was flagged came along
    assert carried[-1]["kind"] == "created_from_incident" and carried[-1]["new"] == made["number"]
    with db.unit_of_work(write=False) as s:
        told = s.scalars(
            select(Notification).where(Notification.event == "converted_to_request")
        ).all()
        assert [n.recipient for n in told] == ["dave@example.com"]
        assert req["number"] in told[0].subject and "access is a standard request" in told[0].body
        assert list(verify_chains(s)) == []
        assert s.scalar(select(IncidentEvent).where(IncidentEvent.kind == "converted_to_request"))
    problem(_convert(client, cast.alice, made["number"]), 409)  # cancelled now


def test_the_request_lifecycle(client: TestClient, cast: Cast) -> None:
    made = new_incident(client, cast.dave, short_description="New laptop")
    number = _convert(client, cast.alice, made["number"]).json()["number"]
    path = f"/requests/{number}/actions"
    conflict = problem(_post(client, cast.alice, f"{path}/fulfil"), 409)
    assert conflict["allowed_actions"] == ["approve", "cancel"]
    problem(_post(client, cast.dave, f"{path}/approve"), 409)  # not the requester's
    problem(_post(client, cast.alice, f"{path}/teleport"), 404)
    stale = client.post(
        f"{API}{path}/approve", json={}, headers={**cast.alice.headers, "If-Match": '"99"'}
    )
    problem(stale, 412)
    for action, state in (
        ("approve", "approved"),
        ("start", "fulfilling"),
        ("fulfil", "fulfilled"),
    ):
        r = _post(client, cast.alice, f"{path}/{action}", {"reason": f"{action} it"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == state
    assert r.json()["fulfilled_at"] is not None
    closed = _post(client, cast.dave, f"{path}/close")  # the requester closes a fulfilled one
    assert closed.json()["state"] == "closed" and closed.json()["allowed_actions"] == []
    carried = client.get(f"{API}/requests/{number}/events", headers=cast.dave.headers).json()
    moves = [
        (e["old"], e["new"], e["rule_id"])
        for e in carried
        if e["kind"] == "state_changed" and e["source_number"] is None
    ]
    assert moves == [
        ("new", "approved", "REQ-APR-1"),
        ("approved", "fulfilling", "REQ-FUL-1"),
        ("fulfilling", "fulfilled", "REQ-FUL-2"),
        ("fulfilled", "closed", "REQ-CLS-1"),
    ]


def test_who_sees_requests(client: TestClient, cast: Cast) -> None:
    made = new_incident(client, cast.dave, short_description="New phone")
    number = _convert(client, cast.ivy, made["number"]).json()["number"]
    assert [
        r["number"]
        for r in client.get(f"{API}/requests", headers=cast.dave.headers).json()["items"]
    ] == [number]
    assert client.get(f"{API}/requests", headers=cast.carol.headers).json()["items"] == []
    problem(client.get(f"{API}/requests/{number}", headers=cast.carol.headers), 404)
    problem(client.get(f"{API}/requests/{number}/events", headers=cast.erin.headers), 404)
    problem(_post(client, cast.carol, f"/requests/{number}/actions/cancel"), 404)
    assert client.get(f"{API}/requests/{number}", headers=cast.alice.headers).status_code == 200
    assert client.get(f"{API}/requests/{number}", headers=cast.eve.headers).status_code == 404
    cancelled = _post(client, cast.dave, f"/requests/{number}/actions/cancel")  # withdraw
    assert cancelled.json()["state"] == "cancelled"
    listed = client.get(f"{API}/requests?state=cancelled&limit=1", headers=cast.bob.headers).json()
    assert [r["number"] for r in listed["items"]] == [number] and listed["next_cursor"] is None
    problem(client.get(f"{API}/requests?state=lost", headers=cast.bob.headers), 422)


def test_the_transition_table() -> None:
    assert len({(t.source, t.action) for t in TRANSITIONS}) == len(TRANSITIONS)
    assert len({t.rule_id for t in TRANSITIONS}) == len(TRANSITIONS)
    reachable = {RequestStatus.new} | {t.target for t in TRANSITIONS}
    assert reachable == set(RequestStatus)
    assert allowed_actions(RequestStatus.closed, "admin") == []
    assert allowed_actions(RequestStatus.new, "requester") == ["cancel"]
