"""Reads for triage: training rows from the history, stored models, an incident's suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from dutydesk.access.policy import Actor
from dutydesk.kernel.errors import Forbidden, NotFound
from dutydesk.models import Incident, TriageModel, TriageSuggestion
from dutydesk.triage.text import Examples, document

LEARNED_STATES = ("resolved", "closed")
TRAINING_COLUMNS = (
    Incident.short_description,
    Incident.description,
    Incident.customer_id,
    Incident.service_id,
    Incident.ci_id,
    Incident.channel,
    Incident.state,
    Incident.cancel_reason,
    Incident.category_id,
    Incident.assignment_group_id,
)
# Until service requests have their own conversion, an incident cancelled with a reason
# naming a service request is the history's example of "this was a request".
REQUEST_MARK = "service request"
REQUEST, INCIDENT = "request", "incident"


@dataclass(frozen=True)
class Target:
    name: str
    field: str | None  # the incident column it fills; None: a flag with no column


TARGETS: dict[str, Target] = {
    "category": Target("category", "category_id"),
    "group": Target("group", "assignment_group_id"),
    "request": Target("request", None),
}


def fields_of(incident: Any) -> dict[str, str]:
    """The categorical features of an incident or a row of TRAINING_COLUMNS (ids as text;
    empty when unset)."""
    return {
        "customer": str(incident.customer_id or ""),
        "service": str(incident.service_id or ""),
        "ci": str(incident.ci_id or ""),
        "channel": incident.channel or "",
    }


def text_of(incident: Any) -> str:
    return document(incident.short_description, incident.description)


def training_examples(session: Session, target: Target, limit: int) -> tuple[Examples, int]:
    """(examples oldest first, rows read) for a target from resolved, closed and — for the
    request flag — cancelled-as-request incidents; the newest `limit` rows at most."""
    states = [*LEARNED_STATES, "cancelled"] if target.field is None else list(LEARNED_STATES)
    rows = session.execute(
        select(*TRAINING_COLUMNS)
        .where(Incident.state.in_(states))
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
        .limit(limit)
    ).all()
    examples = Examples()
    for row in reversed(rows):
        label = _label(row, target)
        text = text_of(row)
        if label is not None and text:
            examples.add(text, fields_of(row), label)
    return examples, len(rows)


def _label(incident: Any, target: Target) -> str | None:
    if target.field is None:
        if incident.state == "cancelled":
            reason = (incident.cancel_reason or "").casefold()
            return REQUEST if REQUEST_MARK in reason else None
        return INCIDENT
    value = getattr(incident, target.field)
    return None if value is None else str(value)


def active_versions(session: Session) -> dict[str, tuple[int, str]]:
    """target → (version, signature) of its active model (the newest active row)."""
    rows = session.execute(
        select(TriageModel.target, TriageModel.version, TriageModel.signature)
        .where(TriageModel.active.is_(True))
        .order_by(TriageModel.version)
    ).all()
    return {target: (int(version), signature) for target, version, signature in rows}


def get_model_row(session: Session, version: int) -> TriageModel | None:
    return session.scalar(select(TriageModel).where(TriageModel.version == version))


def list_models(session: Session, limit: int = 50) -> Sequence[TriageModel]:
    return session.scalars(
        select(TriageModel)
        .options(defer(TriageModel.data))
        .order_by(TriageModel.version.desc())
        .limit(limit)
    ).all()


def next_version(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(TriageModel.version), 0))) or 0) + 1


def require_staff_reader(actor: Actor) -> None:
    if not actor.is_staff:
        raise Forbidden("only service desk staff may see triage suggestions")


def list_suggestions(session: Session, incident: Incident) -> Sequence[TriageSuggestion]:
    return session.scalars(
        select(TriageSuggestion)
        .where(TriageSuggestion.incident_id == incident.id)
        .order_by(TriageSuggestion.id)
    ).all()


def get_suggestion(session: Session, incident: Incident, ident: int) -> TriageSuggestion:
    row = session.get(TriageSuggestion, ident)
    if row is None or row.incident_id != incident.id:
        raise NotFound(f"{incident.number} has no suggestion {ident}")
    return row
