"""Export and import of incidents with their history: exact round trip, idempotence, rejects."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from dutydesk.access.policy import system_actor
from dutydesk.app import create_app
from dutydesk.catalog import service as catalog
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents import transfer
from dutydesk.incidents.history import verify_chains
from dutydesk.incidents.transfer import (
    NESTED,
    REFERENCES,
    EventRecord,
    ImportReport,
    IncidentRecord,
    export_incidents,
    import_incidents,
)
from dutydesk.models import Attachment, Comment, Incident, IncidentEvent, IncidentLink
from dutydesk.people import service as people
from tests.conftest import Backend
from tests.factories import Cast, act, make_cast, make_person, new_incident

ATTACHMENT = b"2026-01-01 12:00:01 mta[42]: relay refused\n\x00\xff binary tail"


@dataclass
class Exported:
    text: str
    numbers: list[str]  # closed, new, cancelled, pending_user
    attachment_storage: str


def _client(db: Database, storage: Path) -> TestClient:
    settings = Settings(database_url="sqlite://", storage_dir=storage, require_if_match=True)
    return TestClient(create_app(settings, db))


def _export(db: Database, storage: Path) -> str:
    out = io.StringIO()
    with db.unit_of_work(write=False) as session:
        export_incidents(session, out, storage_dir=storage)
    return out.getvalue()


def _import(db: Database, text: str, storage: Path) -> ImportReport:
    return import_incidents(db, io.StringIO(text), storage_dir=storage)


def _populate(client: TestClient, cast: Cast) -> list[str]:
    alice, dave = cast.alice, cast.dave
    closed = new_incident(
        client,
        alice,
        caller_id=dave.id,
        service_id=cast.email_service.id,
        ci_id=cast.mail_server.id,
        category_id=cast.hardware.id,
        subcategory_id=cast.laptop.id,
        assignment_group_id=cast.desk.id,
        assignee_id=alice.id,
        impact=3,
        urgency=3,
    )
    n1 = closed["number"]
    url = f"/api/v1/incidents/{n1}"
    for who, body, visibility in (
        (alice, "checked the relay", "work_note"),
        (dave, "still broken", "public"),
    ):
        r = client.post(
            f"{url}/comments", json={"body": body, "visibility": visibility}, headers=who.headers
        )
        assert r.status_code == 201, r.text
    r = client.post(
        f"{url}/attachments",
        files={"file": ("mta.log", ATTACHMENT, "text/plain")},
        data={"visibility": "public"},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    etag = client.get(url, headers=alice.headers).headers["etag"]
    r = client.patch(
        url,
        json={"impact": 1, "reason": "whole floor"},
        headers={**alice.headers, "If-Match": etag},
    )
    assert r.status_code == 200 and r.json()["priority"] == 3, r.text
    assert act(client, alice, n1, "start").status_code == 200
    r = act(
        client,
        alice,
        n1,
        "resolve",
        resolution_code="fixed",
        resolution_notes="relay fixed",
        is_workaround=False,
    )
    assert r.json()["state"] == "resolved", r.text
    assert act(client, dave, n1, "confirm").json()["state"] == "closed"

    n2 = new_incident(client, dave, short_description="Drucker kaputt – “ümlaut” ✓ 🖨")["number"]
    n3 = new_incident(client, alice, caller_id=dave.id, assignment_group_id=cast.desk.id)["number"]
    assert act(client, alice, n3, "cancel", reason="duplicate call").json()["state"] == "cancelled"
    n4 = new_incident(client, alice, caller_id=cast.erin.id, assignment_group_id=cast.apps.id)[
        "number"
    ]
    assert act(client, cast.eve, n4, "start").status_code == 200
    r = act(client, cast.eve, n4, "pend", target="pending_user", reason="waiting for logs")
    assert r.json()["state"] == "pending_user", r.text
    r = client.post(
        f"/api/v1/incidents/{n4}/links",
        json={"number": n2, "kind": "related"},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    return [n1, n2, n3, n4]


@pytest.fixture(scope="module")
def exported(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """Database A: four incidents in four states, exported once for every test here."""
    url, engine = backend.create()
    db = Database(engine)
    storage = tmp_path_factory.mktemp("files-a")
    try:
        cast = make_cast(db)
        with _client(db, storage) as client:
            numbers = _populate(client, cast)
        with db.unit_of_work(write=False) as session:
            stored = session.scalars(select(Attachment.storage_name)).one()
        yield Exported(_export(db, storage), numbers, stored)
    finally:
        backend.drop(url, engine)


@pytest.fixture
def target(backend: Backend) -> Iterator[tuple[Database, Cast]]:
    """Database B: the same reference data by name, but under different ids."""
    url, engine = backend.create()
    db = Database(engine)
    try:
        actor = system_actor()
        with db.unit_of_work() as s:
            people.create_customer(s, actor, name="Zeta")
            people.create_group(s, actor, name="Zeta desk", tier="l1")
            catalog.create_service(s, actor, name="Zeta service")
            catalog.create_category(s, actor, name="Zeta")
            catalog.create_ci(s, actor, name="zeta01", ci_class="server")
            make_person(s, "zed", "agent")
        yield db, make_cast(db)
    finally:
        backend.drop(url, engine)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def _text(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)


def test_the_format_covers_every_column() -> None:
    incident = {c.name for c in Incident.__table__.columns} - {"id"}
    by_id = {f"{name}_id" for name in REFERENCES}
    assert set(IncidentRecord.model_fields) - NESTED == (incident - by_id) | set(REFERENCES)
    event = {c.name for c in IncidentEvent.__table__.columns} - {"id", "incident_id"}
    assert set(EventRecord.model_fields) == event


def test_export_shape(exported: Exported) -> None:
    header, *records = _lines(exported.text)
    assert header == {"format": "dutydesk-incidents", "version": 1}
    assert [r["number"] for r in records] == sorted(exported.numbers)
    assert exported.text.isascii()
    closed = records[0]
    names = ("caller", "opened_by", "assignment_group", "ci", "category", "subcategory")
    assert [closed[name] for name in names] == [
        "dave", "alice", "Service Desk", "mail01", "Hardware", "Hardware/Laptop",
    ]  # fmt: skip
    assert closed["opened_at"].endswith("+00:00") and len(closed["opened_at"]) == 32
    assert [c["author"] for c in closed["comments"]] == ["alice", "dave"]
    assert (
        closed["attachments"][0]["filename"] == "mta.log"
        and "storage_name" not in closed["attachments"][0]
    )
    assert len(closed["events"]) == closed["history_count"] and closed["version"] > 1
    assert records[3]["links"][0]["number"] == exported.numbers[1]


def test_round_trip_is_exact_and_verifies(
    exported: Exported, target: tuple[Database, Cast], tmp_path: Path
) -> None:
    db, cast = target
    created = json.loads(_lines(exported.text)[1]["events"][0]["new"])
    assert (created["caller_id"], created["subcategory_id"]) != (cast.dave.id, cast.laptop.id)
    storage = tmp_path / "files-b"
    report = _import(db, exported.text, storage)
    assert (report.imported, report.skipped, report.rejected, report.links) == (4, 0, [], 1)
    assert report.link_problems == []
    assert _export(db, storage) == exported.text
    with db.unit_of_work(write=False) as session:
        assert list(verify_chains(session)) == []
        attachment = session.scalars(select(Attachment)).one()
        assert attachment.storage_name != exported.attachment_storage
        assert (storage / attachment.storage_name).read_bytes() == ATTACHMENT
        incident = session.scalars(
            select(Incident).where(Incident.number == exported.numbers[0])
        ).one()
        assert (incident.caller_id, incident.subcategory_id) == (cast.dave.id, cast.laptop.id)


def test_importing_twice_changes_nothing(
    exported: Exported, target: tuple[Database, Cast], tmp_path: Path
) -> None:
    db, _cast = target
    storage = tmp_path / "files-b"
    _import(db, exported.text, storage)
    files = sorted(storage.iterdir())
    again = _import(db, exported.text, storage)
    assert (again.imported, again.skipped, again.rejected, again.links) == (0, 4, [], 0)
    assert sorted(storage.iterdir()) == files
    assert _export(db, storage) == exported.text


def test_new_incidents_number_after_the_imported_ones(
    exported: Exported, target: tuple[Database, Cast], tmp_path: Path
) -> None:
    db, cast = target
    _import(db, exported.text, tmp_path / "files-b")
    with _client(db, tmp_path / "files-b") as client:
        number = new_incident(client, cast.dave)["number"]
    assert number == f"INC{int(max(exported.numbers)[3:]) + 1:07d}"


def _bad_json(record: dict[str, Any]) -> str:
    return json.dumps(record)[:-20]


def _unknown_user(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "assignee": "ghost"}


def _tampered(record: dict[str, Any]) -> dict[str, Any]:
    events = [dict(e) for e in record["events"]]
    events[-1]["new"] = json.dumps("closed")
    return {**record, "events": events}


def _dropped_event(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "events": record["events"][:-1]}


def _wrong_types(record: dict[str, Any]) -> dict[str, Any]:
    changed = {**record, "impact": "1"}
    del changed["priority"]
    return changed


def _bad_attachment(record: dict[str, Any]) -> dict[str, Any]:
    attachment = {**record["attachments"][0], "data": "QUJD"}
    return {**record, "attachments": [attachment]}


MUTATIONS: list[tuple[Callable[[dict[str, Any]], Any], str]] = [
    (_bad_json, "malformed JSON"),
    (_unknown_user, "assignee: unknown user 'ghost'"),
    (_tampered, "broken hash chain: event #"),
    (_dropped_event, "broken hash chain: history_count"),
    (
        _wrong_types,
        "invalid record: impact: Input should be a valid integer; priority: Field required",
    ),
    (_bad_attachment, "attachments.0.data: does not match its size and sha256"),
]


@pytest.mark.parametrize(("mutate", "reason"), MUTATIONS, ids=[m.__name__ for m, _ in MUTATIONS])
def test_a_bad_line_is_rejected_whole_and_the_rest_imported(
    exported: Exported,
    target: tuple[Database, Cast],
    tmp_path: Path,
    mutate: Callable[[dict[str, Any]], Any],
    reason: str,
) -> None:
    db, _cast = target
    header, *records = _lines(exported.text)
    victim = 0 if mutate is _bad_attachment else 2  # the attachment lives on the first one
    number = records[victim]["number"]
    bad = mutate(records[victim])
    lines = [_text([header])]
    for i, record in enumerate(records):
        if i != victim:
            lines.append(_text([record]))
        else:
            lines.append((bad if isinstance(bad, str) else json.dumps(bad)) + "\n")
    storage = tmp_path / "files-b"
    report = _import(db, "".join(lines), storage)
    assert report.imported == 3 and report.skipped == 0
    assert len(report.rejected) == 1
    line, why = report.rejected[0]
    assert line == victim + 2 and reason in why, why
    with db.unit_of_work(write=False) as session:
        assert session.scalar(select(Incident.id).where(Incident.number == number)) is None
        events = session.scalar(select(func.count()).select_from(IncidentEvent))
        assert events == sum(len(r["events"]) for i, r in enumerate(records) if i != victim)
        assert session.scalar(select(func.count()).select_from(Comment)) == (
            0 if victim == 0 else 2
        )
        assert list(verify_chains(session)) == []
    if victim == 0:
        assert not storage.exists() or not any(storage.iterdir())
    assert "rejected" in report.summary() and why in report.summary()


def test_a_link_to_a_missing_incident_is_skipped_and_reported(
    exported: Exported, target: tuple[Database, Cast], tmp_path: Path
) -> None:
    db, _cast = target
    header, *records = _lines(exported.text)
    linked = exported.numbers[1]
    text = _text([header, *(r for r in records if r["number"] != linked)])
    report = _import(db, text, tmp_path / "files-b")
    assert (report.imported, report.rejected, report.links) == (3, [], 0)
    assert len(report.link_problems) == 1 and f"no incident {linked}" in report.link_problems[0][1]
    with db.unit_of_work(write=False) as session:
        assert session.scalar(select(func.count()).select_from(IncidentLink)) == 0


def test_a_database_failure_leaves_nothing_behind(
    exported: Exported,
    target: tuple[Database, Cast],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing(session: Session, number: str) -> None:  # after the files are written
        raise OperationalError("UPDATE counter", {}, Exception("disk I/O error"))

    monkeypatch.setattr(transfer.importing, "_raise_counter", failing)
    db, _cast = target
    storage = tmp_path / "files-b"
    report = _import(db, exported.text, storage)
    assert report.imported == 0 and len(report.rejected) == 4
    assert all("the database refused it: disk I/O error" in why for _, why in report.rejected)
    with db.unit_of_work(write=False) as session:
        for table in (Incident, IncidentEvent, Comment, Attachment, IncidentLink):
            assert session.scalar(select(func.count()).select_from(table)) == 0
    assert not any(storage.iterdir())


@pytest.mark.parametrize(
    ("first_line", "reason"),
    [
        ("", "the file is empty"),
        ('{"number": "INC0000001"}\n', "not a DutyDesk incident export"),
        (
            '{"format": "dutydesk-incidents", "version": 2}\n',
            "unsupported dutydesk-incidents version 2",
        ),
    ],
)
def test_a_file_without_the_header_is_refused(
    exported: Exported, target: tuple[Database, Cast], tmp_path: Path, first_line: str, reason: str
) -> None:
    db, _cast = target
    body = exported.text.split("\n", 1)[1] if first_line else ""
    report = _import(db, first_line + body, tmp_path / "files-b")
    assert report.imported == 0 and len(report.rejected) == 1
    assert report.rejected[0][0] == 1 and reason in report.rejected[0][1]
    with db.unit_of_work(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 0
