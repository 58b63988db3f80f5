"""Fixtures for notification tests: a real SMTP server (aiosmtpd), a real HTTP receiver
(http.server), incidents and actors built directly, and settings pointing at both."""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dutydesk.access.policy import Actor, system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents.changes import new_incident
from dutydesk.incidents.service import next_number
from dutydesk.models import Incident
from dutydesk.people.queries import build_actor
from tests.factories import Cast, Person

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------- SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """An aiosmtpd handler keeping every message; refuses the addresses in `refuse`."""

    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    port: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(data)))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


# ----------------------------------------------------------------- HTTP


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server on 127.0.0.1 answering with the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.answers: queue.SimpleQueue[tuple[int, dict[str, str]]] = queue.SimpleQueue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.hits.append(Hit(self.path, dict(self.headers.items()), body))
                try:
                    status, headers = receiver.answers.get_nowait()
                except queue.Empty:
                    status, headers = 200, {}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def answer(self, status: int, **headers: str) -> None:
        self.answers.put((status, headers))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


# ----------------------------------------------------------------- data


@pytest.fixture
def notify_settings(tmp_path: Path) -> Settings:
    """No SMTP server: e-mail notifications become dead letters when delivered."""
    return Settings(
        database_url="sqlite://",
        storage_dir=tmp_path / "files",
        smtp_host="",
        smtp_timeout_seconds=5,
        mail_from="DutyDesk <desk@dutydesk.example>",
        mail_domain="dutydesk.example",
        public_base_url="https://desk.example",
        notify_backoff_seconds=30,
        notify_max_attempts=4,
    )


@pytest.fixture
def smtp_settings(notify_settings: Settings, inbox: Inbox) -> Settings:
    return notify_settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": inbox.port})


def actor_of(db: Database, person: Person) -> Actor:
    with db.unit_of_work() as s:
        return build_actor(s, person.user)


SYSTEM = system_actor(channel="worker", name="sla")


def make_incident(
    db: Database,
    cast: Cast,
    *,
    caller: Person | None = None,
    group: Any = None,
    assignee: Person | None = None,
    short_description: str = "Mail is down",
    state: str = "assigned",
) -> Incident:
    caller = caller or cast.dave
    with db.unit_of_work() as s:
        incident = new_incident(
            next_number(s),
            short_description=short_description,
            description="Nobody can send mail.",
            channel="phone",
            caller_id=caller.id,
            opened_by_id=cast.alice.id,
            customer_id=caller.user.customer_id,
            impact=2,
            urgency=2,
            priority=3,
            state=state,
            assignment_group_id=group.id if group is not None else None,
            assignee_id=assignee.id if assignee is not None else None,
        )
        s.add(incident)
        s.flush()
    return incident
