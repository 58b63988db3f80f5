"""A real `dutydesk serve --no-worker` subprocess on a free loopback port, killed and
restarted by its own process id, and an event sender that retries like a monitoring system
(on timeouts, connection errors, 429 and 5xx) and records every attempt's fate."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

DUTYDESK = str(Path(sys.executable).parent / "dutydesk")
HOST = "127.0.0.1"
SERVE = [DUTYDESK, "serve", "--no-worker", "--host", HOST, "--log-level", "warning"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, database_url: str, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYDESK_")}
        self.env.update(DUTYDESK_DATABASE_URL=database_url, PYTHONUNBUFFERED="1", **env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.pause = threading.Event()  # never set: bounded waits

    def start(self, timeout: float = 60) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*SERVE, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        waited = 0.0
        while waited < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log_tail()}")
            try:
                if request(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            self.pause.wait(0.05)
            waited += 0.05
        raise RuntimeError(f"the server did not start in {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, maybe mid-transaction or between commit and answer."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def request(
    port: int,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5,
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        text = response.read()
        return response.status, text, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


@dataclass
class Ledger:
    """Every attempt of every event: answered 202, answered otherwise, or no answer."""

    acked: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)  # timeout, reset, refused
    statuses: Counter[int] = field(default_factory=Counter)
    bad_bodies: list[str] = field(default_factory=list)  # 5xx answers that look like crashes
    missing_retry_after: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send_until_acked(
        self, server: LiveServer, token: str, key: str, stop: threading.Event
    ) -> bool:
        """One event, retried until a 202 (or `stop`); True when it was acknowledged."""
        body = {"dedup_key": key, "summary": f"{key} is down", "service": "E-mail"}
        auth = {"Authorization": f"Bearer {token}"}
        while not stop.is_set():
            try:
                answer = request(server.port, "POST", "/api/v1/events", body, auth)
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.unanswered[key] += 1
                stop.wait(0.1)  # the server is down or restarting: no retry storm
                continue
            status, text, headers = answer
            with self.lock:
                self.statuses[status] += 1
                if status == 202:
                    self.acked[key] += 1
                    return True
                if status >= 500 and (status != 503 or b"Traceback" in text):
                    self.bad_bodies.append(f"{status} {text[:300]!r}")
                if status in (429, 503) and "retry-after" not in headers:
                    self.missing_retry_after.append(status)
            stop.wait(0.02)
        return False
