"""The IMAP poll schedule: the worker connects only when `mailbox_state.next_poll_at` has
passed, and several workers due at once poll the mailbox once (a fake IMAP client counts the
logins, so this runs without Dovecot)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake.mail import imap
from dutydesk.models import MailboxState
from tests.intake.helpers import at_once
from tests.intake.mail.conftest import T0


class FakeImap:
    """An empty INBOX; every login is counted."""

    def __init__(self) -> None:
        self.logins = 0
        self.lock = threading.Lock()

    @contextmanager
    def connect(self, _settings: Settings) -> Iterator[FakeImap]:
        with self.lock:
            self.logins += 1
        yield self

    def select_folder(self, _folder: str) -> dict[bytes, Any]:
        return {b"UIDVALIDITY": 7}

    def search(self, _criteria: list[str]) -> list[int]:
        return []


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeImap:
    server = FakeImap()
    monkeypatch.setattr(imap, "connect", server.connect)
    return server


def imap_settings(base: Settings, seconds: float) -> Settings:
    return base.model_copy(
        update={"mail_in_imap_host": "imap.example", "mail_in_imap_poll_seconds": seconds}
    )


def test_polls_only_when_due(db: Database, settings: Settings, fake: FakeImap) -> None:
    config = imap_settings(settings, 60)
    assert imap.poll_mailbox(db, config, T0).done == 0
    assert fake.logins == 1  # the first poll: no schedule yet
    imap.poll_mailbox(db, config, T0 + timedelta(seconds=1))
    imap.poll_mailbox(db, config, T0 + timedelta(seconds=59))
    assert fake.logins == 1  # not due: no connection at all
    imap.poll_mailbox(db, config, T0 + timedelta(seconds=60))
    assert fake.logins == 2
    with db.unit_of_work(write=False) as s:
        state = s.get(MailboxState, imap.mailbox_name(config))
        assert state is not None and state.uid_validity == 7
        assert state.next_poll_at == T0 + timedelta(seconds=120)
    imap.poll_mailbox(db, config, T0 + timedelta(seconds=61), force=True)  # dutydesk mail poll
    assert fake.logins == 3
    every_round = imap_settings(settings, 0)
    imap.poll_mailbox(db, every_round, T0 + timedelta(seconds=120))
    imap.poll_mailbox(db, every_round, T0 + timedelta(seconds=120))
    assert fake.logins == 5


def test_several_workers_poll_once_per_interval(
    fresh_db: Database, settings: Settings, fake: FakeImap
) -> None:
    config = imap_settings(settings, 30)
    imap.poll_mailbox(fresh_db, config, T0)  # the schedule row exists from here on
    at_once(lambda: imap.poll_mailbox(fresh_db, config, T0 + timedelta(seconds=45)))
    assert fake.logins == 2
