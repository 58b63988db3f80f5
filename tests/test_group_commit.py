"""Group commit: jobs queued together share one transaction, yet fail and succeed alone.

Runs against a database of its own that really commits (``fresh_db``), on both backends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from dutydesk.access.deps import ACTORS, ApiContext, Runtime
from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel.errors import InvalidInput, Unauthorized
from dutydesk.kernel.group_commit import GroupCommit
from dutydesk.models import Customer
from dutydesk.people import queries as people_queries
from dutydesk.people import service as people
from tests.factories import make_person


def _add_customer(name: str) -> Callable[[Session], str]:
    def job(session: Session) -> str:
        people.create_customer(session, system_actor(), name=name)
        session.flush()
        return name

    return job


def _customers(db: Database) -> set[str]:
    with db.unit_of_work(write=False) as s:
        return set(s.scalars(select(Customer.name)))


async def _gather_held(gc: GroupCommit, jobs: list[Callable[[Session], Any]]) -> list[Any]:
    """Queue every job while the writer is held, so they all land in one batch."""
    gate = threading.Event()

    def hold(_session: Session) -> None:
        gate.wait(timeout=10)

    first = asyncio.ensure_future(gc.run(hold))
    await asyncio.sleep(0.05)  # the writer is inside `hold` now
    rest = [asyncio.ensure_future(gc.run(job)) for job in jobs]
    await asyncio.sleep(0)
    gate.set()
    await first
    return list(await asyncio.gather(*rest, return_exceptions=True))


def test_jobs_queued_together_share_one_commit(fresh_db: Database) -> None:
    gc = GroupCommit(fresh_db)
    results = asyncio.run(_gather_held(gc, [_add_customer(f"C{i}") for i in range(20)]))
    gc.close()
    assert results == [f"C{i}" for i in range(20)]
    assert gc.batches == 2  # the holding job alone, then the twenty together
    assert _customers(fresh_db) == {f"C{i}" for i in range(20)}


def test_a_failing_job_rolls_back_alone(fresh_db: Database) -> None:
    def half_then_fail(session: Session) -> None:
        people.create_customer(session, system_actor(), name="Half")
        session.flush()
        raise InvalidInput("refused after writing")

    gc = GroupCommit(fresh_db)
    jobs = [_add_customer("A"), half_then_fail, _add_customer("B")]
    results = asyncio.run(_gather_held(gc, jobs))
    gc.close()
    assert results[0] == "A" and results[2] == "B"
    assert isinstance(results[1], InvalidInput)
    assert _customers(fresh_db) == {"A", "B"}  # nothing of the failed job was kept


def test_a_later_job_sees_the_earlier_jobs_of_its_batch(fresh_db: Database) -> None:
    def count(session: Session) -> int:
        return int(session.scalar(select(func.count()).select_from(Customer)) or 0)

    gc = GroupCommit(fresh_db)
    results = asyncio.run(_gather_held(gc, [_add_customer("A"), count, _add_customer("B"), count]))
    gc.close()
    assert results == ["A", 1, "B", 2]


def test_a_failed_commit_runs_every_job_again_alone(fresh_db: Database) -> None:
    results, _sessions = _batch_with_commit(fresh_db, "R", lambda _session: _raise)
    assert results == [f"R{i}" for i in range(5)]
    assert _customers(fresh_db) == {f"R{i}" for i in range(5)}  # each once, none twice


def _raise() -> None:
    raise RuntimeError("commit failed")


def _batch_with_commit(
    db: Database, prefix: str, commit: Callable[[Session], Callable[[], None]]
) -> tuple[list[Any], list[Session]]:
    """Five jobs adding customers `prefix`0-4 in one batch behind a held writer, the batch's
    session committing with `commit(session)`; the results and every session opened."""
    gc = GroupCommit(db)
    real = db.write_sessions
    sessions: list[Session] = []

    def factory(**kw: Any) -> Session:
        session = real(**kw)
        if len(sessions) == 1:  # after the holding job: the batch's session
            session.commit = commit(session)  # type: ignore[method-assign]
        sessions.append(session)
        return session

    db.write_sessions = factory  # type: ignore[assignment]
    try:
        results = asyncio.run(_gather_held(gc, [_add_customer(f"{prefix}{i}") for i in range(5)]))
    finally:
        db.write_sessions = real
        gc.close()
    return results, sessions


def test_idle_writers_end_and_come_back(fresh_db: Database) -> None:
    gc = GroupCommit(fresh_db, idle_seconds=0.01)

    async def two_rounds() -> list[str]:
        first = await gc.run(_add_customer("Early"))
        for _ in range(200):  # the writer leaves when idle (bounded poll, no fixed sleep)
            if not gc._threads:
                break
            await asyncio.sleep(0.01)
        assert not gc._threads
        return [first, await gc.run(_add_customer("Late"))]

    assert asyncio.run(two_rounds()) == ["Early", "Late"]
    gc.close()
    assert _customers(fresh_db) == {"Early", "Late"}


def test_disabling_a_user_in_a_batch_locks_out_their_next_job(
    fresh_db: Database, tmp_path: Any
) -> None:
    """The actors cached for a batch are forgotten when a job changes who may do what."""
    with fresh_db.unit_of_work() as s:
        admin = make_person(s, "root", "admin")
        agent = make_person(s, "agent", "agent")
    settings = Settings(database_url="sqlite://", storage_dir=tmp_path)
    runtime = Runtime(settings=settings, db=fresh_db)

    def ctx(token: str) -> ApiContext:
        return ApiContext(runtime=runtime, token=token, request_id="t")

    def whoami(session: Session, actor: Any) -> str:
        assert ACTORS in session.info
        return str(actor.name)

    def disable(session: Session, actor: Any) -> str:
        people.disable_user(session, actor, people_queries.get_user(session, agent.id))
        session.flush()
        return "disabled"

    async def scenario() -> list[Any]:
        gc = runtime.writes()
        gate = threading.Event()
        held = asyncio.ensure_future(gc.run(lambda _s: gate.wait(timeout=10)))
        await asyncio.sleep(0.05)
        jobs = [
            ctx(agent.token).write(whoami),  # authenticates and caches the agent
            ctx(admin.token).write(disable),
            ctx(agent.token).write(whoami),  # must not reuse the cached actor
        ]
        futures = [asyncio.ensure_future(j) for j in jobs]
        await asyncio.sleep(0)
        gate.set()
        await held
        return list(await asyncio.gather(*futures, return_exceptions=True))

    results = asyncio.run(scenario())
    runtime.close()
    assert results[0] == "agent" and results[1] == "disabled"
    assert isinstance(results[2], Unauthorized)


@pytest.mark.parametrize("writers, batch", [(0, 1), (1, 0)])
def test_bad_configuration_is_refused(fresh_db: Database, writers: int, batch: int) -> None:
    with pytest.raises(ValueError, match="at least one writer"):
        GroupCommit(fresh_db, writers=writers, max_batch=batch)


def test_a_database_error_in_a_job_reruns_the_batch_alone(fresh_db: Database) -> None:
    """A deadlock or a lost connection is not the job's fault: it runs again on its own."""
    calls = {"n": 0}

    def flaky(session: Session) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("UPDATE …", {}, Exception("deadlock detected"))
        return _add_customer("Flaky")(session)

    gc = GroupCommit(fresh_db)
    results = asyncio.run(_gather_held(gc, [_add_customer("Steady"), flaky]))
    gc.close()
    assert results == ["Steady", "Flaky"]
    assert _customers(fresh_db) == {"Steady", "Flaky"}  # Steady once, though its batch rolled back


