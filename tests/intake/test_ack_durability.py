"""D1, ack durability: a 202 from a receiver means the event is committed. 1,000 events
(250 dedup keys x 4 triggers) are sent by 8 clients that retry on timeouts, connection
errors, 429 and 5xx, while the test `kill -9`s the real server 20 times at random points
(spread over the run: the i-th kill comes after a random short delay once i/21 of the
events are acknowledged) and restarts it. Runs on the database of the test run (a file
SQLite database, or a PostgreSQL database of the test's own).

What the semantics allow, and what is asserted for every key k:

- exactly one alert exists for k (no trigger is lost, none opens a second alert: the
  unique open-key index), and no alert exists for a key never sent;
- acked(k) <= occurrences(k): every 202-acknowledged trigger was counted;
- occurrences(k) <= acked(k) + unanswered(k): an extra occurrence can only come from an
  attempt that got no answer at all (the server died after its commit but before its 202,
  and the client retried). An attempt answered 429 or 503 was not stored; a 202 stored
  exactly one occurrence.

So: no acknowledged event lost, and no duplicate beyond the at-least-once retries the
client itself caused.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path
from queue import Empty, SimpleQueue

import pytest
from sqlalchemy import func, select

from dutydesk.db import Database
from dutydesk.models import Alert
from tests.factories import make_cast
from tests.intake.helpers import make_integration
from tests.intake.live import Ledger, LiveServer

EVENTS = 1000
KEYS = 250
KILLS = 20
SENDERS = 8


def stored(db: Database) -> tuple[Counter[str], dict[str, int]]:
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(Alert.dedup_key, func.count(), func.sum(Alert.occurrences)).group_by(
                Alert.dedup_key
            )
        ).all()
    return Counter({k: int(n) for k, n, _ in rows}), {k: int(o or 0) for k, _, o in rows}


@pytest.mark.heavy
def test_no_acknowledged_event_is_lost_across_20_kill_9(fresh_db: Database, tmp_path: Path) -> None:
    make_cast(fresh_db)  # the E-mail service the events name
    _, token = make_integration(fresh_db, correlation_seconds=0)
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    server = LiveServer(url, tmp_path / "server.log")
    rng = random.Random(20261206)
    keys = [f"host{n % KEYS:03d}/check" for n in range(EVENTS)]
    rng.shuffle(keys)
    work: SimpleQueue[str] = SimpleQueue()
    for key in keys:
        work.put(key)
    ledger = Ledger()
    stop = threading.Event()
    done = Counter[str]()

    def sender() -> None:
        while not stop.is_set():
            try:
                key = work.get_nowait()
            except Empty:
                return
            if ledger.send_until_acked(server, token, key, stop):
                with ledger.lock:
                    done["acked"] += 1

    server.start()
    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    kills = 0
    try:
        for i in range(1, KILLS + 1):
            while done["acked"] < i * EVENTS // (KILLS + 1) and any(t.is_alive() for t in threads):
                stop.wait(0.005)
            stop.wait(rng.uniform(0.0, 0.05))
            server.kill()
            kills += 1
            server.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        stop.set()
        server.stop()
    alerts, occurrences = stored(fresh_db)
    print(
        f"\nD1: {EVENTS} events, {kills} kills, statuses {dict(ledger.statuses)}, "
        f"{sum(ledger.unanswered.values())} unanswered attempts, "
        f"{sum(occurrences.values()) - sum(ledger.acked.values())} extra occurrences"
    )
    assert kills == KILLS
    assert done["acked"] == EVENTS, server.log_tail()
    assert set(alerts) == set(keys)
    assert all(n == 1 for n in alerts.values()), [k for k, n in alerts.items() if n != 1]
    for key in set(keys):
        assert ledger.acked[key] == keys.count(key)
        assert ledger.acked[key] <= occurrences[key] <= ledger.acked[key] + ledger.unanswered[key]
    assert not ledger.bad_bodies, ledger.bad_bodies[:5]
