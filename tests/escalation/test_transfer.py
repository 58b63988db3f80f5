"""Export and import carry an incident's escalations and schedule: the round trip is exact."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from dutydesk.access.policy import system_actor
from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents.history import verify_chains
from dutydesk.incidents.transfer import export_incidents, import_incidents
from dutydesk.people import service as people
from tests.conftest import Backend
from tests.escalation.conftest import API, make_level, make_path, ok
from tests.factories import act, make_cast, new_incident


def _export(db: Database, storage: Path) -> str:
    out = io.StringIO()
    with db.unit_of_work(write=False) as session:
        export_incidents(session, out, storage_dir=storage)
    return out.getvalue()


def test_escalations_survive_export_and_import(
    fresh_db: Database, backend: Backend, tmp_path: Path
) -> None:
    storage = tmp_path / "files"
    cast = make_cast(fresh_db)
    settings = Settings(database_url="sqlite://", storage_dir=storage)
    with TestClient(create_app(settings, fresh_db)) as client:
        make_path(client, cast)
        make_level(client, cast, name="Far away", percent=90, notify_incident_managers=True)
        number = new_incident(
            client, cast.alice, caller_id=cast.dave.id, assignment_group_id=cast.desk.id
        )["number"]
        ok(act(client, cast.alice, number, "escalate", reason="to apps"))
        ok(
            client.post(
                f"{API}/incidents/{number}/escalations",
                json={"kind": "hierarchic", "reason": "VIP"},
                headers=cast.eve.headers,
            ),
            201,
        )
    text = _export(fresh_db, storage)
    [record] = [json.loads(line) for line in text.splitlines()[1:]]
    assert record["escalation_check_at"] is not None  # the 90 % level is still to come
    escalations: list[dict[str, Any]] = record["escalations"]
    assert [(e["kind"], e["to_group"], e["actor"]) for e in escalations] == [
        ("functional", "Application Support", "alice"),
        ("hierarchic", None, "eve"),
    ]
    assert escalations[1]["notified"] == ["ivy"]

    url, engine = backend.create()
    target = Database(engine)
    try:
        with target.unit_of_work() as s:  # other ids for the same names
            people.create_group(s, system_actor(), name="Zeta desk", tier="l1")
        make_cast(target)
        broken = text.replace('"to_group":"Application Support"', '"to_group":"Nobody"')
        report = import_incidents(target, io.StringIO(broken), storage_dir=storage)
        assert len(report.rejected) == 1 and "escalations.0.to_group" in report.rejected[0][1]
        report = import_incidents(target, io.StringIO(text), storage_dir=storage)
        assert (report.imported, report.rejected) == (1, [])
        assert _export(target, storage) == text
        with target.unit_of_work(write=False) as session:
            assert list(verify_chains(session)) == []
    finally:
        backend.drop(url, engine)
