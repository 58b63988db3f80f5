"""Incidents through the REST API: logging, reading, amending, actions, errors."""

from __future__ import annotations

from tests.factories import act, new_incident


def test_log_an_incident_and_read_it_back(client, cast) -> None:
    inc = new_incident(
        client, cast.alice, caller_id=cast.dave.id, impact=1, urgency=2, channel="phone"
    )
    assert inc["number"].startswith("INC") and inc["state"] == "new" and inc["priority"] == 2
    assert inc["customer_id"] == cast.acme.id  # taken from the caller
    got = client.get(f"/api/v1/incidents/{inc['number']}", headers=cast.alice.headers)
    assert got.status_code == 200 and got.headers["etag"] == f'"{inc["version"]}"'
    assert "assign" in got.json()["allowed_actions"]


def test_the_create_answer_is_the_incident_as_read(client, cast) -> None:
    """The create's body is written as JSON in the writer thread; it must be what a read
    of the new incident gives (the SLA clocks' running figures aside), with its headers."""
    r = client.post(
        "/api/v1/incidents",
        json={"short_description": "Printer <b>jammed</b> — ünïcode", "caller_id": cast.dave.id}
        | {"impact": 2, "urgency": 3},
        headers=cast.alice.headers,
    )
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    created = r.json()
    assert r.headers["etag"] == f'"{created["version"]}"'
    assert r.headers["location"] == f"/api/v1/incidents/{created['number']}"
    assert "ünïcode".encode() in r.content  # UTF-8, not \u escapes, as JSONResponse writes
    got = client.get(r.headers["location"], headers=cast.alice.headers).json()
    running = {"elapsed_seconds", "remaining_seconds", "percent", "state"}
    for body in (created, got):
        body["sla"] = [{k: v for k, v in c.items() if k not in running} for c in body["sla"]]
    assert created == got and len(created["sla"]) == 2


def test_numbers_are_sequential(client, cast) -> None:
    a = new_incident(client, cast.dave)
    b = new_incident(client, cast.dave)
    assert int(b["number"][3:]) == int(a["number"][3:]) + 1


