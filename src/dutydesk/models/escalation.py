"""Escalation tables: the functional escalation matrix (paths and their steps), the
hierarchic escalation levels, and the log of every escalation of an incident.

An incident's hierarchic schedule lives on the incident (``escalation_check_at`` and
``escalation_levels_fired``, see ``models/incident.py``), like its SLA due times.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime


class EscalationPath(Base):
    """A functional escalation path (L1 → L2 → L3 → supplier) for a category and/or service.

    A column left NULL matches anything; the most specific active path wins.
    """

    __tablename__ = "escalation_path"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), nullable=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EscalationStep(Base):
    """Step `level` (1..n) of a path: the group that holds the incident at that step.

    `auto`: when this group's OLA breaches, the worker escalates to the next step.
    """

    __tablename__ = "escalation_step"
    __table_args__ = (UniqueConstraint("path_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("escalation_path.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    group_id: Mapped[int] = mapped_column(ForeignKey("support_group.id"))
    auto: Mapped[bool] = mapped_column(Boolean, default=False)


class EscalationLevel(Base):
    """A hierarchic escalation level: when (a percentage of the response or resolution clock,
    or business time on the resolution clock) and whom to tell; for a priority and/or group
    (NULL: any). Ids are never reused (an incident remembers the ids of the levels fired)."""

    __tablename__ = "escalation_level"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("support_group.id"), nullable=True)
    trigger: Mapped[str] = mapped_column(String(10))  # percent | delay
    clock: Mapped[str | None] = mapped_column(String(20), nullable=True)  # response | resolution
    percent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delay_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notify_group_manager: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_incident_managers: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentEscalation(Base):
    """One escalation of an incident, functional or hierarchic; append-only.

    Rules are referenced by id and rule id without foreign keys: the log outlives them.
    """

    __tablename__ = "incident_escalation"
    __table_args__ = (Index("ix_incident_escalation_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    kind: Mapped[str] = mapped_column(String(20))  # functional | hierarchic
    trigger: Mapped[str] = mapped_column(String(20))  # manual | automatic
    rule_id: Mapped[str] = mapped_column(String(40))  # EP-<path>.<step>, HL-<level>, HL-D, ESC-n
    path_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    level_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    from_group_id: Mapped[int | None] = mapped_column(ForeignKey("support_group.id"), nullable=True)
    to_group_id: Mapped[int | None] = mapped_column(ForeignKey("support_group.id"), nullable=True)
    notified_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor_id: Mapped[int | None] = mapped_column(nullable=True)
    actor_name: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
