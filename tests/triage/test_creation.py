"""End to end: train on the database's resolved incidents, create an incident through the
API, and the model sets its group (logged with why), or suggests it below the threshold;
one action reverts or accepts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.triage import training
from tests.factories import Cast, act, new_incident
from tests.triage.conftest import API, events, ok, seed_history, suggestions

NETWORK = {"short_description": "vpn router down", "description": "dns and firewall latency"}
VAGUE = {"short_description": "vpn issue since morning", "description": "please help"}


@pytest.fixture
def trained(db: Database, cast: Cast, settings: Settings) -> int:
    seed_history(db, cast, 240)
    [outcome] = training.train_from_incidents(db, settings, ["group"])
    assert outcome.version is not None, outcome.skipped
    assert outcome.n_examples == 240
    return outcome.version


def test_the_model_sets_the_group_and_the_history_says_why(
    client: TestClient, cast: Cast, settings: Settings, trained: int
) -> None:
    settings.triage_auto_apply_confidence = 0.6
    created = new_incident(client, cast.dave, **NETWORK)
    assert created["assignment_group_id"] == cast.infra.id
    assert created["state"] == "assigned"
    number = created["number"]
    [applied] = events(client, cast.bob, number, "triage_applied")
    assert (applied["actor_name"], applied["rule_id"]) == ("triage", "TRI-group")
    assert applied["new"] == str(cast.infra.id)
    assert f"triage model v{trained}: Infrastructure at confidence" in applied["reason"]
    assert any(w in applied["reason"] for w in ("vpn", "router", "dns", "firewall"))
    [row] = suggestions(client, cast.alice, number)
    assert (row["status"], row["target"], row["label"]) == ("applied", "group", "Infrastructure")
    assert row["confidence"] >= 0.6 and row["words"]


def applied(client: TestClient, cast: Cast, settings: Settings) -> tuple[str, dict[str, Any]]:
    """A new incident whose group triage applied, and that suggestion."""
    settings.triage_auto_apply_confidence = 0.6
    number = new_incident(client, cast.dave, **NETWORK)["number"]
    [row] = suggestions(client, cast.bob, number)
    assert row["status"] == "applied"
    return number, row


def test_revert_restores_the_previous_value_once(
    client: TestClient, cast: Cast, settings: Settings, trained: int
) -> None:
    number, row = applied(client, cast, settings)
    url = f"{API}/incidents/{number}/suggestions/{row['id']}/revert"
    reverted = ok(client.post(url, json={"note": "wrong team"}, headers=cast.bob.headers))
    assert reverted["status"] == "reverted"
    incident = ok(client.get(f"{API}/incidents/{number}", headers=cast.bob.headers))
    assert (incident["assignment_group_id"], incident["state"]) == (None, "new")
    [logged] = events(client, cast.bob, number, "triage_reverted")
    assert (logged["rule_id"], logged["reason"], logged["actor_name"]) == (
        "TRI-R",
        "wrong team",
        "bob",
    )
    assert client.post(url, headers=cast.bob.headers).status_code == 409  # nothing left to undo


def test_revert_is_refused_once_someone_changed_the_field(
    client: TestClient, cast: Cast, settings: Settings, trained: int
) -> None:
    number, row = applied(client, cast, settings)
    moved = act(client, cast.bob, number, "assign", group_id=cast.apps.id)
    assert moved.status_code == 200, moved.text
    refused = client.post(
        f"{API}/incidents/{number}/suggestions/{row['id']}/revert", headers=cast.bob.headers
    )
    assert refused.status_code == 409
    assert "no longer holds Infrastructure" in refused.json()["detail"]
    assert (
        ok(client.get(f"{API}/incidents/{number}", headers=cast.bob.headers))["assignment_group_id"]
        == cast.apps.id
    )


def test_below_the_threshold_it_is_a_suggestion_an_agent_accepts(
    client: TestClient, cast: Cast, settings: Settings, trained: int
) -> None:
    settings.triage_auto_apply_confidence = 0.99
    created = new_incident(client, cast.dave, **VAGUE)
    assert (created["assignment_group_id"], created["state"]) == (None, "new")
    number = created["number"]
    assert events(client, cast.bob, number, "triage_applied") == []
    [row] = suggestions(client, cast.alice, number)
    assert (row["status"], row["label"]) == ("pending", "Infrastructure")
    assert 0 < row["confidence"] < 0.99 and "vpn" in row["words"]
    accepted = ok(
        client.post(
            f"{API}/incidents/{number}/suggestions/{row['id']}/accept", headers=cast.alice.headers
        )
    )
    assert (accepted["status"], accepted["decided_by_id"]) == ("accepted", cast.alice.id)
    incident = ok(client.get(f"{API}/incidents/{number}", headers=cast.bob.headers))
    assert (incident["assignment_group_id"], incident["state"]) == (cast.infra.id, "assigned")
    [logged] = events(client, cast.bob, number, "triage_accepted")
    assert (logged["actor_name"], logged["rule_id"]) == ("alice", "TRI-group")


def test_a_field_the_caller_set_is_left_alone_and_zero_applies_nothing(
    client: TestClient, cast: Cast, settings: Settings, trained: int
) -> None:
    settings.triage_auto_apply_confidence = 0.6
    given = new_incident(
        client, cast.alice, caller_id=cast.dave.id, assignment_group_id=cast.desk.id, **NETWORK
    )
    assert given["assignment_group_id"] == cast.desk.id
    assert suggestions(client, cast.bob, given["number"]) == []
    settings.triage_auto_apply_confidence = 0.0
    shown = new_incident(client, cast.dave, **NETWORK)
    assert shown["assignment_group_id"] is None
    assert [r["status"] for r in suggestions(client, cast.bob, shown["number"])] == ["pending"]


def test_requesters_cannot_see_or_decide_suggestions(
    client: TestClient, cast: Cast, settings: Settings, trained: int
) -> None:
    settings.triage_auto_apply_confidence = 0.99
    number = new_incident(client, cast.dave, **VAGUE)["number"]
    assert (
        client.get(f"{API}/incidents/{number}/suggestions", headers=cast.dave.headers).status_code
        == 403
    )
    [row] = suggestions(client, cast.bob, number)
    base = f"{API}/incidents/{number}/suggestions/{row['id']}"
    assert client.post(f"{base}/accept", headers=cast.dave.headers).status_code == 403
    assert client.post(f"{base}/launch", headers=cast.bob.headers).status_code == 404
    assert (
        client.post(
            f"{API}/incidents/{number}/suggestions/999999/accept", headers=cast.bob.headers
        ).status_code
        == 404
    )
    dismissed = ok(
        client.post(f"{base}/dismiss", json={"note": "not sure"}, headers=cast.bob.headers)
    )
    assert dismissed["status"] == "dismissed"
    assert client.post(f"{base}/accept", headers=cast.bob.headers).status_code == 409


def test_without_a_model_creation_is_unchanged(client: TestClient, cast: Cast) -> None:
    created = new_incident(client, cast.dave, **NETWORK)
    assert created["assignment_group_id"] is None
    assert suggestions(client, cast.bob, created["number"]) == []


def test_a_tampered_model_is_never_applied(
    client: TestClient, cast: Cast, db: Database, settings: Settings, trained: int
) -> None:
    from sqlalchemy import update

    from dutydesk.models import TriageModel

    settings.triage_auto_apply_confidence = 0.6
    with db.unit_of_work() as s:
        s.execute(update(TriageModel).values(signature="0" * 64))
    created: dict[str, Any] = new_incident(client, cast.dave, **NETWORK)
    assert created["assignment_group_id"] is None


def test_a_group_disbanded_since_training_is_not_suggested(
    client: TestClient, cast: Cast, db: Database, settings: Settings, trained: int
) -> None:
    from dutydesk.models import SupportGroup

    settings.triage_auto_apply_confidence = 0.6
    with db.unit_of_work() as s:
        group = s.get(SupportGroup, cast.infra.id)
        assert group is not None
        group.is_active = False
    created = new_incident(client, cast.dave, **NETWORK)
    assert created["assignment_group_id"] is None
    assert suggestions(client, cast.bob, created["number"]) == []


def test_a_request_is_only_ever_suggested(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    from sqlalchemy import update

    from dutydesk.models import Incident

    seed_history(db, cast, 200)
    with db.unit_of_work() as s:  # the desk's tickets were equipment requests
        s.execute(
            update(Incident)
            .where(Incident.assignment_group_id == cast.desk.id)
            .values(state="cancelled", cancel_reason="Service request: ordered through the shop")
        )
    [outcome] = training.train_from_incidents(db, settings, ["request"])
    assert outcome.version is not None, outcome.skipped
    settings.triage_auto_apply_confidence = 0.5
    number = new_incident(
        client, cast.dave, short_description="new laptop charger", description="and a keyboard"
    )["number"]
    [row] = suggestions(client, cast.bob, number)
    assert (row["target"], row["field"], row["status"]) == ("request", None, "pending")
    assert row["label"] == "service request" and row["confidence"] > 0.5
    url = f"{API}/incidents/{number}/suggestions/{row['id']}"
    assert ok(client.post(f"{url}/accept", headers=cast.alice.headers))["status"] == "accepted"
    [logged] = events(client, cast.bob, number, "triage_accepted")
    assert (logged["field"], logged["rule_id"]) == ("request", "TRI-request")
    assert client.post(f"{url}/revert", headers=cast.bob.headers).status_code == 409
