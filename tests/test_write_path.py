"""The write path's shortcuts: queued history events, rows pinned for a batch, and the
per-transaction caches (a new incident's clocks and escalations, intake tokens and open
alerts). Each must give the answer the plain path gives, and forget what a rollback or a
bulk statement may have changed.

Runs against a database of its own that really commits (``fresh_db``), on both backends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.escalation import queries as escalation_queries
from dutydesk.escalation import service as escalation
from dutydesk.incidents import history
from dutydesk.incidents.actions import perform_action
from dutydesk.incidents.schemas import ActionRequest, IncidentCreate
from dutydesk.incidents.service import open_incident, open_incidents
from dutydesk.intake import admin as intake_admin
from dutydesk.intake import queries as intake_queries
from dutydesk.intake import service as intake
from dutydesk.kernel import clock
from dutydesk.kernel.errors import InvalidInput
from dutydesk.kernel.group_commit import PINNED, GroupCommit, _Job
from dutydesk.kernel.persistence import transaction_scoped
from dutydesk.models import Alert, Customer, Incident, IncidentEvent, Integration, SlaClock, User
from dutydesk.people.queries import build_actor
from dutydesk.sla import queries as sla_queries
from dutydesk.sla import service as sla
from tests.factories import Cast, make_cast
from tests.intake.helpers import fire, make_integration, resolve


@pytest.fixture
def cast(fresh_db: Database) -> Cast:  # type: ignore[override]
    return make_cast(fresh_db)


def run_batch(db: Database, jobs: list[Callable[[Session], Any]]) -> list[Any]:
    """Run the jobs as one group-commit batch (one transaction, a savepoint each), in this
    thread; return each job's result or exception."""
    gc = GroupCommit(db)
    loop = asyncio.new_event_loop()
    try:
        batch: list[_Job[Any]] = [_Job(job, loop, loop.create_future()) for job in jobs]
        gc._run_batch(batch)
        futures = [job.future for job in batch]
        return loop.run_until_complete(asyncio.gather(*futures, return_exceptions=True))
    finally:
        loop.close()


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL the session's connection runs inside the block (SAVEPOINTs left out)."""
    seen: list[str] = []
    conn = session.connection()

    def note(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if "SAVEPOINT" not in sql.upper():
            seen.append(sql)

    event.listen(conn, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", note)


def _body(cast: Cast, text: str, **fields: Any) -> IncidentCreate:
    values: dict[str, Any] = {"caller_id": cast.dave.user.id, "impact": 2, "urgency": 2}
    return IncidentCreate(short_description=text, **{**values, **fields})


def _logged(session: Session, cast: Cast, text: str, **fields: Any) -> Incident:
    actor = build_actor(session, cast.bob.user)
    incident = open_incident(session, actor, _body(cast, text, **fields), settings=Settings())
    session.flush()
    return incident


def _create(cast: Cast, text: str) -> Callable[[Session], str]:
    def job(session: Session) -> str:
        actor = build_actor(session, cast.bob.user)
        body = _body(cast, text)
        incident = open_incident(session, actor, body, settings=Settings())
        session.flush()
        return incident.number

    return job


# ----------------------------------------------------------------------------- history


def test_events_queued_by_a_failed_job_are_not_written(fresh_db: Database, cast: Cast) -> None:
    def create_then_fail(session: Session) -> None:
        actor = build_actor(session, cast.bob.user)
        body = _body(cast, "doomed")
        open_incident(session, actor, body, settings=Settings())  # events queued, not flushed
        raise InvalidInput("refused after logging")

    results = run_batch(
        fresh_db, [_create(cast, "first"), create_then_fail, _create(cast, "third")]
    )
    assert isinstance(results[1], InvalidInput), results
    assert isinstance(results[0], str) and isinstance(results[2], str), results
    with fresh_db.unit_of_work(write=False) as s:
        counts = dict(
            s.execute(
                select(Incident.short_description, func.count(IncidentEvent.id))
                .join(IncidentEvent, IncidentEvent.incident_id == Incident.id)
                .group_by(Incident.short_description)
            ).all()
        )
        heads = dict(s.execute(select(Incident.short_description, Incident.history_count)).all())
        assert counts == heads  # every recorded event written, and only those
        assert set(counts) == {"first", "third"}
        assert list(history.verify_chains(s)) == []


def test_events_are_written_at_the_flush_with_their_hash(fresh_db: Database, cast: Cast) -> None:
    with fresh_db.unit_of_work() as s:
        actor = build_actor(s, cast.bob.user)
        incident = open_incident(s, actor, _body(cast, "x"), settings=Settings())
        assert s.info.get(history.PENDING)  # queued until the flush
        s.flush()
        assert not s.info.get(history.PENDING)
        rows = s.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
        ).all()
        assert [r.seq for r in rows] == list(range(1, incident.history_count + 1))
        assert rows[-1].hash == incident.history_head
        assert all(history.event_hash(incident.number, r) == r.hash for r in rows)
        assert not s.info.get(history.PENDING)


# ----------------------------------------------------------------------------- pinning


def test_a_batch_loads_a_row_once(fresh_db: Database, cast: Cast) -> None:
    user_id = cast.dave.user.id
    seen: list[list[str]] = []

    def load(session: Session) -> str:
        with statements(session) as sql:
            user = session.get(User, user_id)
            assert user is not None
        seen.append(sql)
        return user.username

    assert run_batch(fresh_db, [load, load, load]) == ["dave"] * 3
    assert [len(s) for s in seen] == [1, 0, 0]  # later jobs find it in the identity map


def test_a_bulk_update_that_skips_the_session_releases_the_pins(
    fresh_db: Database, cast: Cast
) -> None:
    user_id = cast.dave.user.id

    def read(session: Session) -> str:
        user = session.get(User, user_id)
        assert user is not None
        return user.full_name

    def rename(session: Session) -> int:
        session.execute(
            update(User)
            .where(User.id == user_id)
            .values(full_name="Renamed")
            .execution_options(synchronize_session=False)
        )
        return len(session.info[PINNED])

    results = run_batch(fresh_db, [read, rename, read])
    assert results == ["Dave", 0, "Renamed"]


def test_a_core_update_of_another_table_keeps_the_pins(fresh_db: Database, cast: Cast) -> None:
    def pinned(session: Session) -> int:
        session.get(User, cast.dave.user.id)
        return len(session.info[PINNED])

    def create(session: Session) -> int:  # bumps the counter with a Core UPDATE
        _create(cast, "n")(session)
        return len(session.info[PINNED])

    before, after = run_batch(fresh_db, [pinned, create])
    assert before >= 1 and after >= before


# ----------------------------------------------------------------------------- caches


def test_transaction_scoped_keys_die_with_a_rollback_and_at_the_end(fresh_db: Database) -> None:
    key = transaction_scoped("tests.write_path.probe")
    with fresh_db.unit_of_work() as s:
        s.info[key] = "outer"
        with s.begin_nested():
            assert s.info[key] == "outer"
        assert s.info[key] == "outer"  # a released savepoint keeps it
        savepoint = s.begin_nested()
        savepoint.rollback()
        assert key not in s.info  # a rolled-back one may have undone what it described
        s.info[key] = "again"
    assert key not in s.info


def test_a_new_incidents_clocks_need_no_query_and_match_the_stored_ones(
    fresh_db: Database, cast: Cast
) -> None:
    with clock.frozen(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)):
        with fresh_db.unit_of_work() as s:
            incident = _logged(s, cast, "x", impact=1, urgency=1)
            with statements(s) as sql:
                fresh = sla_queries.clock_views(s, incident)
                none = escalation_queries.list_escalations(s, incident)
            assert sql == [] and none == []
            assert sla.created_here(s, incident)
            number = incident.number
        with fresh_db.unit_of_work(write=False) as s:
            stored = s.scalars(select(Incident).where(Incident.number == number)).one()
            assert not sla.created_here(s, stored)
            read = sla_queries.clock_views(s, stored)
    assert len(fresh) == 2 and fresh == read


