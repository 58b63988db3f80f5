"""SLA tables: business calendars, SLA and OLA policies, and the clocks of each incident.

A clock is stored as segments so that pausing, resuming, re-targeting and reopening need no
replay of the history: ``elapsed_before`` business seconds were used up before
``segment_start``; while the clock runs, ``due_at`` is the instant the target is reached
and ``next_check_at`` the next instant the worker must look at it (a warning threshold or
the due time). ``next_check_at`` is the schedule: the worker claims a clock by a
compare-and-set on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime
from dutydesk.models.incident import Incident


class SlaCalendar(Base):
    """A business calendar: time zone, weekly hours, holidays (its config as JSON)."""

    __tablename__ = "sla_calendar"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    config: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlaPolicy(Base):
    """Targets for customer × service × priority; a column left NULL matches anything."""

    __tablename__ = "sla_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), nullable=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), nullable=True)
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("sla_calendar.id"))
    response_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    warn_percents: Mapped[str] = mapped_column(String(80))  # JSON list, e.g. [50, 75]
    pause_states: Mapped[str] = mapped_column(String(200))  # JSON list of incident states
    # SPEC §3: a resolution breach raises the incident's priority one step (never above P1).
    raise_priority_on_breach: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OlaPolicy(Base):
    """An operational level agreement: a group's targets from assignment to that group."""

    __tablename__ = "ola_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("support_group.id"))
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("sla_calendar.id"))
    resolution_seconds: Mapped[int] = mapped_column(Integer)
    warn_percents: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlaClock(Base):
    """One running or finished clock of an incident: response, resolution, or a group's OLA."""

    __tablename__ = "sla_clock"
    __table_args__ = (
        Index("ix_sla_clock_incident", "incident_id", "id"),
        # The worker's schedule: only clocks with something still to fire are in it.
        Index(
            "ix_sla_clock_next_check",
            "next_check_at",
            sqlite_where=text("next_check_at IS NOT NULL"),
            postgresql_where=text("next_check_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    kind: Mapped[str] = mapped_column(String(20))  # response | resolution | ola
    group_id: Mapped[int | None] = mapped_column(ForeignKey("support_group.id"), nullable=True)
    policy_name: Mapped[str] = mapped_column(String(120))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("sla_calendar.id"))
    target_seconds: Mapped[int] = mapped_column(Integer)
    warn_percents: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    elapsed_before: Mapped[float] = mapped_column(Float)
    segment_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    warned_percent: Mapped[int] = mapped_column(Integer, default=0)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)

    incident: Mapped[Incident] = relationship(lazy="raise")
