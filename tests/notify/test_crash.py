"""Crash test (issue 3): `kill -9` the worker again and again while it delivers 1,000 emails
to a real SMTP server; afterwards every email has arrived, and the ones sent twice (killed
after the server took the message but before the worker marked it sent) carry the same
Message-ID, so the receiving side can drop them.

Two kinds of kill alternate: inside the SMTP server right after it stored a message (the
worker never hears "250 OK": a guaranteed duplicate) and at a random moment from outside
(a claim, a send or a mark cut short). The worker is the real `dutydesk worker` command on
a database of its own; it uses the real clock, so a one-second lease brings killed claims back.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.models import Incident, Notification
from dutydesk.notify import service
from dutydesk.people import service as people
from tests.factories import make_cast
from tests.notify.conftest import free_port, make_incident

EMAILS = 1000
USERS = 10
KILLS = 12
DEADLINE_SECONDS = 120.0
WORKER = Path(sys.executable).parent / "dutydesk"


@dataclass
class KillingInbox:
    """Stores every message; when armed, kills the worker right after storing the n-th."""

    received: list[tuple[str, str]] = field(default_factory=list)  # (Message-ID, recipient)
    lock: threading.Lock = field(default_factory=threading.Lock)
    kill_at: int | None = None
    pid: int | None = None
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=default).parsebytes(envelope.original_content)
        with self.lock:
            self.received.append((str(message["Message-ID"]), envelope.rcpt_tos[0]))
            if self.kill_at is not None and len(self.received) >= self.kill_at and self.pid:
                self.kill_at = None
                os.kill(self.pid, signal.SIGKILL)  # before the worker hears "250 OK"
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@pytest.fixture
def killing_inbox() -> Iterator[KillingInbox]:
    box = KillingInbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def fill_outbox(db: Database) -> None:
    """1,000 pending emails: 100 state changes of one incident × 10 recipients."""
    cast = make_cast(db)
    settings = Settings(mail_domain="crash.example", public_base_url="https://desk.example")
    actor = system_actor()
    with db.unit_of_work() as s:
        ids = [
            people.add_user(
                s, actor, username=f"user{i}", email=f"user{i}@crash.example", role="agent"
            ).id
            for i in range(USERS)
        ]
    incident = make_incident(db, cast)
    with db.unit_of_work() as s:
        row = s.get(Incident, incident.id) or incident
        for occurrence in range(EMAILS // USERS):
            service.announce(
                s,
                settings,
                row,
                "state_changed",
                actor=actor,
                occurrence=str(occurrence),
                extra={"old_state": "assigned", "new_state": "in_progress"},
                recipients=ids,
            )


def states(db: Database) -> Counter[str]:
    with db.unit_of_work(write=False) as s:
        rows = s.execute(select(Notification.state, func.count()).group_by(Notification.state))
        return Counter({state: n for state, n in rows})


@pytest.mark.heavy
def test_kill_9_during_delivery_loses_nothing_and_resends_with_the_same_message_id(
    fresh_db: Database, killing_inbox: KillingInbox, tmp_path: Path
) -> None:
    fill_outbox(fresh_db)
    assert states(fresh_db) == {"pending": EMAILS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYDESK_")}
    env.update(
        DUTYDESK_DATABASE_URL=fresh_db.engine.url.render_as_string(hide_password=False),
        DUTYDESK_SMTP_HOST="127.0.0.1",
        DUTYDESK_SMTP_PORT=str(killing_inbox.port),
        DUTYDESK_NOTIFY_LEASE_SECONDS="1",
        DUTYDESK_WORKER_POLL_SECONDS="0.05",
        DUTYDESK_WORKER_BATCH="50",
        DUTYDESK_SQLITE_SYNCHRONOUS="NORMAL",
    )
    log = (tmp_path / "worker.log").open("ab")
    rng = random.Random(20261123)
    pause = threading.Event()  # never set: wait() is a bounded poll interval
    started = time.monotonic()
    kills = {"inside": 0, "outside": 0}
    runs = 0

    def over() -> bool:
        return time.monotonic() - started > DEADLINE_SECONDS

    def start() -> subprocess.Popen[bytes]:
        nonlocal runs
        runs += 1
        proc = subprocess.Popen([str(WORKER), "worker"], env=env, stdout=log, stderr=log)
        killing_inbox.pid = proc.pid
        return proc

    while sum(kills.values()) < KILLS and states(fresh_db)["sent"] < EMAILS and not over():
        before = killing_inbox.count()
        proc = start()
        if sum(kills.values()) % 2 == 0:  # inside the SMTP server, after it stored a message
            killing_inbox.kill_at = before + rng.randint(20, 90)
            while proc.poll() is None and not over() and states(fresh_db)["sent"] < EMAILS:
                pause.wait(0.05)
            killing_inbox.kill_at = None
            kills["inside"] += int(proc.poll() == -signal.SIGKILL)
        else:  # from outside, at a random moment once it is delivering
            while killing_inbox.count() == before and proc.poll() is None and not over():
                pause.wait(0.01)
            pause.wait(rng.uniform(0.02, 0.4))
            if proc.poll() is None:
                proc.kill()
                kills["outside"] += 1
        proc.wait(timeout=30)
    proc = start()  # the last worker finishes the job
    while states(fresh_db)["sent"] < EMAILS and proc.poll() is None and not over():
        pause.wait(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    log.close()
    elapsed = time.monotonic() - started

    assert states(fresh_db) == {"sent": EMAILS}, (tmp_path / "worker.log").read_text()[-3000:]
    with fresh_db.unit_of_work(write=False) as s:
        expected = dict(s.execute(select(Notification.message_id, Notification.recipient)).all())
    received = list(killing_inbox.received)
    per_id = Counter(mid for mid, _ in received)
    duplicates = len(received) - len(per_id)
    print(
        f"\ncrash test [{fresh_db.engine.dialect.name}]: {EMAILS} emails, "
        f"{sum(kills.values())} kills ({kills['inside']} inside SMTP, {kills['outside']} "
        f"outside), {runs} worker runs, {len(received)} received, {len(per_id)} distinct "
        f"Message-IDs, {duplicates} duplicates, {elapsed:.1f} s"
    )
    assert len(per_id) == EMAILS and set(per_id) == set(expected)  # every email arrived
    assert all(expected[mid] == rcpt for mid, rcpt in received)  # each to its recipient
    assert sum(kills.values()) >= KILLS // 2, kills
    # A kill inside the server leaves a message stored but not marked: it is sent again,
    # with the same Message-ID (counted once above, so duplicates never hide a loss).
    assert duplicates >= kills["inside"] >= 1