# ----------------------------------------------------------------- merged jobs

CALLS: list[list[str]] = []


def _add_many(session: Session, names: list[str]) -> list[str]:
    """Merged jobs: customers added in one call; a name starting with "!" is refused."""
    CALLS.append(list(names))
    for name in names:
        if name.startswith("!"):
            raise InvalidInput(f"{name} is refused")
        people.create_customer(session, system_actor(), name=name)
    session.flush()
    return [name.upper() for name in names]


async def _gather_merged(gc: GroupCommit, jobs: list[tuple[str, str] | str]) -> list[Any]:
    """Queue merged jobs (key, name) and plain ones (a name) behind a held writer."""
    gate = threading.Event()

    def hold(_session: Session) -> None:
        gate.wait(timeout=10)

    first = asyncio.ensure_future(gc.run(hold))
    await asyncio.sleep(0.05)
    rest = [
        asyncio.ensure_future(gc.run_merged(job[0], job[1], _add_many))
        if isinstance(job, tuple)
        else asyncio.ensure_future(gc.run(_add_customer(job)))
        for job in jobs
    ]
    await asyncio.sleep(0)
    gate.set()
    await first
    return list(await asyncio.gather(*rest, return_exceptions=True))


def test_neighbouring_merged_jobs_run_in_one_call(fresh_db: Database) -> None:
    CALLS.clear()
    gc = GroupCommit(fresh_db)
    jobs: list[tuple[str, str] | str] = [
        ("k", "a"),
        ("k", "b"),
        ("k", "c"),
        "plain",
        ("k", "d"),
        ("other", "e"),
        ("k", "f"),
    ]
    results = asyncio.run(_gather_merged(gc, jobs))
    gc.close()
    assert results == ["A", "B", "C", "plain", "D", "E", "F"]
    # runs of the same key in queue order; a plain job or another key ends a run
    assert CALLS == [["a", "b", "c"], ["d"], ["e"], ["f"]]
    assert _customers(fresh_db) == {"a", "b", "c", "plain", "d", "e", "f"}


def test_a_failing_merged_call_runs_its_jobs_alone(fresh_db: Database) -> None:
    CALLS.clear()
    gc = GroupCommit(fresh_db)
    results = asyncio.run(_gather_merged(gc, [("k", "a"), ("k", "!bad"), ("k", "c")]))
    gc.close()
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], InvalidInput)
    assert CALLS == [["a", "!bad", "c"], ["a"], ["!bad"], ["c"]]
    assert _customers(fresh_db) == {"a", "c"}  # nothing of the failed call was kept twice