def test_an_incident_escalated_in_its_own_transaction_lists_the_escalation(
    fresh_db: Database, cast: Cast
) -> None:
    with fresh_db.unit_of_work() as s:
        incident = _logged(s, cast, "x", assignment_group_id=cast.desk.id)
        actor = build_actor(s, cast.bob.user)
        escalation.escalate_hierarchic(s, Settings(), actor, incident, reason="urgent")
        s.flush()
        found = escalation_queries.list_escalations(s, incident)
        assert [e.rule_id for e in found] == ["HL-D"]


def test_rolled_back_clocks_are_not_answered_from_memory(fresh_db: Database, cast: Cast) -> None:
    with fresh_db.unit_of_work() as s:
        incident = _logged(s, cast, "x")
        savepoint = s.begin_nested()
        savepoint.rollback()
        assert not sla.created_here(s, incident)
        assert len(sla.clocks_of(s, incident)) == 2  # read from the database instead


def _stored_clocks(db: Database, number: str) -> list[tuple[str, str | None, bool]]:
    with db.unit_of_work(write=False) as s:
        rows = s.scalars(
            select(SlaClock).join(Incident).where(Incident.number == number).order_by(SlaClock.id)
        ).all()
        return [(r.kind, r.stop_reason, r.stopped_at is not None) for r in rows]


