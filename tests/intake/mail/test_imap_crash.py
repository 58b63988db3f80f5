"""Crash test (M2): `kill -9` the real `dutydesk worker` (which polls the IMAP mailbox) 20
times during a 500-message ingest from a real Dovecot; afterwards there is exactly one
record per message and one incident per new mail, and every message is flagged."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dutydesk.db import Database
from dutydesk.models import Incident, MailMessage
from tests.factories import make_cast
from tests.intake.mail.conftest import message
from tests.intake.mail.dovecot import running_dovecot

MESSAGES = 500
KILLS = 20
DEADLINE_SECONDS = 240.0
WORKER = Path(sys.executable).parent / "dutydesk"


def counts(db: Database) -> tuple[int, int, int]:
    with db.unit_of_work(write=False) as s:
        records = s.scalar(select(func.count()).select_from(MailMessage)) or 0
        keys = s.scalar(select(func.count(func.distinct(MailMessage.message_key)))) or 0
        incidents = s.scalar(select(func.count()).select_from(Incident)) or 0
    return records, keys, incidents


@pytest.mark.heavy
def test_kill_9_during_imap_ingest_leaves_one_record_per_message(fresh_db: Database) -> None:
    make_cast(fresh_db)
    with tempfile.TemporaryDirectory(prefix="dutydesk-dovecot-") as tmp:
        os.chmod(tmp, 0o755)
        with running_dovecot(Path(tmp)) as imap:
            imap.append(
                *(
                    message(subject=f"Crash mail {i}", message_id=f"<crash-{i}@example.com>")
                    for i in range(MESSAGES)
                )
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYDESK_")}
            env.update(
                imap.env(),
                DUTYDESK_DATABASE_URL=fresh_db.engine.url.render_as_string(hide_password=False),
                DUTYDESK_WORKER_POLL_SECONDS="0.05",
                DUTYDESK_MAIL_IN_IMAP_BATCH="20",
                DUTYDESK_SQLITE_SYNCHRONOUS="NORMAL",
                DUTYDESK_STORAGE_DIR=str(Path(tmp) / "files"),
            )
            log_path = Path(tmp) / "worker.log"
            log = log_path.open("ab")
            rng = random.Random(20261122)
            pause = threading.Event()  # never set: a bounded poll interval
            started = time.monotonic()
            kills = 0

            def over() -> bool:
                return time.monotonic() - started > DEADLINE_SECONDS

            while kills < KILLS and counts(fresh_db)[0] < MESSAGES and not over():
                before = counts(fresh_db)[0]
                proc = subprocess.Popen([str(WORKER), "worker"], env=env, stdout=log, stderr=log)
                while counts(fresh_db)[0] == before and proc.poll() is None and not over():
                    pause.wait(0.01)
                pause.wait(rng.uniform(0.0, 0.3))
                if proc.poll() is None:
                    proc.kill()  # SIGKILL: no cleanup, no flag, maybe mid-transaction
                    kills += 1
                proc.wait(timeout=30)
            proc = subprocess.Popen(
                [str(WORKER), "worker", "--once"], env=env, stdout=log, stderr=log
            )
            assert proc.wait(timeout=120) == 0, log_path.read_text()[-3000:]
            log.close()
            seen = imap.seen()
    records, keys, incidents = counts(fresh_db)
    print(f"\nimap crash test: {MESSAGES} mails, {kills} kills, {records} records")
    assert kills >= KILLS // 2
    assert records == keys == MESSAGES, log_path.read_text()[-3000:]
    assert incidents == MESSAGES  # one incident per new mail, none twice
    assert len(seen) == MESSAGES  # every message flagged once its ingest committed
