"""Learned triage: stored models (versioned, signed), suggestions made at creation, and the
retraining schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime
from dutydesk.models.incident import Incident


class TriageModel(Base):
    """One trained classifier for one target; the newest active row per target is used.

    ``data`` is a joblib pickle and is only ever unpickled after ``signature`` (HMAC-SHA256
    with the installation's secret key) matched it."""

    __tablename__ = "triage_model"
    __table_args__ = (Index("ix_triage_model_target_active", "target", "active", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    target: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(20))  # "incidents" or "csv"
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    n_examples: Mapped[int] = mapped_column(Integer)
    n_classes: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    size_bytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TriageSuggestion(Base):
    """What a model suggested for an incident: applied (reversible), or pending a decision."""

    __tablename__ = "triage_suggestion"
    __table_args__ = (Index("ix_triage_suggestion_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    model_version: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(60), nullable=True)
    value: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column(Float)
    words: Mapped[list[str]] = mapped_column(JSON)
    # applied | pending | accepted | reverted | dismissed
    status: Mapped[str] = mapped_column(String(12))
    previous: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    # Lets a suggestion be added before its new incident is flushed.
    incident: Mapped[Incident] = relationship(lazy="raise")


class TriageSchedule(Base):
    """The worker's retraining schedule: one row, claimed by compare-and-set on retrain_at."""

    __tablename__ = "triage_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    retrain_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_result: Mapped[str | None] = mapped_column(Text, nullable=True)
