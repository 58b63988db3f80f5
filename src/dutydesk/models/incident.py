"""The incident aggregate: incident, its append-only history, comments, attachments, links."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime

# Must equal incidents.lifecycle.OPEN (a test checks); models import no domain.
OPEN_STATES_SQL = (
    "state IN ('new', 'assigned', 'in_progress', 'pending_user', 'pending_vendor', "
    "'pending_change')"
)


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (
        # The queues: "open incidents, best priority first" overall and per group.
        Index(
            "ix_incident_open_queue",
            "priority",
            "opened_at",
            "id",
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        Index(
            "ix_incident_open_group",
            "assignment_group_id",
            "priority",
            "opened_at",
            "id",
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        # The workspace's "Breaching soon" (due within N hours) and "Unassigned" queues.
        Index(
            "ix_incident_open_resolve_by",
            "resolve_by",
            "id",
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        Index(
            "ix_incident_open_respond_by",
            "respond_by",
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        Index(
            "ix_incident_open_unassigned",
            "assignment_group_id",
            "priority",
            "opened_at",
            "id",
            sqlite_where=text(OPEN_STATES_SQL + " AND assignee_id IS NULL"),
            postgresql_where=text(OPEN_STATES_SQL + " AND assignee_id IS NULL"),
        ),
        Index("ix_incident_opened_at_id", "opened_at", "id"),
        Index("ix_incident_updated_at_id", "updated_at", "id"),
        Index("ix_incident_group_opened", "assignment_group_id", "opened_at", "id"),
        Index("ix_incident_customer_opened", "customer_id", "opened_at", "id"),
        Index("ix_incident_caller_opened", "caller_id", "opened_at", "id"),
        Index("ix_incident_assignee_opened", "assignee_id", "opened_at", "id"),
        Index("ix_incident_resolved_at", "resolved_at"),  # reports: resolved per period
        Index(
            "ix_incident_auto_close",
            "auto_close_at",
            sqlite_where=text("auto_close_at IS NOT NULL"),
            postgresql_where=text("auto_close_at IS NOT NULL"),
        ),
        # The hierarchic-escalation job's schedule: only incidents with a level still to fire.
        Index(
            "ix_incident_escalation_check",
            "escalation_check_at",
            sqlite_where=text("escalation_check_at IS NOT NULL"),
            postgresql_where=text("escalation_check_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    short_description: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(20))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), nullable=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("service.id"), nullable=True, index=True
    )
    ci_id: Mapped[int | None] = mapped_column(
        ForeignKey("configuration_item.id"), nullable=True, index=True
    )
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("category.id"), nullable=True, index=True
    )
    subcategory_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), nullable=True)
    impact: Mapped[int] = mapped_column(Integer)
    urgency: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    assignment_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_group.id"), nullable=True
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(20))
    pending_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    resolution_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    resolution_notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_workaround: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    reassignment_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    # SLA due times, kept by sla.service from the running clocks (NULL: none running).
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolve_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # User confirmation (SPEC §5): the worker closes a resolved incident at auto_close_at;
    # confirm_nonce makes the emailed confirm/reject/survey links single-use.
    auto_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirm_nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)
    csat_rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    csat_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    csat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Keys of the manual closure-checklist items an agent ticked (JSON list).
    closure_ticks: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # Hierarchic escalation (escalation.schedule keeps them): the next instant a level is due,
    # and the ids of the levels fired so far (each fires once per incident).
    escalation_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalation_levels_fired: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    # Imported history: the source's own "made SLA" figure (ServiceNow made_sla), NULL if none.
    source_made_sla: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Head of the hash chain and the number of events: deleting the last event shows.
    history_count: Mapped[int] = mapped_column(Integer, default=0)
    history_head: Mapped[str] = mapped_column(String(64), default="")
    # Routing (routing/): free tags that rules add, and the "really a service request" flag
    # a rule or an agent sets; converting it is an agent's action (SPEC §3).
    tags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    is_service_request: Mapped[bool] = mapped_column(Boolean, default=False)

    __mapper_args__ = {"version_id_col": version}


class IncidentEvent(Base):
    """One append-only, hash-chained history entry; never updated or deleted."""

    __tablename__ = "incident_event"
    __table_args__ = (UniqueConstraint("incident_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(nullable=True)
    actor_name: Mapped[str] = mapped_column(String(120))
    actor_type: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(60), nullable=True)
    old: Mapped[str | None] = mapped_column(Text, nullable=True)
    new: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    rule_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    # Lets an event be recorded before its new incident is flushed (one INSERT each).
    incident: Mapped[Incident] = relationship(lazy="raise")


class Comment(Base):
    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_incident_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    # "work_note" is internal to agents; "public" is a reply the requester sees.
    visibility: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(20))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentLink(Base):
    __tablename__ = "incident_link"
    __table_args__ = (UniqueConstraint("source_id", "target_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)


class IdempotencyRecord(Base):
    """The first response to a POST with an Idempotency-Key, replayed for retries."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
