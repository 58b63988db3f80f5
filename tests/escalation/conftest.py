"""Escalation test helpers: the frozen clock, the worker's jobs, paths and levels via the API.

The seeded SLA policies run on the 24×7 calendar: P3 (impact 2 × urgency 2) has a 4 h
response and a 24 h resolution target; P2 30 min and 8 h; P1 15 min and 4 h.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.escalation import jobs as escalation_jobs
from dutydesk.kernel import clock
from dutydesk.models import Incident, Notification
from dutydesk.sla import jobs as sla_jobs
from tests.factories import Cast, Person

API = "/api/v1"
H = 3600
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def advance() -> Iterator[Any]:
    with clock.frozen(T0) as move:
        yield move


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def tick(db: Database, settings: Settings) -> tuple[int, int]:
    """One round of the worker's SLA and escalation jobs at the frozen now."""
    now = clock.now()
    return (
        sla_jobs.fire_due(db, settings, now).done,
        escalation_jobs.fire_due(db, settings, now).done,
    )


def make_path(client: TestClient, cast: Cast, **body: Any) -> dict[str, Any]:
    """By default the whole matrix: Service Desk (auto) → Application Support →
    Infrastructure → Vendor."""
    body.setdefault("name", "Desk path")
    body.setdefault(
        "steps",
        [
            {"level": 1, "group_id": cast.desk.id, "auto": True},
            {"level": 2, "group_id": cast.apps.id},
            {"level": 3, "group_id": cast.infra.id},
            {"level": 4, "group_id": cast.vendor.id},
        ],
    )
    return ok(  # type: ignore[no-any-return]
        client.post(f"{API}/admin/escalation/paths", json=body, headers=cast.bob.headers), 201
    )


def make_level(client: TestClient, cast: Cast, **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"Level {body.get('percent') or body.get('delay_seconds')}")
    body.setdefault("trigger", "percent" if "percent" in body else "delay")
    return ok(  # type: ignore[no-any-return]
        client.post(f"{API}/admin/escalation/levels", json=body, headers=cast.bob.headers), 201
    )


def escalations(client: TestClient, who: Person, number: str) -> list[dict[str, Any]]:
    return ok(  # type: ignore[no-any-return]
        client.get(f"{API}/incidents/{number}/escalations", headers=who.headers)
    )


def events(client: TestClient, who: Person, number: str, *kinds: str) -> list[dict[str, Any]]:
    found = ok(client.get(f"{API}/incidents/{number}/events", headers=who.headers))
    return [e for e in found if e["kind"] in kinds]


def read(client: TestClient, who: Person, number: str) -> dict[str, Any]:
    return ok(  # type: ignore[no-any-return]
        client.get(f"{API}/incidents/{number}", headers=who.headers)
    )


def notified(db: Database, number: str, event: str = "escalated") -> list[int | None]:
    """The users mailed about `event` on the incident, in the order written."""
    with db.unit_of_work(write=False) as s:
        return list(
            s.scalars(
                select(Notification.recipient_user_id)
                .join(Incident, Incident.id == Notification.incident_id)
                .where(
                    Incident.number == number,
                    Notification.event == event,
                    Notification.channel == "email",
                )
                .order_by(Notification.id)
            )
        )


def set_manager(client: TestClient, cast: Cast, group_id: int, user: Person) -> None:
    ok(
        client.patch(
            f"{API}/admin/groups/{group_id}",
            json={"manager_id": user.id},
            headers=cast.bob.headers,
        )
    )
