"""User confirmation, reopen within and after the window, cancel, closed records."""

from __future__ import annotations

from datetime import timedelta

from dutydesk.kernel import clock
from tests.factories import act, new_incident


def resolved_incident(client, cast) -> str:  # type: ignore[no-untyped-def]
    n = new_incident(client, cast.dave, category_id=cast.hardware.id)["number"]
    act(client, cast.alice, n, "assign", group_id=cast.desk.id)
    r = act(
        client,
        cast.alice,
        n,
        "resolve",
        resolution_code="fixed",
        resolution_notes="done",
        is_workaround=False,
    )
    assert r.json()["state"] == "resolved"
    return n


def test_reject_within_window_reopens_the_same_incident(client, cast) -> None:
    with clock.frozen(clock.now()) as advance:
        n = resolved_incident(client, cast)
        advance(timedelta(days=6))
        r = act(client, cast.dave, n, "reopen")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
        r = act(client, cast.dave, n, "reopen", reason="still cannot send")
    body = r.json()
    assert r.status_code == 200 and body["number"] == n
    assert body["state"] == "in_progress" and body["reopen_count"] == 1
    assert body["resolution_code"] is None and body["resolved_at"] is None
    events = client.get(f"/api/v1/incidents/{n}/events", headers=cast.alice.headers).json()
    assert events[-1]["field"] in ("is_workaround", "resolution_code", "resolution_notes") or any(
        e["rule_id"] == "ROP-1" for e in events
    )


def test_reject_after_window_opens_a_linked_follow_up(client, cast) -> None:
    with clock.frozen(clock.now()) as advance:
        n = resolved_incident(client, cast)
        advance(timedelta(days=8))
        r = act(client, cast.dave, n, "reopen", reason="it broke again")
    assert r.status_code == 201
    follow = r.json()
    assert follow["number"] != n and r.headers["location"].endswith(follow["number"])
    assert follow["caller_id"] == cast.dave.id and follow["state"] == "assigned"
    links = client.get(
        f"/api/v1/incidents/{follow['number']}/links", headers=cast.dave.headers
    ).json()
    assert links[0]["number"] == n and links[0]["kind"] == "follow_up_of"
    old = client.get(f"/api/v1/incidents/{n}", headers=cast.dave.headers).json()
    assert old["state"] == "resolved" and old["reopen_count"] == 0


def test_reopen_of_a_closed_incident_opens_a_follow_up(client, cast) -> None:
    n = resolved_incident(client, cast)
    assert act(client, cast.alice, n, "close").json()["state"] == "closed"
    r = act(client, cast.dave, n, "reopen", reason="back again")
    assert r.status_code == 201 and r.json()["number"] != n


def test_only_the_caller_confirms(client, cast) -> None:
    client.patch(
        f"/api/v1/admin/customers/{cast.acme.id}",
        json={"share_incidents": True},
        headers=cast.bob.headers,
    )
    n = resolved_incident(client, cast)
    assert client.get(f"/api/v1/incidents/{n}", headers=cast.erin.headers).status_code == 200
    assert act(client, cast.erin, n, "confirm").status_code == 403
    assert act(client, cast.dave, n, "confirm").json()["state"] == "closed"


def test_requesters_cannot_work_incidents(client, cast) -> None:
    n = new_incident(client, cast.dave, category_id=cast.hardware.id)["number"]
    r = act(
        client,
        cast.dave,
        n,
        "resolve",
        resolution_code="x",
        resolution_notes="y",
        is_workaround=False,
    )
    assert r.status_code == 409 and r.json()["allowed_actions"] == []
    etag = client.get(f"/api/v1/incidents/{n}", headers=cast.dave.headers).headers["etag"]
    r = client.patch(
        f"/api/v1/incidents/{n}",
        json={"urgency": 1},
        headers={**cast.dave.headers, "If-Match": etag},
    )
    assert r.status_code == 403


def test_cancel_needs_a_reason_and_freezes_the_record(client, cast) -> None:
    n = new_incident(client, cast.dave, category_id=cast.hardware.id)["number"]
    assert act(client, cast.alice, n, "cancel").status_code == 422
    r = act(client, cast.alice, n, "cancel", reason="duplicate of a phone call")
    assert (
        r.json()["state"] == "cancelled"
        and r.json()["cancel_reason"] == "duplicate of a phone call"
    )
    etag = r.headers["etag"]
    assert (
        client.patch(
            f"/api/v1/incidents/{n}",
            json={"urgency": 1},
            headers={**cast.alice.headers, "If-Match": etag},
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/incidents/{n}/comments", json={"body": "late"}, headers=cast.alice.headers
        ).status_code
        == 409
    )


def test_assignee_must_be_in_the_group(client, cast) -> None:
    n = new_incident(client, cast.dave, category_id=cast.hardware.id)["number"]
    r = act(client, cast.alice, n, "assign", group_id=cast.apps.id, assignee_id=cast.alice.id)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "assignee_id"
    r = act(client, cast.alice, n, "assign", group_id=cast.apps.id, assignee_id=cast.dave.id)
    assert r.status_code == 404


def test_reassignment_is_counted(client, cast) -> None:
    n = new_incident(client, cast.dave, category_id=cast.hardware.id)["number"]
    assert (
        act(client, cast.alice, n, "assign", group_id=cast.desk.id).json()["reassignment_count"]
        == 0
    )
    assert (
        act(client, cast.alice, n, "assign", group_id=cast.apps.id).json()["reassignment_count"]
        == 1
    )
    body = act(client, cast.eve, n, "start").json()
    assert body["assignee_id"] == cast.eve.id and body["acknowledged_at"] is not None


def test_a_comment_can_accompany_the_closing_action(client, cast) -> None:
    n = resolved_incident(client, cast)
    r = act(client, cast.alice, n, "close", comment="closed after call with the user")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    notes = client.get(f"/api/v1/incidents/{n}/comments", headers=cast.alice.headers).json()
    assert notes[-1]["body"] == "closed after call with the user"
