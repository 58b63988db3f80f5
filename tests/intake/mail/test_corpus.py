"""The golden corpus: every .eml of corpus/ ingested against the World of conftest, with the
outcome, the incident it lands on and the text kept given by corpus/manifest.json (M3, M4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.intake.mail.service import Outcome
from dutydesk.models import (
    Attachment,
    Comment,
    Incident,
    IncidentEvent,
    MailMessage,
    MailQuarantine,
    Notification,
)
from tests.intake.mail.conftest import DOMAIN, World

CORPUS = Path(__file__).parent / "corpus"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text("utf-8"))


def test_the_corpus_is_large_and_complete() -> None:
    files = {p.name for p in CORPUS.glob("*.eml")}
    assert len(CASES) >= 50
    assert files == {c["file"] for c in CASES}


def _note(world: World) -> Any:
    """R's latest e-mail notification (id, message_id, bounced_at, last_error): the mail the
    bounce cases return."""
    with world.db.unit_of_work(write=False) as s:
        return s.execute(
            select(
                Notification.id,
                Notification.message_id,
                Notification.bounced_at,
                Notification.last_error,
            )
            .join(Incident, Incident.id == Notification.incident_id)
            .where(Incident.number == world.r, Notification.channel == "email")
            .order_by(Notification.id.desc())
            .limit(1)
        ).one()


def _raw(world: World, name: str) -> bytes:
    raw = (CORPUS / name).read_bytes()
    note = _note(world).message_id if b"{{NOTE}}" in raw else ""
    for key, value in (
        ("{{A}}", world.a),
        ("{{R}}", world.r),
        ("{{DOMAIN}}", DOMAIN),
        ("{{NOTE}}", note),
    ):
        raw = raw.replace(key.encode(), value.encode())
    return raw


def _check_bounce(world: World, case: dict[str, Any]) -> None:
    """Bounce cases mark R's notification and note it on R; nothing else bounces anything."""
    with world.db.unit_of_work(write=False) as s:
        bounced = s.scalars(select(Notification.id).where(Notification.state == "bounced")).all()
        noted = s.execute(
            select(Incident.number, IncidentEvent.rule_id, IncidentEvent.new)
            .join(Incident, Incident.id == IncidentEvent.incident_id)
            .where(IncidentEvent.kind == "notification_bounced")
        ).all()
    if case.get("bounced") != "R":
        assert (list(bounced), list(noted)) == ([], [])
        return
    note = _note(world)
    assert list(bounced) == [note.id] and note.bounced_at is not None
    assert note.last_error and note.last_error.startswith("bounced: ")
    if case["file"].startswith("dsn_"):  # an RFC 3464 report: its status is kept
        assert "failed 5.1.1 smtp; 550 5.1.1 user unknown" in note.last_error
    assert [(number, rule) for number, rule, _ in noted] == [(world.r, "M-BNC")]


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_corpus_message(world: World, case: dict[str, Any]) -> None:
    result = world.ingest(_raw(world, case["file"]))
    assert result.outcome == Outcome(case["outcome"]), result.reason
    _check_bounce(world, case)
    target = {"A": world.a, "R": world.r}.get(case["target"])
    with world.db.unit_of_work(write=False) as s:
        record = s.get(MailMessage, result.record_id)
        assert record is not None and record.outcome == case["outcome"]
        if case["target"] is None:
            assert result.incident_number is None
            if case["outcome"] in ("quarantined", "held"):
                held = s.get(MailQuarantine, record.quarantine_id)
                assert held is not None and held.raw == _raw(world, case["file"])
            return
        if case["target"] == "new":
            assert result.incident_number not in (world.a, world.r, None)
        else:
            assert result.incident_number == target
        incident = s.scalars(
            select(Incident).where(Incident.number == result.incident_number)
        ).one()
        if case["outcome"] == "created":
            text = incident.description
            assert incident.channel == "email"
        else:
            comment = s.get(Comment, record.comment_id)
            assert comment is not None and comment.visibility == "public"
            text = comment.body
        if "contains" in case:
            assert case["contains"] in text, text
        if "excludes" in case:
            assert case["excludes"] not in text, text
        if "short_description" in case:
            assert incident.short_description == case["short_description"]
        if "attachments" in case:
            names = s.scalars(
                select(Attachment.filename).where(Attachment.incident_id == incident.id)
            ).all()
            assert sorted(names) == sorted(case["attachments"])
