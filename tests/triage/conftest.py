"""Triage test helpers: a resolved history of generated tickets, the processes' caches reset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dutydesk.db import Database
from dutydesk.incidents import changes
from dutydesk.triage import service, similar
from dutydesk.triage.synthetic import tickets
from tests.factories import Cast, Person

API = "/api/v1"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# the generated classes and the support group each one was resolved by
GROUP_OF = {"network": "infra", "hardware": "desk", "email": "apps", "access": "vendor"}


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test's database is rolled back: no process cache may outlive it."""
    service.forget_models()
    similar.forget()
    yield
    service.forget_models()
    similar.forget()


def seed_history(
    db: Database, cast: Cast, n: int, *, seed: int = 1, prefix: str = "HIS", **fields: Any
) -> list[str]:
    """n resolved incidents of generated tickets (4 classes), each resolved by its class's
    group, opened an hour apart; returns their numbers."""
    numbers = []
    with db.unit_of_work() as s:
        for i, t in enumerate(tickets(n, seed=seed, classes=4, mislabelled=0.03)):
            group = getattr(cast, GROUP_OF[t.label])
            opened = T0 + timedelta(hours=i)
            incident = changes.new_incident(
                f"{prefix}{i:07d}",
                short_description=t.short_description,
                description=t.description,
                channel="phone",
                caller_id=cast.dave.id,
                customer_id=cast.acme.id,
                impact=2,
                urgency=2,
                priority=3,
                state="resolved",
                assignment_group_id=group.id,
                resolution_code="solved",
                resolution_notes=f"fixed the {t.label} problem",
                **fields,
            )
            incident.opened_at = opened
            incident.resolved_at = opened + timedelta(minutes=30)
            s.add(incident)
            numbers.append(incident.number)
    return numbers


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def events(client: TestClient, who: Person, number: str, *kinds: str) -> list[dict[str, Any]]:
    found = ok(client.get(f"{API}/incidents/{number}/events", headers=who.headers))
    return [e for e in found if e["kind"] in kinds]


def suggestions(client: TestClient, who: Person, number: str) -> list[dict[str, Any]]:
    return ok(client.get(f"{API}/incidents/{number}/suggestions", headers=who.headers))  # type: ignore[no-any-return]
