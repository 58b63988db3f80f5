"""A call of ingest_many opens and auto-resolves the incidents of many alerts at once
(`intake.service._settle_before`): its outcome must be the one of ingesting the same signals
one call at a time, where each alert's incident is opened, and each incident resolved, on
the spot. Both runs go to databases of their own, made alike, so they can be compared row
for row: same outcomes, same incident numbers, same history chains (equal heads mean equal
events), same clocks, same notifications."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents import history
from dutydesk.incidents import service as incidents
from dutydesk.intake import call
from dutydesk.intake.signals import Signal
from dutydesk.kernel import clock
from dutydesk.models import Alert, Counter, Incident, Notification, SlaClock
from tests.conftest import Backend
from tests.factories import make_cast
from tests.intake.helpers import ack, fire, make_integration, resolve, send

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEYS = ["a", "b", "c", "d", "e", "f", "g"]
SCOPES: list[dict[str, Any]] = [{}, {}, {"service": "E-mail"}, {"ci": "mail01"}, {"service": "X"}]


@pytest.fixture
def twins(backend: Backend) -> Iterator[tuple[Database, Database]]:
    made = [backend.create() for _ in range(2)]
    yield Database(made[0][1]), Database(made[1][1])
    for url, engine in made:
        backend.drop(url, engine)


def script(seed: int, length: int = 160) -> list[tuple[list[Signal], int]]:
    """Calls of random size (the minutes to move the clock before each): triggers of a few
    keys with and without a service or CI, duplicates, acknowledgements and resolutions."""
    rng = random.Random(seed)
    scope = {k: rng.choice(SCOPES) for k in KEYS}
    calls: list[tuple[list[Signal], int]] = []
    left = length
    while left > 0:
        size = min(left, rng.choice([1, 2, 5, 12, 30]))
        signals = []
        for _ in range(size):
            key = rng.choice(KEYS)
            roll = rng.random()
            if roll < 0.55:
                signals.append(fire(key, **scope[key]))
            elif roll < 0.85:
                signals.append(resolve(key))
            else:
                signals.append(ack(key))
        calls.append((signals, rng.choice([0, 0, 1, 4, 11])))
        left -= size
    return calls


def run(
    db: Database, settings: Settings, calls: list[tuple[list[Signal], int]], one_by_one: bool
) -> list[Any]:
    cast = make_cast(db)
    iid, _ = make_integration(
        db, correlation_seconds=600, flap_changes=6, assignment_group_id=cast.desk.id
    )
    outcomes: list[Any] = []
    with clock.frozen(T0) as move:
        for signals, minutes in calls:
            move(timedelta(minutes=minutes))
            if one_by_one:
                for signal in signals:
                    outcomes += send(db, settings, iid, signal)
            else:
                outcomes += send(db, settings, iid, *signals)
    return outcomes


def state(db: Database) -> dict[str, Any]:
    with db.unit_of_work(write=False) as s:
        assert list(history.verify_chains(s)) == []
        return {
            "incidents": [
                (
                    i.number,
                    i.state,
                    i.priority,
                    i.assignment_group_id,
                    i.history_count,
                    i.history_head,
                )
                for i in s.scalars(select(Incident).order_by(Incident.id))
            ],
            "alerts": [
                (a.id, a.dedup_key, a.status, a.occurrences, a.incident_id, a.flapping)
                for a in s.scalars(select(Alert).order_by(Alert.id))
            ],
            "clocks": [
                (c.incident_id, c.kind, c.due_at, c.stopped_at, c.elapsed_before)
                for c in s.scalars(select(SlaClock).order_by(SlaClock.incident_id, SlaClock.kind))
            ],
            "notifications": sorted(
                (n.incident_id, n.event, n.recipient) for n in s.scalars(select(Notification))
            ),
            "counter": s.scalar(select(Counter.value).where(Counter.name == "INC")),
        }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_call_ends_as_its_signals_one_by_one(
    twins: tuple[Database, Database], settings: Settings, seed: int
) -> None:
    calls = script(seed)
    one, many = twins
    expected = run(one, settings, calls, one_by_one=True)
    got = run(many, settings, calls, one_by_one=False)
    assert got == expected
    assert sum(len(c) for c, _ in calls) == len(got)
    before, after = state(one), state(many)
    assert after == before
    # the script did what it is for: incidents opened, correlated and auto-resolved
    kinds = {r.outcome for r in got}
    assert {"created", "deduplicated", "resolved"} <= kinds
    assert any(row[1] == "resolved" for row in after["incidents"])


def test_openings_put_off_are_numbered_in_order(db: Database, settings: Settings) -> None:
    """Many new alerts in one call: one counter bump, numbers in the order of the signals,
    each reported with its alert, and duplicates in the same call report the number too."""
    iid, _ = make_integration(db)
    keys = [f"k{n}" for n in range(20)]
    got = send(db, settings, iid, *(fire(k) for k in keys), *(fire(k) for k in keys))
    numbers = [r.incident_number for r in got]
    assert [r.outcome for r in got[:20]] == ["created"] * 20
    assert [r.outcome for r in got[20:]] == ["deduplicated"] * 20
    assert numbers[:20] == numbers[20:]
    assert numbers[:20] == sorted(str(n) for n in numbers[:20])
    assert len(set(numbers)) == 20 and None not in numbers


def test_a_group_that_cannot_be_logged_falls_back_to_one_by_one(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One alert of a group fails to open (a domain error): the others still get their
    incidents, numbered without a gap, and the failed one stays an alert without one."""
    from dutydesk.kernel.errors import InvalidInput

    iid, _ = make_integration(db)
    real = incidents.open_incident

    def picky(session: Any, actor: Any, data: Any, **kw: Any) -> Incident:
        if data.short_description.startswith("bad"):
            raise InvalidInput("the checklist says no")
        return real(session, actor, data, **kw)

    monkeypatch.setattr(incidents, "open_incident", picky)
    got = send(db, settings, iid, fire("ok1"), fire("bad", summary="bad one"), fire("ok2"))
    assert [r.outcome for r in got] == ["created"] * 3
    first, bad, second = (r.incident_number for r in got)
    assert bad is None and first is not None and second is not None
    assert int(second[3:]) == int(first[3:]) + 1
    with db.unit_of_work(write=False) as s:
        assert s.scalar(select(Alert.incident_id).where(Alert.dedup_key == "bad")) is None


