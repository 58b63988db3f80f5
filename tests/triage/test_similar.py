"""Similar incidents: ranked by text, with their resolution, up to date after new
resolutions, and never showing an incident the caller may not see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.models import Incident
from tests.factories import Cast, new_incident
from tests.triage.conftest import API, T0, ok, seed_history

PRINTER = "printer toner paper jam on the third floor"


@pytest.fixture
def history(db: Database, cast: Cast, settings: Settings) -> list[str]:
    settings.similar_refresh_seconds = 0
    return seed_history(db, cast, 120)


def similar(client: TestClient, who, text: str, limit: int = 5):  # type: ignore[no-untyped-def]
    return client.get(f"{API}/similar", params={"text": text, "limit": limit}, headers=who.headers)


def resolve_directly(db: Database, number: str, text: str, hours: int, **fields: object) -> None:
    with db.unit_of_work() as s:
        incident = s.scalars(select(Incident).where(Incident.number == number)).one()
        incident.short_description = text
        incident.state = "resolved"
        incident.resolved_at = T0 + timedelta(days=400, hours=hours)
        incident.resolution_notes = "replaced the fuser"
        for name, value in fields.items():
            setattr(incident, name, value)


def test_ranked_by_text_with_their_resolution(
    client: TestClient, cast: Cast, history: list[str]
) -> None:
    found = ok(similar(client, cast.alice, "vpn router latency"))
    assert len(found) == 5
    scores = [f["score"] for f in found]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    notes = [f["resolution_notes"] for f in found]
    assert notes[0] == "fixed the network problem"
    assert notes.count("fixed the network problem") >= 4  # a few tickets borrow other words
    assert {"number", "short_description", "state", "resolution_code", "resolved_at"} <= set(
        found[0]
    )


def test_new_resolutions_are_found_and_reopened_ones_dropped(
    client: TestClient, cast: Cast, db: Database, history: list[str]
) -> None:
    ok(similar(client, cast.alice, PRINTER))  # builds the index
    number = new_incident(client, cast.alice, caller_id=cast.dave.id)["number"]
    resolve_directly(db, number, PRINTER, 1)
    [best] = ok(similar(client, cast.alice, PRINTER, limit=1))
    assert (best["number"], best["resolution_notes"]) == (number, "replaced the fuser")
    with db.unit_of_work() as s:
        s.scalars(select(Incident).where(Incident.number == number)).one().state = "in_progress"
    assert number not in [f["number"] for f in ok(similar(client, cast.alice, PRINTER))]


def test_an_incidents_similar_ones_exclude_itself_and_what_the_caller_cannot_see(
    client: TestClient, cast: Cast, db: Database, history: list[str]
) -> None:
    mine = new_incident(client, cast.carol, short_description="vpn router latency dns")
    carols = ok(client.get(f"{API}/incidents/{mine['number']}/similar", headers=cast.carol.headers))
    assert carols == []  # every resolved network incident is Acme's
    # Globex's own resolved incident is the one carol may see
    other = new_incident(client, cast.carol, short_description="x")["number"]
    resolve_directly(db, other, "vpn router latency firewall", 2)
    carols = ok(client.get(f"{API}/incidents/{mine['number']}/similar", headers=cast.carol.headers))
    assert [f["number"] for f in carols] == [other]
    daves = ok(
        client.get(f"{API}/incidents/{history[0]}/similar?limit=3", headers=cast.dave.headers)
    )
    assert len(daves) == 3 and history[0] not in [f["number"] for f in daves]
    assert other not in [f["number"] for f in daves]
    assert similar(client, cast.carol, "vpn").status_code == 403
    assert similar(client, cast.alice, "").status_code == 422
    assert (
        client.get(f"{API}/similar?text=vpn&limit=500", headers=cast.alice.headers).status_code
        == 422
    )


def test_nothing_indexed_nothing_found(client: TestClient, cast: Cast) -> None:
    assert ok(similar(client, cast.alice, "anything at all")) == []