def test_checklist_lists_every_missing_field(client, cast) -> None:
    r = client.post(
        "/api/v1/incidents", json={"short_description": "x"}, headers=cast.alice.headers
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["caller", "impact", "urgency"]


def test_checklist_is_configurable(client, cast) -> None:
    r = client.put(
        "/api/v1/admin/logging-checklist",
        json={"required": ["service", "category"]},
        headers=cast.bob.headers,
    )
    assert r.status_code == 200 and r.json()["required"] == [
        "short_description",
        "service",
        "category",
    ]
    r = client.post(
        "/api/v1/incidents", json={"short_description": "x"}, headers=cast.alice.headers
    )
    assert [e["field"] for e in r.json()["errors"]] == ["service", "category"]
    bad = client.put(
        "/api/v1/admin/logging-checklist", json={"required": ["colour"]}, headers=cast.bob.headers
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "colour"


def test_unknown_and_read_only_fields_are_refused(client, cast) -> None:
    for field, value in (
        ("number", "INC9"),
        ("state", "closed"),
        ("opened_at", "2020-01-01T00:00:00Z"),
        ("history", []),
        ("colour", "red"),
    ):
        r = client.post(
            "/api/v1/incidents",
            json={"short_description": "x", "impact": 1, "urgency": 1, field: value},
            headers=cast.dave.headers,
        )
        assert r.status_code == 422, field
        assert r.json()["errors"][0]["field"] == field


def test_bad_input_gets_clear_4xx(client, cast) -> None:
    h = {**cast.dave.headers, "content-type": "application/json"}
    assert client.post("/api/v1/incidents", content=b"{nope", headers=h).status_code == 400
    assert (
        client.post(
            "/api/v1/incidents",
            json={"short_description": 5, "impact": "high"},
            headers=cast.dave.headers,
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/incidents", json={"short_description": "a\x00b"}, headers=cast.dave.headers
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/incidents", json={"short_description": "x" * 201}, headers=cast.dave.headers
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/incidents",
            json={"short_description": "x", "impact": 4, "urgency": 1},
            headers=cast.dave.headers,
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/incidents",
            json={"short_description": "x", "channel": "pigeon"},
            headers=cast.dave.headers,
        ).status_code
        == 422
    )
    huge = b'{"short_description": "' + b"x" * 2_000_000 + b'"}'
    assert client.post("/api/v1/incidents", content=huge, headers=h).status_code == 413
    assert client.get("/api/v1/incidents?state=bogus", headers=cast.dave.headers).status_code == 422
    assert client.get("/api/v1/incidents?cursor=%%%", headers=cast.dave.headers).status_code == 422
    assert (
        client.get("/api/v1/incidents?sort=password", headers=cast.dave.headers).status_code == 422
    )


def test_html_and_sql_are_stored_verbatim(client, cast) -> None:
    text = "<script>alert(1)</script>'; DROP TABLE incident; --"
    inc = new_incident(client, cast.dave, short_description=text)
    assert (
        client.get(f"/api/v1/incidents/{inc['number']}", headers=cast.dave.headers).json()[
            "short_description"
        ]
        == text
    )


def test_unauthenticated_and_revoked(client, cast) -> None:
    assert client.get("/api/v1/incidents").status_code == 401
    assert (
        client.get("/api/v1/incidents", headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_read_only_token_cannot_write(client, cast, db) -> None:
    from tests.factories import make_person

    with db.unit_of_work() as s:
        reader = make_person(s, "reader", "agent", scope="read")
    r = client.post(
        "/api/v1/incidents",
        json={"short_description": "x", "impact": 1, "urgency": 1, "caller_id": cast.dave.id},
        headers=reader.headers,
    )
    assert r.status_code == 403


def test_priority_recomputed_and_logged_with_reason(client, cast) -> None:
    inc = new_incident(client, cast.alice, caller_id=cast.dave.id, impact=3, urgency=3)
    n = inc["number"]
    r = client.patch(
        f"/api/v1/incidents/{n}",
        json={"impact": 1, "reason": "whole floor affected"},
        headers={**cast.alice.headers, "If-Match": f'"{inc["version"]}"'},
    )
    assert r.status_code == 200 and r.json()["priority"] == 3
    events = client.get(f"/api/v1/incidents/{n}/events", headers=cast.alice.headers).json()
    change = [e for e in events if e["kind"] == "priority_changed"][-1]
    assert (change["old"], change["new"], change["reason"], change["rule_id"]) == (
        5,
        3,
        "whole floor affected",
        "PRI-2",
    )


def test_if_match_required_and_checked(client, cast) -> None:
    inc = new_incident(client, cast.alice, caller_id=cast.dave.id)
    url = f"/api/v1/incidents/{inc['number']}"
    assert client.patch(url, json={"urgency": 1}, headers=cast.alice.headers).status_code == 428
    assert (
        client.patch(
            url, json={"urgency": 1}, headers={**cast.alice.headers, "If-Match": '"999"'}
        ).status_code
        == 412
    )
    ok = client.patch(
        url, json={"urgency": 1}, headers={**cast.alice.headers, "If-Match": f'"{inc["version"]}"'}
    )
    assert ok.status_code == 200
    stale = client.patch(
        url, json={"urgency": 3}, headers={**cast.alice.headers, "If-Match": f'"{inc["version"]}"'}
    )
    assert stale.status_code == 412 and stale.headers["etag"] == ok.headers["etag"]


def test_full_lifecycle_through_actions(client, cast) -> None:
    n = new_incident(client, cast.dave, category_id=cast.hardware.id)["number"]
    a = cast.alice
    assert (
        act(client, a, n, "assign", group_id=cast.desk.id, assignee_id=cast.alice.id).json()[
            "state"
        ]
        == "assigned"
    )
    assert act(client, a, n, "start").json()["state"] == "in_progress"
    r = act(client, a, n, "pend", target="pending_user")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    assert (
        act(client, a, n, "pend", target="pending_user", reason="waiting for logs").json()["state"]
        == "pending_user"
    )
    assert act(client, a, n, "resume").json()["state"] == "in_progress"
    r = act(client, a, n, "resolve")
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {
        "resolution_code",
        "resolution_notes",
        "is_workaround",
    }
    r = act(
        client,
        a,
        n,
        "resolve",
        resolution_code="fixed",
        resolution_notes="restarted the MTA",
        is_workaround=True,
    )
    assert r.json()["state"] == "resolved" and r.json()["is_workaround"] is True
    assert act(client, cast.dave, n, "confirm").json()["state"] == "closed"
    r = act(client, a, n, "close")
    assert r.status_code == 409 and r.json()["allowed_actions"] == ["reopen"]
    kinds = [
        e["rule_id"]
        for e in client.get(f"/api/v1/incidents/{n}/events", headers=a.headers).json()
        if e["kind"] == "state_changed"
    ]
    assert kinds[0] == "ASG-1" and kinds[-1] == "CNF-1"


def test_escalation_goes_up_tiers_and_counts_reassignment(client, cast) -> None:
    n = new_incident(client, cast.alice, caller_id=cast.dave.id, assignment_group_id=cast.desk.id)[
        "number"
    ]
    r = act(client, cast.alice, n, "escalate", group_id=cast.desk.id)
    assert r.status_code == 422
    r = act(client, cast.alice, n, "escalate", group_id=cast.infra.id, reason="needs storage team")
    body = r.json()
    assert (
        body["escalation_level"] == 3
        and body["reassignment_count"] == 1
        and body["assignment_group_id"] == cast.infra.id
    )


def test_unknown_action_is_404(client, cast) -> None:
    n = new_incident(client, cast.dave)["number"]
    assert act(client, cast.alice, n, "explode").status_code == 404


def test_comments_work_notes_hidden_from_requesters(client, cast) -> None:
    n = new_incident(client, cast.dave)["number"]
    assert (
        client.post(
            f"/api/v1/incidents/{n}/comments",
            json={"body": "internal", "visibility": "work_note"},
            headers=cast.alice.headers,
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/api/v1/incidents/{n}/comments", json={"body": "hello"}, headers=cast.dave.headers
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/api/v1/incidents/{n}/comments",
            json={"body": "sneaky", "visibility": "work_note"},
            headers=cast.dave.headers,
        ).status_code
        == 403
    )
    seen = [
        c["body"]
        for c in client.get(f"/api/v1/incidents/{n}/comments", headers=cast.dave.headers).json()
    ]
    assert seen == ["hello"]
    kinds = [
        e["kind"]
        for e in client.get(f"/api/v1/incidents/{n}/events", headers=cast.dave.headers).json()
    ]
    assert "work_note" not in kinds and "public_reply" in kinds


def test_links_both_ways(client, cast) -> None:
    a = new_incident(client, cast.dave)["number"]
    b = new_incident(client, cast.dave)["number"]
    r = client.post(
        f"/api/v1/incidents/{a}/links",
        json={"number": b, "kind": "related"},
        headers=cast.alice.headers,
    )
    assert r.status_code == 201
    assert (
        client.post(
            f"/api/v1/incidents/{a}/links",
            json={"number": b, "kind": "related"},
            headers=cast.alice.headers,
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/incidents/{a}/links", json={"number": a}, headers=cast.alice.headers
        ).status_code
        == 422
    )
    incoming = client.get(f"/api/v1/incidents/{b}/links", headers=cast.alice.headers).json()
    assert incoming == [
        {
            "number": a,
            "kind": "related",
            "direction": "incoming",
            "short_description": "Cannot send e-mail",
            "state": "new",
        }
    ]


def test_listing_filters_sorting_and_cursor(client, cast) -> None:
    made = [
        new_incident(client, cast.alice, caller_id=cast.dave.id, impact=i % 3 + 1, urgency=1)[
            "number"
        ]
        for i in range(7)
    ]
    seen: list[str] = []
    url = "/api/v1/incidents?state=open&sort=priority,opened_at&limit=3&count=true"
    cursor = None
    while True:
        r = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=cast.alice.headers)
        body = r.json()
        assert body["total"] == 7
        seen += [i["number"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7
    priorities = [
        client.get(f"/api/v1/incidents/{n}", headers=cast.alice.headers).json()["priority"]
        for n in seen
    ]
    assert priorities == sorted(priorities)
    r = client.get("/api/v1/incidents?priority=1", headers=cast.alice.headers).json()
    assert "total" not in r and all(i["priority"] == 1 for i in r["items"])


def test_priority_matrix_admin(client, cast) -> None:
    five = [[1, 1, 2, 3, 4], [1, 2, 3, 4, 4], [2, 3, 3, 4, 5], [3, 4, 4, 5, 5], [4, 4, 5, 5, 5]]
    assert (
        client.put(
            "/api/v1/admin/priority-matrix", json={"cells": five}, headers=cast.alice.headers
        ).status_code
        == 403
    )
    r = client.put("/api/v1/admin/priority-matrix", json={"cells": five}, headers=cast.bob.headers)
    assert r.status_code == 200 and r.json()["levels"] == 5
    inc = new_incident(client, cast.dave, impact=5, urgency=4)
    assert inc["priority"] == 5
    assert (
        client.put(
            "/api/v1/admin/priority-matrix", json={"cells": [[1, 2], [3]]}, headers=cast.bob.headers
        ).status_code
        == 422
    )


def test_idempotency_key_replays_and_expires(client, cast) -> None:
    from datetime import timedelta

    from dutydesk.kernel import clock

    body = {"short_description": "Printer on fire", "impact": 1, "urgency": 1}
    h = {**cast.dave.headers, "Idempotency-Key": "k-1"}
    with clock.frozen(clock.now()) as advance:
        first = client.post("/api/v1/incidents", json=body, headers=h)
        again = client.post("/api/v1/incidents", json=body, headers=h)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        other = client.post("/api/v1/incidents", json={**body, "urgency": 2}, headers=h)
        assert other.status_code == 422
        assert (
            client.post(
                "/api/v1/incidents", json=body, headers={**h, "Idempotency-Key": "x" * 256}
            ).status_code
            == 422
        )
        advance(timedelta(hours=25))
        later = client.post("/api/v1/incidents", json=body, headers=h)
        assert later.status_code == 201 and later.json()["number"] != first.json()["number"]


def test_an_incident_reads_the_same_from_its_loaded_row_and_through_its_attributes(
    client, cast, db
) -> None:
    """`present` reads a fully loaded row from its instance dict and a row with expired
    columns through the ORM (which loads them): both give the API's view of it, and the
    list shows each incident as its own page does."""
    from sqlalchemy import select, update

    from dutydesk.access.policy import system_actor
    from dutydesk.incidents.api import present
    from dutydesk.models import Incident

    inc = new_incident(client, cast.alice, caller_id=cast.dave.id, channel="phone")
    with db.unit_of_work() as s:
        row = s.scalar(select(Incident).where(Incident.number == inc["number"]))
        loaded = present(row, system_actor())
        s.execute(  # behind the ORM's back, then expired: only a load can see it
            update(Incident).where(Incident.id == row.id).values(short_description="changed")
        )
        s.expire(row, ["short_description"])
        assert "short_description" not in row.__dict__
        expired = present(row, system_actor())
        s.rollback()
    assert loaded["short_description"] == "Cannot send e-mail"
    assert expired["short_description"] == "changed"
    assert {k: v for k, v in expired.items() if k != "short_description"} == {
        k: v for k, v in loaded.items() if k != "short_description"
    }
    listed = client.get("/api/v1/incidents", headers=cast.alice.headers).json()["items"]
    one = client.get(f"/api/v1/incidents/{inc['number']}", headers=cast.alice.headers).json()
    (mine,) = [i for i in listed if i["number"] == inc["number"]]
    assert mine == {**one, "sla": None, "escalations": None}
