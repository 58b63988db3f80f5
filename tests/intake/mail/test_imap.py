"""The IMAP poller against a real Dovecot: mails appended to the mailbox become incidents and
comments, are flagged only after their commit, and a second poll (a restart) re-imports
nothing (M2)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dutydesk.intake.mail.imap import mailbox_name, poll_mailbox
from dutydesk.kernel import clock
from dutydesk.models import Comment, MailboxState, MailMessage
from tests.intake.mail.conftest import T0, World, message
from tests.intake.mail.dovecot import Imap, imap_settings, running_dovecot


@pytest.fixture
def imap() -> Iterator[Imap]:
    # Dovecot's unprivileged processes must reach the files: not under pytest's 0700 tmp.
    with tempfile.TemporaryDirectory(prefix="dutydesk-dovecot-") as tmp:
        os.chmod(tmp, 0o755)
        with running_dovecot(Path(tmp)) as server:
            yield server


def test_appended_mails_become_incidents_and_comments(world: World, imap: Imap) -> None:
    settings = imap_settings(world.settings, imap)
    imap.append(
        message(subject="Mouse is dead", message_id="<imap-1@example.com>"),
        message(subject=f"Re: [{world.a}] Printer", body="Still jammed.", message_id="<imap-2@x>"),
        message(message_id="<imap-3@x>", headers={"Auto-Submitted": "auto-replied"}),
    )
    with clock.frozen(T0) as _:
        run = poll_mailbox(world.db, settings, clock.now())
    assert run.done == 3
    assert imap.seen() == {1, 2, 3}  # flagged after the commit
    with world.db.unit_of_work(write=False) as s:
        outcomes = dict(s.execute(select(MailMessage.message_key, MailMessage.outcome)).all())
        assert outcomes["<imap-1@example.com>"] == "created"
        assert outcomes["<imap-2@x>"] == "commented"
        assert outcomes["<imap-3@x>"] == "ignored_loop"
        state = s.get(MailboxState, mailbox_name(settings))
        assert state is not None and state.last_uid == 3 and state.uid_validity
        assert (
            s.scalar(
                select(func.count()).select_from(Comment).where(Comment.body == "Still jammed.")
            )
            == 1
        )
    # a restart: the stored UID means nothing is read again
    assert poll_mailbox(world.db, settings, clock.now()).done == 0
    imap.append(message(subject="Keyboard", message_id="<imap-4@x>"))
    assert poll_mailbox(world.db, settings, clock.now()).done == 1
    assert imap.seen() == {1, 2, 3, 4}


def test_committed_but_unflagged_mail_is_flagged_not_reimported(world: World, imap: Imap) -> None:
    settings = imap_settings(world.settings, imap)
    imap.append(message(subject="One", message_id="<crash-1@x>"))
    assert poll_mailbox(world.db, settings, clock.now()).done == 1
    with imap.client() as client:  # as if the poller died between commit and flag
        client.remove_flags([1], [b"\\Seen"])
    assert poll_mailbox(world.db, settings, clock.now()).done == 0
    assert imap.seen() == {1}
    with world.db.unit_of_work(write=False) as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(MailMessage)
                .where(MailMessage.message_key == "<crash-1@x>")
            )
            == 1
        )


def test_uidvalidity_change_reads_again_without_duplicates(world: World, imap: Imap) -> None:
    settings = imap_settings(world.settings, imap)
    imap.append(message(subject="One", message_id="<uv-1@x>"))
    poll_mailbox(world.db, settings, clock.now())
    with world.db.unit_of_work() as s:
        state = s.get(MailboxState, mailbox_name(settings))
        assert state is not None
        state.uid_validity = 1  # the server renumbered its UIDs
    with imap.client() as client:
        client.remove_flags([1], [b"\\Seen"])
    run = poll_mailbox(world.db, settings, clock.now())
    assert run.done == 1  # read again, but recorded as a duplicate
    with world.db.unit_of_work(write=False) as s:
        assert s.scalar(select(func.count()).select_from(MailMessage)) == 3  # 2 seeds + 1


def test_done_folder_moves_processed_mail(world: World, imap: Imap) -> None:
    with imap.client() as client:
        client.create_folder("Done")
    settings = imap_settings(world.settings, imap, mail_in_imap_done_folder="Done")
    imap.append(message(subject="Move me", message_id="<mv-1@x>"))
    assert poll_mailbox(world.db, settings, clock.now()).done == 1
    with imap.client() as client:
        assert client.search(["ALL"]) == []
        client.select_folder("Done")
        assert len(client.search(["ALL"])) == 1
