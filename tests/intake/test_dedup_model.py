"""The dedup semantics against a small reference model (hypothesis state machine).

Model (PagerDuty's): per key at most one open alert; a trigger on an open key counts an
occurrence, otherwise starts a new alert; acknowledge/resolve of a key without an open alert
is ignored; resolve closes the open alert.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from dutydesk.config import Settings
from dutydesk.db import Database
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
            self.iid, _ = make_integration(
                db, f"model-{next(NAMES)}", correlation_seconds=0, auto_resolve=False
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