def test_a_key_another_process_opened_meanwhile_is_a_duplicate(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New alerts are written together; if another process opened one of the keys after
    this call read the open alerts, the unique open key stops the INSERT and the call runs
    again carefully: the event is counted on the other alert, and the rest of the call is
    done once."""
    iid, _ = make_integration(db)
    first = send(db, settings, iid, fire("k"))[0]
    real_read = call.read_open_alerts
    calls = []

    def stale_read(session: Any, integration: Any, signals: Any, batch: Any, known: Any) -> None:
        real_read(session, integration, signals, batch, known)
        if not calls:  # the first read ran before the other process committed "k"
            batch.alerts.pop("k", None)
            batch.latest["k"] = None
            known.clear()
        calls.append(1)

    monkeypatch.setattr(call, "read_open_alerts", stale_read)
    got = send(db, settings, iid, fire("new"), fire("k"), fire("new"))
    assert len(calls) == 2
    assert [r.outcome for r in got] == ["created", "deduplicated", "deduplicated"]
    assert got[1].alert_id == first.alert_id and got[1].incident_number == first.incident_number
    with db.unit_of_work(write=False) as s:
        rows = s.execute(select(Alert.dedup_key, Alert.occurrences).order_by(Alert.id)).all()
        assert [tuple(r) for r in rows] == [("k", 2), ("new", 2)]
        assert s.scalar(select(Counter.value).where(Counter.name == "INC")) == 2
