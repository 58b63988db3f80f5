"""What incident changes announce: assignment, waiting or stopped work, public replies."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.db import Database
from dutydesk.models import Incident, Notification
from tests.factories import Cast, act, new_incident

API = "/api/v1"


def told(db: Database, number: str) -> list[tuple[str, int | None]]:
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(Notification.event, Notification.recipient_user_id)
            .join(Incident, Incident.id == Notification.incident_id)
            .where(Incident.number == number)
            .order_by(Notification.id)
        ).all()
    return [(event, who) for event, who in rows]


def test_assignment_tells_the_assignee(client: TestClient, cast: Cast, db: Database) -> None:
    number = new_incident(client, cast.dave)["number"]
    assert told(db, number) == []  # logged without a group: nobody to tell yet
    act(client, cast.bob, number, "assign", group_id=cast.desk.id, assignee_id=cast.alice.id)
    assert told(db, number) == [("assigned", cast.alice.id)]


def test_pending_tells_the_caller_and_a_reopen_tells_the_assignee(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(
        client,
        cast.alice,
        caller_id=cast.dave.id,
        assignment_group_id=cast.desk.id,
        assignee_id=cast.alice.id,
        category_id=cast.hardware.id,
    )["number"]
    assert told(db, number) == []  # alice assigned it to herself: never tell the actor
    act(client, cast.alice, number, "pend", target="pending_user", reason="which printer?")
    act(client, cast.alice, number, "resume")  # resuming is not news for the caller
    act(
        client,
        cast.alice,
        number,
        "resolve",
        resolution_code="fixed",
        resolution_notes="done",
        is_workaround=False,
    )
    act(client, cast.dave, number, "reopen", reason="still broken")
    assert told(db, number) == [
        ("state_changed", cast.dave.id),
        ("resolved", cast.dave.id),  # with the confirm/reject links
        ("state_changed", cast.alice.id),
    ]


def test_public_replies_go_to_the_other_side_and_work_notes_to_nobody(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(
        client,
        cast.bob,
        caller_id=cast.dave.id,
        assignment_group_id=cast.desk.id,
        assignee_id=cast.alice.id,
    )["number"]
    url = f"{API}/incidents/{number}/comments"
    assert (
        client.post(
            url, json={"body": "internal", "visibility": "work_note"}, headers=cast.alice.headers
        ).status_code
        == 201
    )
    assert (
        client.post(url, json={"body": "try again?"}, headers=cast.alice.headers).status_code == 201
    )
    assert (
        client.post(url, json={"body": "works now"}, headers=cast.dave.headers).status_code == 201
    )
    assert told(db, number) == [
        ("assigned", cast.alice.id),
        ("public_reply", cast.dave.id),
        ("public_reply", cast.alice.id),
    ]
