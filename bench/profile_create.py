"""Profile the write path in-process: where the CPU of one create (or one event) goes.

Builds the app on a temporary SQLite database (or ``--database-url``), migrates it, adds an
admin with a token and a generic integration, then drives ``--requests`` requests through
``httpx.ASGITransport`` with ``--concurrency`` tasks, so the requests go through the real
group commit writer thread. Two profilers run: one in the writer thread (around each batch)
and one on the event loop thread (routing, validation, serialization, the hand-off).

    .venv/bin/python bench/profile_create.py                      # 2,000 incident creates
    .venv/bin/python bench/profile_create.py --path events        # single generic events
    .venv/bin/python bench/profile_create.py --path events --batch 1000 --requests 20
    .venv/bin/python bench/profile_create.py --path storm --requests 20  # bench/ingest's storm
    .venv/bin/python bench/profile_create.py --no-profile         # wall clock and CPU only
    .venv/bin/python bench/profile_create.py --postgresql --sql   # on PostgreSQL, the SQL
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from _common import cli, pg_database, prepare_admin

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.kernel.group_commit import GroupCommit


def _incident_body(n: int) -> dict[str, Any]:
    return {
        "short_description": f"profile #{n}",
        "caller_id": 1,
        "impact": 2,
        "urgency": 2,
        "channel": "api",
    }


def _event(n: int, keys: int) -> dict[str, Any]:
    key = f"key-{n % keys}"
    return {"dedup_key": key, "summary": f"{key} is failing", "severity": "error"}


STORM_CYCLE = 40  # as bench/ingest.py: per key a trigger, 38 duplicates, then a resolve


def _storm_event(n: int, keys: int) -> dict[str, Any]:
    step, key = divmod(n, keys)
    if step % STORM_CYCLE == STORM_CYCLE - 1:
        return {"dedup_key": f"storm-{key}", "status": "resolved"}
    return {
        "dedup_key": f"storm-{key}",
        "summary": f"storm-{key} is failing",
        "severity": "warning",
    }


class WriterProfile:
    """cProfile around every batch the writer thread runs (profilers are per thread)."""

    def __init__(self, enabled: bool) -> None:
        # CPU time of this thread, not wall time: waits for the GIL are not the code's cost
        self.profile = cProfile.Profile(time.thread_time) if enabled else None
        self.cpu = 0.0
        self._original = GroupCommit._run_batch
        me = self

        def run_batch(committer: GroupCommit, batch: list[Any]) -> None:
            start = time.thread_time()
            if me.profile is not None:
                me.profile.enable()
            try:
                me._original(committer, batch)
            finally:
                if me.profile is not None:
                    me.profile.disable()
                me.cpu += time.thread_time() - start

        GroupCommit._run_batch = run_batch  # type: ignore[method-assign]

    def restore(self) -> None:
        GroupCommit._run_batch = self._original  # type: ignore[method-assign]


async def drive(app: Any, args: argparse.Namespace, token: str) -> tuple[int, dict[int, int]]:
    transport = httpx.ASGITransport(app=app)
    statuses: dict[int, int] = {}
    counter = iter(range(args.requests))
    headers = {"Authorization": f"Bearer {token}"}

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def worker() -> None:
            for n in counter:
                if args.path == "incidents":
                    response = await client.post(
                        "/api/v1/incidents", json=_incident_body(n), headers=headers
                    )
                elif args.path == "storm":
                    first = n * args.batch
                    events = [_storm_event(first + i, args.keys) for i in range(args.batch)]
                    response = await client.post("/api/v1/events", json=events, headers=headers)
                elif args.batch > 1:
                    events = [_event(n * args.batch + i, args.keys) for i in range(args.batch)]
                    response = await client.post("/api/v1/events", json=events, headers=headers)
                else:
                    response = await client.post(
                        "/api/v1/events", json=_event(n, args.keys), headers=headers
                    )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 300 and statuses[response.status_code] == 1:
                    print(response.status_code, response.text[:500], file=sys.stderr)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return args.requests, statuses


class Statements:
    """Every statement the engine sends, by its text (executemany counts once), and the
    wall time the driver spent running them (from before to after the cursor call)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self._started = threading.local()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        self._started.at = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        key = " ".join(statement.split())[:150]
        self.count[key] += 1
        self.seconds[key] += time.perf_counter() - self._started.at

    def print(self, batches: int, items: int) -> None:
        total = sum(self.count.values())
        spent = sum(self.seconds.values())
        print(
            f"\n===== statements: {total} in {batches} batches ({total / max(batches, 1):.1f} a"
            f" batch); {1000 * spent / max(items, 1):.3f} ms in the driver per item"
        )
        print("   count  ms/item  statement")
        for statement, count in self.count.most_common():
            per_item = 1000 * self.seconds[statement] / max(items, 1)
            print(f"{count:8d}  {per_item:7.3f}  {statement}")


