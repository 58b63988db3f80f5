"""Builders shared by the intake tests: integrations, signals, and reading alerts back."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake import admin, service
from dutydesk.intake.schemas import IntegrationCreate
from dutydesk.intake.signals import EventAction, Signal
from dutydesk.models import Alert, Incident, IncidentEvent, Integration

PAYLOADS = Path(__file__).parent / "payloads"
T = TypeVar("T")


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def make_integration(db: Database, name: str = "prometheus", **fields: Any) -> tuple[int, str]:
    with db.unit_of_work() as s:
        integration, token = admin.create_integration(
            s, system_actor(), IntegrationCreate(name=name, **fields)
        )
        return integration.id, token


def fire(key: str, **fields: Any) -> Signal:
    return Signal(
        key, EventAction.trigger, summary=fields.pop("summary", f"{key} is down"), **fields
    )


def resolve(key: str) -> Signal:
    return Signal(key, EventAction.resolve)


def ack(key: str) -> Signal:
    return Signal(key, EventAction.acknowledge)


def send(
    db: Database, settings: Settings, integration_id: int, *signals: Signal
) -> list[service.Ingested]:
    with db.unit_of_work() as s:
        integration = s.get(Integration, integration_id)
        assert integration is not None
        return service.ingest_many(s, settings, integration, list(signals))


def alerts(db: Database, integration_id: int) -> list[Alert]:
    with db.unit_of_work(write=False) as s:
        rows = s.scalars(
            select(Alert).where(Alert.integration_id == integration_id).order_by(Alert.id)
        ).all()
        s.expunge_all()
        return list(rows)


def incident(db: Database, number: str) -> tuple[str, list[tuple[str, str | None]]]:
    """(state, [(kind, rule_id)…]) of an incident."""
    with db.unit_of_work(write=False) as s:
        found = s.scalars(select(Incident).where(Incident.number == number)).one()
        events = s.execute(
            select(IncidentEvent.kind, IncidentEvent.rule_id)
            .where(IncidentEvent.incident_id == found.id)
            .order_by(IncidentEvent.seq)
        ).all()
        return found.state, [(k, r) for k, r in events]


def at_once(work: Callable[[], T], workers: int = 4) -> list[T]:
    """Run `work` in `workers` threads released together (several worker processes due at
    the same instant); their results, or the first error raised."""
    start = threading.Barrier(workers)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(work())
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return results