def test_a_batch_of_one_merged_run_takes_no_savepoint(fresh_db: Database) -> None:
    """Its call's failure undoes the whole transaction, which holds nothing else: the
    batch is rolled back and its jobs run one by one (previous test), so a savepoint
    around the call would only cost round trips."""
    CALLS.clear()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    gc = GroupCommit(fresh_db)
    event.listen(fresh_db.engine, "before_cursor_execute", seen)
    try:
        results = asyncio.run(_gather_merged(gc, [("k", "a"), ("k", "b"), ("k", "c")]))
    finally:
        event.remove(fresh_db.engine, "before_cursor_execute", seen)
        gc.close()
    assert results == ["A", "B", "C"] and CALLS == [["a", "b", "c"]]
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
    assert _customers(fresh_db) == {"a", "b", "c"}


def test_a_lost_answer_to_commit_is_asked_of_the_server(fresh_db: Database) -> None:
    """The connection drops after the server committed but before it answered. PostgreSQL:
    the server is asked (txid_status) and the jobs get their results, nothing runs twice.
    SQLite commits in-process, where an error means no commit: the batch runs again."""

    def commit_then_lose(session: Session) -> Callable[[], None]:
        commit = session.commit

        def lose() -> None:
            commit()
            raise OperationalError(
                "COMMIT",
                {},
                Exception("server closed the connection unexpectedly"),
                connection_invalidated=True,
            )

        return lose

    results, sessions = _batch_with_commit(fresh_db, "L", commit_then_lose)
    assert _customers(fresh_db) == {f"L{i}" for i in range(5)}
    if fresh_db.engine.dialect.name == "postgresql":
        assert results == [f"L{i}" for i in range(5)]
        assert len(sessions) == 2  # the holding job's and the batch's: nothing ran again
    else:
        assert len(sessions) > 2  # taken for not committed: each job ran again alone


# ----------------------------------------------------------------- writer threads


def test_the_default_writer_count_suits_the_database(
    fresh_db: Database, settings: Settings, db: Database
) -> None:
    """One writer on SQLite (a second would only wait for the file's lock) and for a test's
    bound connection; two on PostgreSQL (one runs while the other waits for the server)."""
    expected = 2 if fresh_db.engine.dialect.name == "postgresql" else 1
    runtime = Runtime(settings.model_copy(update={"write_concurrency": 0}), fresh_db)
    assert runtime.writes().writers == expected
    runtime.close()
    assert db.writers == 1  # bound to the test's transaction: one connection, one writer
    runtime = Runtime(settings.model_copy(update={"write_concurrency": 3}), fresh_db)
    assert runtime.writes().writers == 3
    runtime.close()


def test_a_second_writer_runs_a_batch_while_the_first_is_busy(fresh_db: Database) -> None:
    entered, gate = threading.Event(), threading.Event()

    def hold(_session: Session) -> str:
        entered.set()
        gate.wait(timeout=10)
        return "held"

    async def scenario() -> tuple[str, str]:
        gc = GroupCommit(fresh_db, writers=2)
        try:
            first = asyncio.ensure_future(gc.run(hold))
            await asyncio.to_thread(entered.wait, 10)
            second = await asyncio.wait_for(gc.run(_add_customer("Meanwhile")), 10)
            assert not first.done()  # answered while the first writer still holds its job
            gate.set()
            return await first, second
        finally:
            gate.set()
            gc.close()

    assert asyncio.run(scenario()) == ("held", "Meanwhile")
    assert _customers(fresh_db) == {"Meanwhile"}


def test_a_writer_keeps_its_connection_and_replaces_a_lost_one(fresh_db: Database) -> None:
    """No pool checkout (and on PostgreSQL no ping) per batch: the writer thread keeps its
    connection; once SQLAlchemy has invalidated it (the database went away), the next
    batch opens a new one."""

    def connection_of(session: Session) -> Any:  # the object: held, so never a reused id
        return session.connection().connection.dbapi_connection

    def lose(session: Session) -> Any:
        found = connection_of(session)
        session.connection().invalidate()  # what a lost connection leaves behind
        return found

    async def scenario() -> list[Any]:
        gc = GroupCommit(fresh_db)
        try:
            first = await gc.run(connection_of)
            second = await gc.run(connection_of)
            lost = await asyncio.gather(gc.run(lose), return_exceptions=True)
            after = await gc.run(connection_of)
            added = await gc.run(_add_customer("After"))
            return [first, second, *lost, after, added]
        finally:
            gc.close()

    first, second, lost, after, added = asyncio.run(scenario())
    assert first is second  # the same connection for both batches
    assert after is not first and added == "After"
    assert _customers(fresh_db) == {"After"}
    del lost  # the job on the lost connection failed or not: the database decides