def _opened(session: Session, cast: Cast, text: str) -> Incident:
    """Logged and not flushed yet."""
    actor = build_actor(session, cast.bob.user)
    return open_incident(session, actor, _body(cast, text), settings=Settings())


def _cancel(session: Session, cast: Cast, incident: Incident) -> None:
    actor = build_actor(session, cast.bob.user)
    req = ActionRequest(reason="duplicate")
    perform_action(session, actor, incident, "cancel", req, settings=Settings())


def _as_in_a_batch(s: Session, cast: Cast) -> tuple[Incident, Actor, list[object]]:
    """As in a group-commit batch: the rows it loads held (pinned), its caches warm (an
    incident already logged in the transaction). Returns that incident, the actor and the
    held rows (keep them referenced)."""
    caller = s.get(User, cast.dave.user.id)
    assert caller is not None
    held = [caller, s.get(Customer, caller.customer_id)]
    first = _logged(s, cast, "first of the transaction")
    return first, build_actor(s, cast.bob.user), held


def test_a_group_of_new_incidents_is_written_by_one_insert(fresh_db: Database, cast: Cast) -> None:
    """On SQLite the ids are given before the flush (SQLAlchemy would otherwise insert each
    row alone); PostgreSQL batches generated ids itself. Either way: one INSERT, and the ids
    are the ones the database would have chosen, in order."""
    with fresh_db.unit_of_work() as s:
        first, actor, held = _as_in_a_batch(s, cast)
        requests = [(actor, _body(cast, f"group {n}")) for n in range(5)]
        with statements(s) as sql:
            opened = open_incidents(s, requests, settings=Settings())
        assert sum(q.lstrip().startswith("INSERT INTO incident ") for q in sql) == 1
        assert [i.id for i in opened] == list(range(first.id + 1, first.id + 6))
        numbers = [i.number for i in opened]
        del held
    with fresh_db.unit_of_work() as s:
        stored = s.execute(
            select(Incident.id, Incident.number, Incident.short_description)
            .where(Incident.id > first.id)
            .order_by(Incident.id)
        ).all()
        assert [tuple(r) for r in stored] == [
            (first.id + n + 1, numbers[n], f"group {n}") for n in range(5)
        ]
        assert _logged(s, cast, "after").id == first.id + 6  # the next one follows them


