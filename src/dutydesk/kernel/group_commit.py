"""Group commit: concurrent write jobs share one transaction and one commit.

Each process has a few writer threads (one for SQLite, where there is only one writer
anyway). A request hands its write job (a function of a session) to :meth:`GroupCommit.run`
and awaits the result. A writer thread takes the first job waiting, then every job that
queued up behind it (up to ``max_batch``), and runs them one after another in one
transaction, each inside its own savepoint, and commits once. So under load the cost of a
commit (an fsync on SQLite, a WAL flush and a round trip on PostgreSQL) and of opening a
session is paid once per batch instead of once per request, and an idle server still
answers a lone request at once: nothing ever waits to fill a batch.

Isolation between jobs of a batch:

* a job that raises has its savepoint rolled back and its exception goes back to its
  caller; the other jobs of the batch are not affected;
* if the commit itself fails (a lost connection, a serialization failure, a deadlock with
  another process), no job of the batch has been answered yet: each job runs again alone,
  in its own transaction, and gets that outcome. Jobs are closures over their request and
  must not have side effects outside the session (files are written before, or after the
  job by the caller), so running one twice is safe;
* results are only handed back after the commit, so a caller never sees data that was
  later rolled back.

A job sees the writes of the jobs before it in its batch, as it would if they had
committed just before it started: the batch is equivalent to running the jobs serially.

Merged jobs (:meth:`GroupCommit.run_merged`): a job may carry a key and an item, with a
function that runs many items at once. Jobs with the same key that follow one another in a
batch run as one call of that function on their items, in one savepoint, when it is cheaper
to do them together than one by one (a monitoring event per request: one read of the open
alerts and one write of the counts for them all). The function must do for a list of items
what running them one after another would do, and answer per item. If it raises, its
savepoint is rolled back and each of those jobs runs on its own as usual, so a bad item
gets its own error and the others their results.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session

from dutydesk.db import Database

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741  # an item of merged jobs
_STOP = object()
# session.info key: every row loaded in a batch's session, held until the batch ends. The
# identity map is weak, so without this each job would load the same caller, group,
# integration or policy again; with it the second job finds them in the identity map. A
# job rolled back to its savepoint expires what it changed, so nothing stale is served. A
# bulk UPDATE/DELETE that may bypass the identity map lets go of them all: from then on the
# batch behaves as it would without pinning.
PINNED = "dutydesk.group_commit.pinned"


@event.listens_for(Session, "loaded_as_persistent")
def _pin_loaded(session: Session, instance: object) -> None:
    pinned: list[object] | None = session.info.get(PINNED)
    if pinned is not None:
        pinned.append(instance)


@event.listens_for(Session, "do_orm_execute")
def _unpin_on_bulk_write(state: ORMExecuteState) -> None:
    """An UPDATE/DELETE statement that may leave loaded rows stale lets go of the pins: a
    Core statement on the table of a pinned row, or an ORM one that does not synchronize
    the session. (ORM statements that synchronize keep the loaded rows current.)"""
    pinned: list[object] | None = state.session.info.get(PINNED)
    if not pinned or not (state.is_update or state.is_delete):
        return
    if state.is_orm_statement and state.execution_options.get("synchronize_session") is not False:
        return
    name = getattr(getattr(state.statement, "table", None), "name", None)  # ORM: annotated
    if any(getattr(getattr(type(row), "__table__", None), "name", None) == name for row in pinned):
        pinned.clear()


@dataclass(frozen=True)
class _Merge:
    key: Hashable
    item: Any
    many: Callable[[Session, list[Any]], list[Any]]


@dataclass
class _Job(Generic[T]):
    fn: Callable[[Session], T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    outcome: tuple[bool, Any] = field(default=(False, None))
    merge: _Merge | None = None  # how it may run together with its neighbours


def _deliver(batch: list[_Job[Any]]) -> None:
    """Answer jobs with one wake-up of each waiting event loop (not one per job: each
    `call_soon_threadsafe` writes to the loop's wake-up pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for job in batch:
        by_loop.setdefault(job.loop, []).append((job.future, *job.outcome))
    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody waits
            loop.call_soon_threadsafe(_settle_all, answers)


def _settle_all(answers: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in answers:
        _settle(future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the request was cancelled (client went away)
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class GroupCommit:
    """Writer threads that batch the write jobs queued at the same time into one commit."""

    def __init__(
        self, db: Database, *, writers: int = 1, max_batch: int = 64, idle_seconds: float = 30.0
    ) -> None:
        if writers < 1 or max_batch < 1:
            raise ValueError("group commit needs at least one writer and a batch of one")
        self.db = db
        self.writers = writers
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds  # an idle writer thread ends; the next job starts one
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._held = threading.local()  # each writer thread's connection (`_session`)
        self.batches = 0  # statistics, read by tests and benchmarks
        self.jobs = 0

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a write transaction; return its result once committed."""
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(fn, loop, loop.create_future())
        self._queue.put(job)
        self._start()  # after the put: see _idle_exit
        return await job.future

    async def run_merged(
        self, key: Hashable, item: I, many: Callable[[Session, list[I]], list[T]]
    ) -> T:
        """Like :meth:`run` for ``many(session, [item])[0]``; next to queued jobs of the same
        key, the items run in one call of ``many`` (see the module's docstring)."""
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(
            lambda session: _one_result(many(session, [item])),
            loop,
            loop.create_future(),
            merge=_Merge(key, item, many),
        )
        self._queue.put(job)
        self._start()
        return await job.future

    def _start(self) -> None:
        with self._lock:  # always under the lock: pairs with the check in _idle_exit
            while len(self._threads) < self.writers:
                thread = threading.Thread(
                    target=self._serve, name=f"dutydesk-writer-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def close(self) -> None:
        """Let the writers finish the jobs already queued, then stop them."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._queue.put(_STOP)
        for thread in threads:
            thread.join(timeout=30)

    def _idle_exit(self) -> bool:
        """Leave the pool when nothing is queued; a job put before this check keeps us."""
        with self._lock:
            if not self._queue.empty():
                return False
            me = threading.current_thread()
            if me in self._threads:
                self._threads.remove(me)
            return True

    def _serve(self) -> None:
        try:
            self._serve_batches()
        finally:
            held: Connection | None = getattr(self._held, "connection", None)
            self._held.connection = None
            if held is not None:
                with contextlib.suppress(Exception):  # the database may be gone: no matter
                    held.close()

    def _session(self) -> Session:
        """A write session on this writer thread's own connection, kept from one batch to
        the next: checking one out of the pool for every batch cost a pool round and, on
        PostgreSQL, a ping (`pool_pre_ping`), a round trip per batch. A connection the
        database lost is invalidated by SQLAlchemy; the next batch opens a new one (and
        a job that failed on it runs again, as `_transient` says). A test's bound
        database keeps its one connection."""
        if self.db.bound:
            return self.db.write_sessions()
        held: Connection | None = getattr(self._held, "connection", None)
        if held is None or held.invalidated or held.closed:
            if held is not None:
                with contextlib.suppress(Exception):
                    held.close()
            held = self._held.connection = self.db.write_engine.connect()
        return self.db.write_sessions(bind=held)

    def _serve_batches(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                if self._idle_exit():
                    return
                continue
            if first is _STOP:
                return
            batch: list[_Job[Any]] = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Job[Any]]) -> None:
        self.batches += 1
        self.jobs += len(batch)
        if len(batch) == 1:
            self._run_alone(batch[0])
        else:
            try:
                with self._session() as session:
                    session.info[PINNED] = []
                    runs = _runs(batch)
                    if len(runs) == 1 and runs[0][0].merge is not None:
                        self._run_one_merged(session, batch)
                    else:
                        for run in runs:
                            if len(run) > 1 and self._run_merged(session, run):
                                continue
                            for job in run:
                                self._run_in_savepoint(session, job)
                    self.db.commit(session)  # a lost answer to COMMIT: asks the server
            except Exception:
                for job in batch:  # nothing was answered yet: run each job on its own
                    self._run_alone(job)
                return
            _deliver(batch)

    @staticmethod
    def _run_in_savepoint(session: Session, job: _Job[Any]) -> None:
        savepoint = session.begin_nested()
        try:
            job.outcome = (True, job.fn(session))
            savepoint.commit()
        except Exception as exc:
            savepoint.rollback()
            if _database_trouble(exc):
                raise  # a deadlock, a lost connection: not this job's fault
            job.outcome = (False, exc)

    @staticmethod
    def _run_merged(session: Session, run: list[_Job[Any]]) -> bool:
        """Run the items of merged jobs in one call; False (and nothing kept) if it fails."""
        savepoint = session.begin_nested()
        try:
            results = _many(session, run)
            savepoint.commit()
        except Exception as exc:
            savepoint.rollback()
            if _database_trouble(exc):
                raise
            return False
        for job, result in zip(run, results, strict=True):
            job.outcome = (True, result)
        return True

    def _run_one_merged(self, session: Session, batch: list[_Job[Any]]) -> None:
        """A batch that is one merged run (a burst of events from one integration): the
        call needs no savepoint of its own (two round trips on PostgreSQL), since if it
        fails the transaction holds nothing else; it is then rolled back and the jobs run
        one by one, each in its savepoint, as any batch's jobs."""
        try:
            results = _many(session, batch)
        except Exception as exc:
            session.rollback()
            if _database_trouble(exc):
                raise
            session.info[PINNED] = []
            for job in batch:
                self._run_in_savepoint(session, job)
            return
        for job, result in zip(batch, results, strict=True):
            job.outcome = (True, result)

    def _run_alone(self, job: _Job[Any]) -> None:
        for attempt in range(1, RETRIES + 1):
            try:
                with self._session() as session:
                    try:
                        job.outcome = (True, job.fn(session))
                        self.db.commit(session)
                    except BaseException:
                        session.rollback()
                        raise
                break
            except Exception as exc:
                job.outcome = (False, exc)
                if not (_transient(exc) and attempt < RETRIES):
                    break
        _deliver([job])


def _many(session: Session, run: list[_Job[Any]]) -> list[Any]:
    """The results of a run of merged jobs, from one call of their function."""
    merge = run[0].merge
    assert merge is not None
    results = merge.many(session, [job.merge.item for job in run if job.merge])
    if len(results) != len(run):
        raise RuntimeError(f"{len(results)} results for {len(run)} merged jobs")
    return results


def _one_result(results: list[T]) -> T:
    if len(results) != 1:
        raise RuntimeError(f"{len(results)} results for one merged job")
    return results[0]


def _runs(batch: list[_Job[Any]]) -> list[list[_Job[Any]]]:
    """The batch in order, cut into runs: neighbouring jobs with the same merge key (and
    the same function) together, every other job alone."""
    runs: list[list[_Job[Any]]] = []
    for job in batch:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and job.merge is not None
            and last.merge is not None
            and job.merge.key == last.merge.key
            and job.merge.many is last.merge.many
        ):
            runs[-1].append(job)
        else:
            runs.append([job])
    return runs


RETRIES = 3
# PostgreSQL: serialization_failure, deadlock_detected; both say "run it again".
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


def _database_trouble(exc: BaseException) -> bool:
    """An error of the database rather than of the job's input (constraint violations are
    the job's: a duplicate name is answered, not retried)."""
    return isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError)


def _transient(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
