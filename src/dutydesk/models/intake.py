"""Monitoring intake tables: integrations (with their token hash and rules), alerts, and
maintenance windows.

An alert is one problem reported by one integration under one dedup key, from its first
trigger to its resolution (PagerDuty's semantics): ``open_key`` holds the dedup key while
the alert is not resolved and NULL afterwards, so the unique index on
``(integration_id, open_key)`` allows exactly one unresolved alert per key, and a trigger
after the resolution starts a new alert row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime

BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class Integration(Base):
    """A monitoring source allowed to send events, with its token and its rules."""

    __tablename__ = "integration"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # generic | alertmanager | pagerduty
    # sha256 of the token (people/secrets.hash_token); kept after revocation (403, not 401).
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    token_hint: Mapped[str] = mapped_column(String(12), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The service account incidents are logged by (caller and opened-by).
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    assignment_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_group.id"), nullable=True
    )
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), nullable=True)
    # severity → [impact, urgency]; severities not named use the matrix's lowest levels.
    severity_map: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    auto_resolve: Mapped[bool] = mapped_column(Boolean, default=True)
    correlation_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    flap_changes: Mapped[int] = mapped_column(Integer, default=6)
    flap_window_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    heartbeat_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The worker's schedule: when a missed heartbeat is due (NULL: not watched or fired).
    heartbeat_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "ix_integration_heartbeat_due",
            "heartbeat_due_at",
            postgresql_where=text("heartbeat_due_at IS NOT NULL"),
            sqlite_where=text("heartbeat_due_at IS NOT NULL"),
        ),
    )


class Alert(Base):
    """One alert: an integration's dedup key from trigger to resolution."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"))
    dedup_key: Mapped[str] = mapped_column(String(255))
    open_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # triggered | acknowledged | resolved
    severity: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(255), default="")
    service_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    ci_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), nullable=True)
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("configuration_item.id"), nullable=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    links: Mapped[list[Any]] = mapped_column(JSON, default=list)
    payload: Mapped[str] = mapped_column(Text, default="")  # raw, cut at the configured size
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Recent state changes of this dedup key (ISO instants, carried over to the next alert of
    # the key) and whether the key is flapping.
    state_changes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    suppressed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("maintenance_window.id"), nullable=True
    )
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), nullable=True)

    __table_args__ = (
        UniqueConstraint("integration_id", "open_key"),
        Index("ix_alert_key", "integration_id", "dedup_key", "id"),
        Index("ix_alert_incident_id", "incident_id"),
        Index("ix_alert_service_id", "service_id", "first_seen_at"),
        Index("ix_alert_ci_id", "ci_id", "first_seen_at"),
        Index(
            "ix_alert_flapping",
            "id",
            postgresql_where=text("flapping"),
            sqlite_where=text("flapping"),
        ),
    )


class MaintenanceWindow(Base):
    """Alerts for these services/CIs between start and end are recorded but open nothing."""

    __tablename__ = "maintenance_window"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), nullable=True)
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("configuration_item.id"), nullable=True)
    # NULL: alerts of every integration; otherwise only this one's.
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integration.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The worker's schedule: when the window's end must release the alerts it suppressed
    # that still fire (ends_at until claimed, then NULL; a moved end moves it back).
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index(
            "ix_maintenance_window_release_at",
            "release_at",
            postgresql_where=text("release_at IS NOT NULL"),
            sqlite_where=text("release_at IS NOT NULL"),
        ),
    )
