"""Profile `dutydesk import servicenow` on reports.py's generated audit log (cProfile).

    .venv/bin/python bench/import_profile.py                    # 30,000 rows, SQLite
    .venv/bin/python bench/import_profile.py --rows 150000 --backend postgresql
    .venv/bin/python bench/import_profile.py --no-profile      # wall-clock only

Prints the wall-clock time of `cli.imports._read` + `imports.service.import_file_rows` into
a fresh migrated database and, unless --no-profile, the top functions by cumulative and by
own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import cli, cpu_seconds, pg_backend_pids, pg_database, say

from reports import _SqliteFile, write_audit_log


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    from dutydesk.cli.imports import _read
    from dutydesk.db import Database, make_engine
    from dutydesk.imports.service import import_file_rows
    from dutydesk.imports.servicenow import DEFAULT_DATE_FORMAT, REQUIRED

    workdir = Path(tempfile.mkdtemp(prefix="dutydesk-bench-import-"))
    try:
        log = workdir / "audit.csv"
        incidents = write_audit_log(log, args.rows)
        maker = _SqliteFile(workdir, 0) if args.backend == "sqlite" else pg_database()
        with maker as url:
            cli(["migrate"], url, cwd=workdir)
            engine = make_engine(url)
            profiler = cProfile.Profile()
            t0, c0 = time.perf_counter(), time.process_time()
            if args.profile:
                profiler.enable()
            _header, rows = _read(log, REQUIRED)
            report = import_file_rows(Database(engine), rows, date_format=DEFAULT_DATE_FORMAT)
            profiler.disable()
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            # the pooled connections' server processes, still open: their whole CPU time
            server = (
                sum(cpu_seconds(pid) for pid in pg_backend_pids(url))
                if args.backend != "sqlite"
                else 0.0
            )
            engine.dispose()
        say(report.summary().splitlines()[0])
        say(
            f"{args.backend}: {args.rows:,} rows ({incidents:,} incidents) in {seconds:.1f}s = "
            f"{args.rows / seconds:,.0f} rows/s, {cpu:.1f}s CPU in this process"
            + (f", {server:.1f}s CPU in the PostgreSQL server" if server else "")
            + (" (under cProfile)" if args.profile else "")
        )
        if args.profile:
            stats = pstats.Stats(profiler).strip_dirs()
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
