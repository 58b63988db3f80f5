"""Escalation reads: paths with their steps, levels, and an incident's escalations."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.escalation import rules
from dutydesk.kernel.errors import NotFound
from dutydesk.kernel.persistence import transaction_scoped
from dutydesk.models import (
    EscalationLevel,
    EscalationPath,
    EscalationStep,
    Incident,
    IncidentEscalation,
    SupportGroup,
)
from dutydesk.sla.service import created_here

PATHS = "dutydesk.escalation.paths"  # session.info cache, per transaction
# Ids of the incidents escalated in this transaction (escalation.service adds them).
ESCALATED = transaction_scoped("dutydesk.escalation.escalated")


def list_paths(session: Session) -> list[EscalationPath]:
    return list(session.scalars(select(EscalationPath).order_by(EscalationPath.id)))


def get_path(session: Session, path_id: int) -> EscalationPath:
    row = session.get(EscalationPath, path_id)
    if row is None:
        raise NotFound(f"escalation path {path_id} not found")
    return row


def steps_of(session: Session, path_ids: list[int]) -> dict[int, list[EscalationStep]]:
    """Each path's steps, by level."""
    found: dict[int, list[EscalationStep]] = defaultdict(list)
    if not path_ids:
        return found
    for step in session.scalars(
        select(EscalationStep)
        .where(EscalationStep.path_id.in_(path_ids))
        .order_by(EscalationStep.path_id, EscalationStep.level)
    ):
        found[step.path_id].append(step)
    return found


def active_paths(session: Session) -> tuple[rules.Path, ...]:
    """The active paths with their steps and their groups' tiers, once per transaction."""
    cached: tuple[rules.Path, ...] | None = session.info.get(PATHS)
    if cached is not None:
        return cached
    paths = list(
        session.scalars(
            select(EscalationPath)
            .where(EscalationPath.active.is_(True))
            .order_by(EscalationPath.id)
        )
    )
    steps: dict[int, list[rules.Step]] = defaultdict(list)
    rows = session.execute(
        select(EscalationStep, SupportGroup.tier, SupportGroup.is_active)
        .join(SupportGroup, SupportGroup.id == EscalationStep.group_id)
        .join(EscalationPath, EscalationPath.id == EscalationStep.path_id)
        .where(EscalationPath.active.is_(True))
        .order_by(EscalationStep.path_id, EscalationStep.level)
    )
    for step, tier, group_active in rows:
        steps[step.path_id].append(
            rules.Step(step.path_id, step.level, step.group_id, tier, step.auto, group_active)
        )
    cached = tuple(
        rules.Path(p.id, p.name, p.category_id, p.service_id, tuple(steps[p.id])) for p in paths
    )
    session.info[PATHS] = cached
    return cached


def forget_cached(session: Session) -> None:
    session.info.pop(PATHS, None)


def list_levels(session: Session) -> list[EscalationLevel]:
    return list(session.scalars(select(EscalationLevel).order_by(EscalationLevel.id)))


def get_level(session: Session, level_id: int) -> EscalationLevel:
    row = session.get(EscalationLevel, level_id)
    if row is None:
        raise NotFound(f"escalation level {level_id} not found")
    return row


def list_escalations(session: Session, incident: Incident) -> list[IncidentEscalation]:
    """Every escalation of the incident, oldest first (the caller checked visibility)."""
    if incident.id is None:
        return []
    if created_here(session, incident) and incident.id not in session.info.get(ESCALATED, ()):
        return []  # logged in this transaction and never escalated in it: nothing to read
    return list(
        session.scalars(
            select(IncidentEscalation)
            .where(IncidentEscalation.incident_id == incident.id)
            .order_by(IncidentEscalation.id)
        )
    )
