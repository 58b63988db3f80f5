"""Serve an ASGI app with uvicorn in a background thread, for tests that need real
concurrency (many connections, many threads, a real event loop and database pool)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx
import uvicorn

START_TIMEOUT = 15.0  # seconds until the server must answer /healthz
POLL_INTERVAL = 0.02  # short pause between polls while the server starts


def _listening_socket(host: str) -> socket.socket:
    """A socket bound to a free port and already listening: connections made before
    uvicorn starts accepting wait in the backlog instead of being refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class ServerThread:
    """uvicorn.Server running `app` on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", **config: Any) -> None:
        self.sock = _listening_socket(host)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        options: dict[str, Any] = {
            "log_level": "warning",
            "log_config": None,  # leave the test run's logging alone
            "access_log": False,
            "lifespan": "off",
            "timeout_graceful_shutdown": 5,
        }
        options.update(config)
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by start()/stop()
            self.error = exc

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.thread.start()
        pause = threading.Event()  # never set: wait() is a short, bounded pause
        attempts = int(timeout / POLL_INTERVAL) + 1
        last: Exception | None = None
        for _ in range(attempts):
            if not self.thread.is_alive():
                raise RuntimeError(f"the server thread died while starting: {self.error!r}")
            try:
                response = httpx.get(f"{self.url}/healthz", timeout=timeout)
            except httpx.HTTPError as exc:
                last = exc
            else:
                if response.status_code == 200:
                    return
                last = RuntimeError(f"/healthz answered {response.status_code}: {response.text}")
            pause.wait(POLL_INTERVAL)
        self.stop()
        raise RuntimeError(f"the server did not become healthy within {timeout}s: {last!r}")

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        with suppress(OSError):
            self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError("the server thread did not stop")


@contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """Run `app` for the duration of the block; yields its base URL."""
    server = ServerThread(app, **config)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
    if server.error is not None:
        raise RuntimeError(f"the server failed: {server.error!r}") from server.error