def report(profile: cProfile.Profile | None, title: str, limit: int, sort: str) -> None:
    if profile is None:
        return
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(sort).print_stats(limit)
    print(f"\n===== {title} (sorted by {sort}) =====")
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", choices=["incidents", "events", "storm"], default="incidents")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1, help="events per request (events)")
    parser.add_argument("--keys", type=int, default=500, help="distinct dedup keys (events)")
    parser.add_argument(
        "--database-url", default=None, help="an EMPTY database of your own: it is migrated"
    )
    parser.add_argument(
        "--postgresql", action="store_true", help="a fresh PostgreSQL database, dropped after"
    )
    parser.add_argument("--limit", type=int, default=45)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--loop-profile", action="store_true", help="also the event loop")
    parser.add_argument("--dump", type=Path, default=None, help="write the writer's pstats")
    parser.add_argument("--sql", action="store_true", help="count the statements per batch")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dutydesk-profile-"))
        cwd = Path(tmp)
        url = args.database_url or f"sqlite:///{cwd / 'profile.db'}"
        if args.postgresql:
            url = stack.enter_context(pg_database("dutydesk_bench_profile"))
        token = prepare_admin(url, cwd)
        if args.path == "storm":  # in order, like bench/ingest.py's storm
            args.concurrency, args.batch = 1, max(args.batch, 1000)
        if args.path in ("events", "storm"):
            out = cli(["integration", "create", "profile", "--kind", "generic"], url, cwd=cwd)
            token = out.strip().splitlines()[-1].strip()
        if args.path == "storm":  # five re-triggers per key within minutes: not flapping here
            from sqlalchemy import create_engine, text

            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("UPDATE integration SET flap_changes = 1000"))
            engine.dispose()
        settings = Settings(database_url=url, serve_worker=False, storage_dir=cwd / "files")
        app = create_app(settings)
        writer = WriterProfile(not args.no_profile)
        statements = Statements(app.state.runtime.db.engine) if args.sql else None
        loop_profile = cProfile.Profile(time.thread_time) if args.loop_profile else None
        # warm-up: imports, caches, the first connection
        warm = argparse.Namespace(**{**vars(args), "requests": 20, "concurrency": 4})
        if args.path == "storm":  # a whole cycle: 500 openings, duplicates, 500 resolutions
            warm = argparse.Namespace(**{**vars(args), "requests": 20})
        asyncio.run(drive(app, warm, token))
        writer.cpu = 0.0
        if writer.profile is not None:
            writer.profile = cProfile.Profile(time.thread_time)
        batches0 = app.state.runtime.committer.batches
        if statements is not None:
            statements.count.clear()
            statements.seconds.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if loop_profile is not None:
            loop_profile.enable()
        done, statuses = asyncio.run(drive(app, args, token))
        if loop_profile is not None:
            loop_profile.disable()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        writer.restore()
        app.state.runtime.close()
        per = args.batch if args.path != "incidents" else 1
        items = done * per
        print(
            json.dumps(
                {
                    "path": args.path,
                    "requests": done,
                    "items": items,
                    "statuses": statuses,
                    "wall_s": round(wall, 3),
                    "items_per_s": round(items / wall, 1),
                    "process_cpu_ms_per_item": round(cpu * 1000 / items, 3),
                    "writer_cpu_ms_per_item": round(writer.cpu * 1000 / items, 3),
                    "batches": app.state.runtime.committer.batches,
                }
            )
        )
        if statements is not None:
            statements.print(app.state.runtime.committer.batches - batches0, items)
        report(writer.profile, "writer thread", args.limit, args.sort)
        report(loop_profile, "event loop thread", args.limit, args.sort)
        if args.dump is not None and writer.profile is not None:
            writer.profile.dump_stats(str(args.dump))


if __name__ == "__main__":
    threading.current_thread().name = "profile-main"
    main()