def test_a_group_partly_written_by_an_autoflush_gives_ids_to_the_rest(
    fresh_db: Database, cast: Cast
) -> None:
    with fresh_db.unit_of_work() as s:
        first, actor, held = _as_in_a_batch(s, cast)
        requests = [(actor, _body(cast, f"part {n}")) for n in range(4)]
        with statements(s) as sql:
            opened = open_incidents(
                s, requests, settings=Settings(), each=lambda i, _inc: s.flush() if i == 0 else None
            )
        assert sum(q.lstrip().startswith("INSERT INTO incident ") for q in sql) == 2
        assert [i.id for i in opened] == list(range(first.id + 1, first.id + 5))
        del held


def test_incidents_pending_besides_the_group_keep_generated_ids(
    fresh_db: Database, cast: Cast
) -> None:
    with fresh_db.unit_of_work() as s:
        actor = build_actor(s, cast.bob.user)
        other = open_incident(s, actor, _body(cast, "pending alone"), settings=Settings())
        opened = open_incidents(
            s, [(actor, _body(cast, f"g{n}")) for n in range(3)], settings=Settings()
        )
        ids = [other.id, *(i.id for i in opened)]
        assert None not in ids and len(set(ids)) == 4


def test_started_clocks_are_written_after_the_flush_by_one_insert(
    fresh_db: Database, cast: Cast
) -> None:
    with fresh_db.unit_of_work() as s:
        incident = _opened(s, cast, "x")
        started = [row for _incident, row in s.info[sla.STARTED]]
        assert [r.kind for r in started] == ["response", "resolution"]
        assert all(r not in s for r in started)
        with statements(s) as sql:
            s.flush()
        assert sum("INSERT INTO sla_clock" in q for q in sql) == 1
        assert sla.STARTED not in s.info
        assert sla.clocks_of(s, incident) == started  # still the copies, for reading
        stored = s.scalars(
            select(SlaClock).where(SlaClock.incident_id == incident.id).order_by(SlaClock.id)
        ).all()
        columns = [c.name for c in SlaClock.__table__.columns if c.name != "id"]
        assert [[getattr(r, c) for c in columns] for r in stored] == [
            [getattr(r, c) for c in columns] for r in started
        ]


def test_clocks_changed_before_their_insert_are_written_changed(
    fresh_db: Database, cast: Cast
) -> None:
    with fresh_db.unit_of_work() as s:
        incident = _opened(s, cast, "x")
        with s.no_autoflush:
            _cancel(s, cast, incident)  # the clocks are stopped before any flush
        number = incident.number
    stored = _stored_clocks(fresh_db, number)
    assert stored == [("response", "cancelled", True), ("resolution", "cancelled", True)]


def test_clocks_changed_after_their_insert_are_updated(fresh_db: Database, cast: Cast) -> None:
    with fresh_db.unit_of_work() as s:
        incident = _logged(s, cast, "x")  # flushed: the clocks are written
        _cancel(s, cast, incident)
        s.flush()
        views = sla_queries.clock_views(s, incident)
        assert all(r in s for r in sla.clocks_of(s, incident))  # loaded to be changed
        number = incident.number
    stored = _stored_clocks(fresh_db, number)
    assert stored == [("response", "cancelled", True), ("resolution", "cancelled", True)]
    with fresh_db.unit_of_work(write=False) as s:
        incident = s.scalars(select(Incident).where(Incident.number == number)).one()
        assert sla_queries.clock_views(s, incident) == views


def test_a_later_job_of_the_batch_changes_the_clocks_of_a_new_incident(
    fresh_db: Database, cast: Cast
) -> None:
    def cancel(session: Session) -> None:
        incident = session.scalars(select(Incident).where(Incident.short_description == "x"))
        _cancel(session, cast, incident.one())
        session.flush()

    number, _ = run_batch(fresh_db, [_create(cast, "x"), cancel])
    stored = _stored_clocks(fresh_db, number)
    assert stored == [("response", "cancelled", True), ("resolution", "cancelled", True)]


