"""announce(): who is told about what, preferences, the actor, dedupe, endpoints."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select, update

from dutydesk.access.policy import Actor, system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import Incident, Notification, NotifyTemplate, SupportGroup, User
from dutydesk.notify import admin, service
from dutydesk.people import service as people
from tests.factories import Cast
from tests.notify.conftest import SYSTEM, T0, actor_of, make_incident

RESOLVED = {"confirm_url": "https://desk.example/c", "reject_url": "https://desk.example/r"}


def announce(
    db: Database,
    settings: Settings,
    incident: Incident,
    event: str,
    actor: Actor,
    occurrence: str = "1",
    **kwargs: Any,
) -> list[Notification]:
    with clock.frozen(T0), db.unit_of_work() as s:
        return service.announce(
            s,
            settings,
            s.get(Incident, incident.id) or incident,
            event,
            actor=actor,
            occurrence=occurrence,
            **kwargs,
        )


def mailed(rows: list[Notification]) -> list[str]:
    return sorted(r.recipient for r in rows if r.channel == "email")


def test_assigned_goes_to_the_assignee_or_else_to_the_group(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    bob = actor_of(db, cast.bob)
    with db.unit_of_work() as s:
        people.add_member(s, system_actor(), s.get(SupportGroup, cast.desk.id), cast.eve.user)
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    assert mailed(announce(db, notify_settings, incident, "assigned", bob)) == ["alice@example.com"]
    queue = make_incident(db, cast, group=cast.desk)
    rows = announce(db, notify_settings, queue, "assigned", bob)
    assert mailed(rows) == ["alice@example.com", "eve@example.com"]
    # Never the actor who caused it: alice assigning to her own group tells only eve.
    again = announce(db, notify_settings, queue, "assigned", actor_of(db, cast.alice), "2")
    assert mailed(again) == ["eve@example.com"]


def test_public_reply_crosses_from_staff_to_caller_and_back(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    by_staff = announce(
        db,
        notify_settings,
        incident,
        "public_reply",
        actor_of(db, cast.alice),
        extra={"comment": "Please restart Outlook."},
    )
    assert mailed(by_staff) == ["dave@example.com"]
    assert "Please restart Outlook." in by_staff[0].body
    by_caller = announce(
        db,
        notify_settings,
        incident,
        "public_reply",
        actor_of(db, cast.dave),
        "2",
        extra={"comment": "Did that."},
    )
    assert mailed(by_caller) == ["alice@example.com"]


@pytest.mark.parametrize(
    ("event", "extra"),
    [
        ("state_changed", {"old_state": "assigned", "new_state": "in_progress"}),
        ("resolved", RESOLVED),
        ("closed", {"survey_url": "https://desk.example/s"}),
    ],
)
def test_requester_facing_events_go_to_the_caller(
    db: Database, cast: Cast, notify_settings: Settings, event: str, extra: dict[str, Any]
) -> None:
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    rows = announce(db, notify_settings, incident, event, actor_of(db, cast.alice), extra=extra)
    assert mailed(rows) == ["dave@example.com"]
    for value in extra.values():
        if value.startswith("https://"):
            assert value in rows[0].body


def test_sla_events_go_to_the_assignee_the_manager_and_named_users(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    with db.unit_of_work() as s:
        s.execute(
            update(SupportGroup)
            .where(SupportGroup.id == cast.desk.id)
            .values(manager_id=cast.ivy.id)
        )
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    clock_info = {"kind": "resolution", "due": T0, "percent": 75}
    warned = announce(
        db, notify_settings, incident, "sla_warning", SYSTEM, extra={"clock": clock_info}
    )
    assert mailed(warned) == ["alice@example.com", "ivy@example.com"]
    assert "2026-11-23 09:00 UTC" in warned[0].body  # datetimes in extra become ISO text
    breached = announce(
        db,
        notify_settings,
        incident,
        "sla_breached",
        SYSTEM,
        extra={"clock": {**clock_info, "percent": 100}, "notify_user_ids": [cast.bob.id]},
    )
    assert mailed(breached) == ["alice@example.com", "bob@example.com", "ivy@example.com"]
    escalated = announce(
        db, notify_settings, incident, "escalated", actor_of(db, cast.ivy), extra={"level": 2}
    )
    assert mailed(escalated) == ["alice@example.com"]  # ivy escalated it herself


def test_preferences_inactive_users_and_unusable_addresses_are_skipped(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    alice = actor_of(db, cast.alice)
    change = {"old_state": "assigned", "new_state": "in_progress"}
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    with db.unit_of_work() as s:
        service.set_preference(
            s, actor_of(db, cast.dave), cast.dave.id, "state_changed", "email", False
        )
    assert announce(db, notify_settings, incident, "state_changed", alice, extra=change) == []
    assert mailed(
        announce(db, notify_settings, incident, "closed", alice, extra={"survey_url": "x"})
    )
    with db.unit_of_work() as s:  # opting back in
        service.set_preference(
            s, actor_of(db, cast.dave), cast.dave.id, "state_changed", "email", True
        )
    assert mailed(
        announce(db, notify_settings, incident, "state_changed", alice, "2", extra=change)
    )
    for values in (
        {"is_active": False},
        {"email": ""},
        {"email": "dave@example.com\r\nBcc: evil@example.com"},
        {"email": "Dave <evil@example.com>"},
        {"email": "dave@example.com, evil@example.com"},
    ):
        with db.unit_of_work() as s:
            s.execute(update(User).where(User.id == cast.dave.id).values(**values))
        occurrence = f"bad-{len(str(values))}"
        assert (
            announce(
                db, notify_settings, incident, "state_changed", alice, occurrence, extra=change
            )
            == []
        ), values
        with db.unit_of_work() as s:
            s.execute(
                update(User)
                .where(User.id == cast.dave.id)
                .values(is_active=True, email="dave@example.com")
            )


def test_the_same_occurrence_is_announced_once(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    bob = actor_of(db, cast.bob)
    first = announce(db, notify_settings, incident, "assigned", bob, "event-hash-ab12")
    assert len(first) == 1
    assert announce(db, notify_settings, incident, "assigned", bob, "event-hash-ab12") == []
    long_key = "x" * 500 + " with spaces"  # any text: long or odd ones are hashed
    assert len(announce(db, notify_settings, incident, "assigned", bob, long_key)) == 1
    assert announce(db, notify_settings, incident, "assigned", bob, long_key) == []
    assert len(announce(db, notify_settings, incident, "assigned", bob, "event-hash-cd34")) == 1
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 3


def test_a_concurrent_twin_is_skipped_not_raised(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    """Rows another transaction inserted after our check fail on the unique key, in a
    savepoint each: the others are still written and the caller's transaction lives on."""
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    [first] = announce(db, notify_settings, incident, "assigned", actor_of(db, cast.bob))

    def twin(key: str) -> Notification:
        return Notification(
            **{c: getattr(first, c) for c in ("incident_id", "event", "channel", "recipient")},
            dedupe_key=key,
            subject="s",
            body="b",
            message_id="<m@x>",
            state="pending",
            attempts=0,
            next_attempt_at=T0,
            created_at=T0,
        )

    with db.unit_of_work() as s:
        rows = [twin("k1"), twin("k1"), twin("k2")]  # the second k1 stands for the race
        assert [r.dedupe_key for r in service._insert_new(s, rows)] == ["k1", "k2"]
        assert s.scalar(select(func.count()).select_from(Notification)) == 3


