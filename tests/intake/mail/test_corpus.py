"""The golden corpus: every .eml of corpus/ ingested against the World of conftest, with the
outcome, the incident it lands on and the text kept given by corpus/manifest.json (M3, M4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.intake.mail.service import Outcome
from dutydesk.models import Attachment, Comment, Incident, MailMessage, MailQuarantine
from tests.intake.mail.conftest import DOMAIN, World

CORPUS = Path(__file__).parent / "corpus"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text("utf-8"))


def test_the_corpus_is_large_and_complete() -> None:
    files = {p.name for p in CORPUS.glob("*.eml")}
    assert len(CASES) >= 50
    assert files == {c["file"] for c in CASES}


def _raw(world: World, name: str) -> bytes:
    raw = (CORPUS / name).read_bytes()
    for key, value in (("{{A}}", world.a), ("{{R}}", world.r), ("{{DOMAIN}}", DOMAIN)):
        raw = raw.replace(key.encode(), value.encode())
    return raw


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_corpus_message(world: World, case: dict[str, Any]) -> None:
    result = world.ingest(_raw(world, case["file"]))
    assert result.outcome == Outcome(case["outcome"]), result.reason
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
