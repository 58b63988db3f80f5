"""Shared helpers for the benchmarks: servers as subprocesses, databases, stats, printing.

Everything here talks to 127.0.0.1 only. Servers are started by us, remembered by their
process id and stopped by that id; PostgreSQL databases are created under a random
``dutydesk_bench_<hex>`` name and only that database is ever dropped.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BIN = Path(sys.executable).parent  # the venv's bin directory (.venv/bin)
DUTYDESK = str(BIN / "dutydesk")
HOST = "127.0.0.1"
# The server (not a database) PostgreSQL benchmarks create their own database on.
PG_SERVER_URL = os.environ.get(
    "DUTYDESK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


# ----------------------------------------------------------------------------- printing


def say(*parts: object) -> None:
    print(*parts, flush=True)


def banner(title: str) -> None:
    say("")
    say("=" * 78)
    say(title)
    say("=" * 78)


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.rjust(w) if n and _numeric(c) else c.ljust(w)
                for c, w in zip(row, widths, strict=True)
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-+.") and not text.startswith("--")


def machine_info() -> str:
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return (
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}, "
        f"{platform.platform()}"
    )


def server_stack() -> str:
    """What uvicorn's loop="auto" / http="auto" resolve to in this venv."""
    loop = "uvloop" if _importable("uvloop") else "asyncio"
    http = "httptools" if _importable("httptools") else "h11"
    return f"uvicorn loop={loop} http={http}, 1 process, access log off"


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# ----------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (like numpy's default); p in 0..100."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    if lo == hi:
        return ordered[lo]
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def db_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYDESK_")}
    env["DUTYDESK_DATABASE_URL"] = database_url
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def cli(args: Sequence[str], database_url: str, *, cwd: Path, timeout: float = 300) -> str:
    """Run `dutydesk <args>` against a database; returns stdout; raises with stderr on failure."""
    proc = subprocess.run(
        [DUTYDESK, *args],
        env=db_env(database_url),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"dutydesk {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def prepare_admin(database_url: str, cwd: Path, user: str = "bob") -> str:
    """Migrate, add the admin user and return a fresh write token (the last output line)."""
    cli(["migrate"], database_url, cwd=cwd)
    cli(
        ["user", "add", user, "--role", "admin", "--email", f"{user}@example.com"],
        database_url,
        cwd=cwd,
    )
    return create_token(database_url, cwd, user)


def create_token(database_url: str, cwd: Path, user: str) -> str:
    out = cli(["token", "create", user], database_url, cwd=cwd)
    return out.strip().splitlines()[-1].strip()


class Server:
    """One HTTP server subprocess on 127.0.0.1:<port>; stopped by its own pid."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: Path,
        port: int,
        ready_path: str = "/healthz",
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.port = port
        self.ready_path = ready_path
        self.log_path = cwd / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 90) -> Server:
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                status, _ = http_request(self.port, "GET", self.ready_path, timeout=2)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not become ready in {timeout:.0f}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # uvicorn: graceful shutdown
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def dutydesk_server(database_url: str, cwd: Path, name: str = "dutydesk") -> Server:
    port = free_port()
    argv = [DUTYDESK, "serve", "--host", HOST, "--port", str(port), "--log-level", "warning"]
    return Server(name, argv, db_env(database_url), cwd, port)


def baseline_server(name: str, script: str, database_url: str, cwd: Path) -> Server:
    """A baseline app of this folder (``_bare_server.py``, ``_plain_server.py``), served as
    ``dutydesk serve`` is (see `serve_baseline`)."""
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / script), "--host", HOST, "--port", str(port)]
    return Server(name, [*argv, "--log-level", "warning"], db_env(database_url), cwd, port)


def bare_server(cwd: Path) -> Server:
    return baseline_server("bare", "_bare_server.py", "sqlite://", cwd)


def serve_baseline(app: Any, setup: Any = None) -> None:
    """A baseline server's main: its arguments, then uvicorn exactly as ``dutydesk serve``
    runs (one process, loop/http "auto", access log off, proxy headers off). `setup` is
    called first with the database URL of the environment."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    if setup is not None:
        setup(os.environ["DUTYDESK_DATABASE_URL"])
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        log_level=args.log_level,
        proxy_headers=False,
        access_log=args.log_level == "debug",
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc; 0.0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def pg_backend_pids(database_url: str) -> list[int]:
    """Server process ids of the PostgreSQL backends connected to this database (local server)."""
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    try:
        with _pg_connect() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        return [int(r[0]) for r in rows]
    except Exception:
        return []


# ----------------------------------------------------------------------------- HTTP client


def http_request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def api_json(
    port: int,
    method: str,
    path: str,
    token: str,
    payload: Any = None,
    expect: Sequence[int] = (200, 201, 204),
) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    status, data = http_request(port, method, path, body=body, headers=headers)
    if status not in expect:
        raise RuntimeError(f"{method} {path} -> {status}: {data[:500]!r}")
    return json.loads(data) if data else None


# ----------------------------------------------------------------------------- PostgreSQL


def pg_url_for(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_SERVER_URL).set(database=database).render_as_string(hide_password=False)


def _pg_connect(database: str | None = None) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(PG_SERVER_URL)
    return psycopg.connect(
        host=url.host or HOST,
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=database or url.database or "postgres",
        connect_timeout=3,
        autocommit=True,
    )


def pg_reachable() -> tuple[bool, str]:
    try:
        with _pg_connect() as conn:
            version = conn.execute("SHOW server_version").fetchone()
        return True, f"PostgreSQL {version[0] if version else '?'}"
    except Exception as exc:
        return (
            False,
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}",
        )


@contextlib.contextmanager
def pg_database(prefix: str = "dutydesk_bench") -> Iterator[str]:
    """A fresh database named <prefix>_<random hex>; yields its SQLAlchemy URL; dropped after."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    assert name.startswith("dutydesk_bench_") and name.replace("_", "").isalnum()
    with _pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url_for(name)
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        say(f"  dropped PostgreSQL database {name}")