def test_endpoints_get_the_events_they_subscribe_to(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    bob = actor_of(db, cast.bob)
    with db.unit_of_work() as s:
        every, _ = admin.create_endpoint(s, bob, name="all", url="https://hooks.example/all")
        only, _ = admin.create_endpoint(
            s, bob, name="res", url="https://hooks.example/res", kind="slack", events=["resolved"]
        )
        off, _ = admin.create_endpoint(s, bob, name="off", url="https://hooks.example/off")
        admin.deactivate_endpoint(s, bob, off)
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    change = {"old_state": "assigned", "new_state": "in_progress"}
    rows = announce(db, notify_settings, incident, "state_changed", bob, extra=change)
    assert sorted((r.channel, r.endpoint_id) for r in rows) == [
        ("email", None),
        ("webhook", every.id),
    ]
    rows = announce(db, notify_settings, incident, "resolved", bob, extra=RESOLVED)
    assert sorted((r.channel, r.endpoint_id or 0) for r in rows) == [
        ("email", 0),
        ("slack", only.id),
        ("webhook", every.id),
    ]
    hook = next(r for r in rows if r.channel == "webhook")
    payload = json.loads(hook.body)
    assert set(payload) == {"event", "incident", "extra", "occurred_at"}
    assert payload["incident"]["number"] == incident.number
    assert payload["incident"]["assignee"] == "Alice"
    assert payload["incident"]["url"] == f"https://desk.example/incidents/{incident.number}"
    assert payload["extra"] == {}  # the requester's signed links stay in their e-mail
    email = next(r for r in rows if r.channel == "email")
    assert RESOLVED["confirm_url"] in email.body
    # The actor gets no mail, but endpoints are told whoever acted.
    rows = announce(
        db, notify_settings, incident, "closed", actor_of(db, cast.dave), extra={"survey_url": "s"}
    )
    assert [r.channel for r in rows] == ["webhook"]


def test_rows_are_tagged_threaded_and_due_now(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    incident = make_incident(db, cast, group=cast.desk)
    with db.unit_of_work() as s:
        people.add_member(s, system_actor(), s.get(SupportGroup, cast.desk.id), cast.eve.user)
    rows = announce(db, notify_settings, incident, "assigned", actor_of(db, cast.bob))
    assert len(rows) == 2
    number = incident.number
    for row in rows:
        assert row.subject.startswith(f"[{number}] ")
        assert row.in_reply_to == f"<{number}@dutydesk.example>"
        assert re.fullmatch(rf"<[0-9a-f]{{20}}\.{number}@dutydesk\.example>", row.message_id)
        assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 0, T0)
    assert rows[0].message_id != rows[1].message_id


def test_explicit_recipients_replace_the_audience_but_not_the_rules(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    with db.unit_of_work() as s:
        s.execute(update(User).where(User.id == cast.erin.id).values(is_active=False))
    rows = announce(
        db,
        notify_settings,
        incident,
        "assigned",
        actor_of(db, cast.bob),
        recipients=[cast.ivy.id, cast.bob.id, cast.erin.id, cast.ivy.id],
    )
    assert mailed(rows) == ["ivy@example.com"]


def test_overrides_win_and_a_failing_override_falls_back(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    bob = actor_of(db, cast.bob)
    with db.unit_of_work() as s:
        admin.put_template(
            s,
            notify_settings,
            bob,
            "assigned",
            "email",
            subject="Yours: {{ incident.short_description }}",
            body="Hi {{ incident.assignee }}, {{ actor }} gave you {{ incident.number }}.",
        )
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    [row] = announce(db, notify_settings, incident, "assigned", bob)
    assert row.subject == f"[{incident.number}] Yours: Mail is down"
    assert row.body == f"Hi Alice, bob gave you {incident.number}."
    with db.unit_of_work() as s:  # saved behind the API's back: fails on real data
        s.execute(update(NotifyTemplate).values(body="{{ extra.missing }}"))
    [row] = announce(db, notify_settings, incident, "assigned", bob, "2")
    assert row.subject.startswith(f"[{incident.number}] Assigned to Alice")


def test_a_caller_that_forgets_required_extra_is_told(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    incident = make_incident(db, cast)
    with pytest.raises(ValueError, match="confirm_url, reject_url"):
        announce(db, notify_settings, incident, "resolved", SYSTEM)
    with pytest.raises(ValueError, match="unknown notification event"):
        announce(db, notify_settings, incident, "exploded", SYSTEM)
    with pytest.raises(ValueError, match="does not fit"):
        announce(db, notify_settings, incident, "sla_warning", SYSTEM, extra={"clock": "soon"})
