"""The dedup semantics against a small reference model (hypothesis state machine), and the
same model under duplicated (x3) and reordered delivery (E2).

Model (PagerDuty's): per key at most one open alert; a trigger on an open key counts an
occurrence, otherwise starts a new alert; acknowledge/resolve of a key without an open alert
is ignored; resolve closes the open alert.

Resolve-before-trigger: events are applied in the order they arrive; their `occurred_at` at
the source does not reorder them. A resolve (or acknowledge) that arrives before the trigger
it belongs to finds no open alert and is ignored, and the trigger arriving after it opens an
alert that stays open until a later resolve. So the final state of a key is decided by the
last trigger or resolve *delivered*: open if it was a trigger, resolved otherwise. Duplicates
change only occurrence counts: a duplicate trigger of an open alert is an occurrence, a
duplicate resolve is ignored.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from tests.intake.helpers import ack, alerts, fire, make_integration, resolve, send

KEYS = st.sampled_from(["a", "b", "c"])
NAMES = itertools.count()


@dataclass
class ModelAlert:
    key: str
    status: str = "triggered"
    occurrences: int = 1


@dataclass
class Model:
    alerts: list[ModelAlert] = field(default_factory=list)
    open: dict[str, ModelAlert] = field(default_factory=dict)

    def apply(self, action: str, key: str) -> str:
        current = self.open.get(key)
        if action == "trigger":
            if current is not None:
                current.occurrences += 1
                return "deduplicated"
            self.open[key] = ModelAlert(key)
            self.alerts.append(self.open[key])
            return "created"
        if current is None:
            return "ignored"
        current.occurrences += 1
        if action == "acknowledge":
            if current.status == "triggered":
                current.status = "acknowledged"
            return "acknowledged"
        current.status = "resolved"
        del self.open[key]
        return "resolved"


def test_dedup_matches_the_reference_model(db: Database, settings: Settings) -> None:
    class Dedup(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model = Model()
            # The model knows dedup, not flapping: a key re-triggered often enough would
            # join its previous (still open) incident as flapping (ALR-F), not open one.
            self.iid, _ = make_integration(
                db,
                f"model-{next(NAMES)}",
                correlation_seconds=0,
                auto_resolve=False,
                flap_changes=1000,
            )

        def _send(self, action: str, key: str) -> None:
            signal = {"trigger": fire, "acknowledge": ack, "resolve": resolve}[action](key)
            got = send(db, settings, self.iid, signal)[0].outcome
            assert got == self.model.apply(action, key), (action, key)

        @rule(key=KEYS)
        def trigger(self, key: str) -> None:
            self._send("trigger", key)

        @rule(key=KEYS)
        def acknowledge(self, key: str) -> None:
            self._send("acknowledge", key)

        @rule(key=KEYS)
        def resolve(self, key: str) -> None:
            self._send("resolve", key)

        @invariant()
        def same_records(self) -> None:
            stored = [(a.dedup_key, a.status, a.occurrences) for a in alerts(db, self.iid)]
            expected = [(a.key, a.status, a.occurrences) for a in self.model.alerts]
            assert stored == expected

    run_state_machine_as_test(
        Dedup,
        settings=hsettings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


ACTIONS = ("trigger", "acknowledge", "resolve")
EVENTS = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(ACTIONS)), min_size=1, max_size=10
)
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=EVENTS, data=st.data())
def test_duplicated_and_reordered_delivery_matches_the_model(
    db: Database, settings: Settings, events: list[tuple[str, str]], data: st.DataObject
) -> None:
    """Each event sent three times, the whole lot shuffled, delivered in batches of random
    size within 60 s: every outcome and the final alerts equal the model's for that delivery
    order, and each key ends as its last delivered trigger/resolve says."""
    delivered = data.draw(st.permutations([e for e in events for _ in range(3)]))
    sizes = data.draw(st.lists(st.integers(1, 5), min_size=len(delivered), max_size=len(delivered)))
    gaps = data.draw(st.lists(st.integers(0, 60_000), min_size=len(delivered)))
    iid, _ = make_integration(
        db, f"reorder-{next(NAMES)}", correlation_seconds=0, auto_resolve=False, flap_changes=1000
    )
    model = Model()
    expected = [model.apply(action, key) for key, action in delivered]
    got: list[str] = []
    build = {"trigger": fire, "acknowledge": ack, "resolve": resolve}
    start = 0
    with clock.frozen(T0) as move:
        for size, gap in zip(sizes, gaps, strict=False):
            if start >= len(delivered):
                break
            chunk = delivered[start : start + size]
            got += [r.outcome for r in send(db, settings, iid, *(build[a](k) for k, a in chunk))]
            start += size
            move(timedelta(milliseconds=gap / max(len(delivered), 1)))
        if start < len(delivered):
            rest = delivered[start:]
            got += [r.outcome for r in send(db, settings, iid, *(build[a](k) for k, a in rest))]
    assert got == expected
    stored = alerts(db, iid)
    assert [(a.dedup_key, a.status, a.occurrences) for a in stored] == [
        (a.key, a.status, a.occurrences) for a in model.alerts
    ]
    for key in {k for k, _ in events}:
        decisive = [a for k, a in delivered if k == key and a != "acknowledge"]
        is_open = any(a.dedup_key == key and a.open_key == key for a in stored)
        assert is_open == (bool(decisive) and decisive[-1] == "trigger"), key