def test_clocks_started_in_a_rolled_back_job_are_not_written(
    fresh_db: Database, cast: Cast
) -> None:
    def create_then_fail(session: Session) -> None:
        actor = build_actor(session, cast.bob.user)
        open_incident(session, actor, _body(cast, "doomed"), settings=Settings())
        raise InvalidInput("refused after logging")

    results = run_batch(fresh_db, [create_then_fail, _create(cast, "kept")])
    assert isinstance(results[0], InvalidInput)
    with fresh_db.unit_of_work(write=False) as s:
        owners = s.scalars(select(Incident.short_description).join(SlaClock.incident)).all()
        assert owners == ["kept", "kept"]


# ----------------------------------------------------------------------------- intake


def test_a_rotated_token_is_refused_later_in_the_same_transaction(
    fresh_db: Database, cast: Cast
) -> None:
    integration_id, token = make_integration(fresh_db)
    with fresh_db.unit_of_work() as s:
        found = intake_queries.find_integration_by_token(s, token)
        assert found is not None and found.id == integration_id
        with statements(s) as sql:
            assert intake_queries.find_integration_by_token(s, token) is found
        assert sql == []  # the second lookup in a transaction is free
        admin = s.get(User, cast.bob.user.id)
        assert admin is not None
        new = intake_admin.rotate_token(s, build_actor(s, admin), found)
        assert intake_queries.find_integration_by_token(s, token) is None
        assert intake_queries.find_integration_by_token(s, new) is found


def test_open_alerts_remembered_in_a_transaction_follow_resolution(
    fresh_db: Database, cast: Cast
) -> None:
    integration_id, _token = make_integration(fresh_db, flap_changes=1000)
    settings = Settings()
    with fresh_db.unit_of_work() as s:
        integration = s.get(Integration, integration_id)
        assert integration is not None

        def send(*signals: Any) -> list[intake.Ingested]:
            return intake.ingest_many(s, settings, integration, list(signals))

        first = send(fire("k"))[0]
        with statements(s) as sql:
            dup = send(fire("k"))[0]
        assert dup.outcome == "deduplicated" and dup.alert_id == first.alert_id
        assert not any("FROM alert" in q for q in sql)  # the open alert was remembered
        send(resolve("k"))
        again = send(fire("k"))[0]
        assert again.outcome != "deduplicated" and again.alert_id != first.alert_id
        assert send(fire("k"))[0].alert_id == again.alert_id
    with fresh_db.unit_of_work(write=False) as s:
        rows = s.scalars(
            select(Alert).where(Alert.integration_id == integration_id).order_by(Alert.id)
        ).all()
        assert [(r.occurrences, r.open_key) for r in rows] == [(3, None), (2, "k")]


def test_a_new_incident_takes_only_columns() -> None:
    from dutydesk.incidents.changes import new_incident

    with pytest.raises(TypeError, match="not columns of Incident: \\['colour'\\]"):
        new_incident("INC0000001", short_description="x", colour="red")


def test_a_new_incident_is_stored_with_every_value_it_was_given(
    fresh_db: Database, cast: Cast
) -> None:
    """Its values are put in its instance dict, not set through attributes: the INSERT must
    still carry every one of them."""
    with fresh_db.unit_of_work() as s:
        incident = _logged(s, cast, "stored", impact=1, urgency=3, channel="email")
        given = {c: getattr(incident, c) for c in ("number", "impact", "urgency", "priority")}
        given |= {"channel": incident.channel, "opened_at": incident.opened_at}
    with fresh_db.unit_of_work() as s:
        row = s.execute(select(Incident).where(Incident.number == given["number"])).scalar_one()
        assert {k: getattr(row, k) for k in given} == given
        assert (row.escalation_level, row.reopen_count, row.history_count) == (1, 0, 3)
        assert row.opened_by_id == cast.bob.user.id and row.caller_id == cast.dave.user.id
