"""The notification outbox, its channels (endpoints), templates and user preferences.

Outbox rows are written in the same transaction as the change they tell about; the worker
delivers them. ``next_attempt_at`` is the schedule (NULL once sent or dead); a claim moves it
forward by a lease with a compare-and-set, so a worker killed mid-send leaves the row to be
retried after the lease, with the same ``message_id``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
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


class NotifyEndpoint(Base):
    """An outgoing webhook, or a Slack/Teams-compatible incoming-webhook URL."""

    __tablename__ = "notify_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # webhook | slack | teams
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200), nullable=True)  # HMAC key
    events: Mapped[str] = mapped_column(String(1000))  # JSON list; [] = every event
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotifyTemplate(Base):
    """An admin's override of the built-in template of an event on a channel."""

    __tablename__ = "notify_template"
    __table_args__ = (UniqueConstraint("event", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(nullable=True)


class NotifyPreference(Base):
    """A user's opt-out (or back in) of one event on one channel; no row = the default."""

    __tablename__ = "notify_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    event: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)


class Notification(Base):
    """One message to deliver once: an email to one recipient, or one webhook call."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_incident", "incident_id", "id"),
        Index(
            "ix_notification_due",
            "next_attempt_at",
            sqlite_where=text("next_attempt_at IS NOT NULL"),
            postgresql_where=text("next_attempt_at IS NOT NULL"),
        ),
        Index("ix_notification_state_id", "state", "id"),
        Index("ix_notification_message_id", "message_id"),  # bounces name it
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), nullable=True)
    event: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook | slack | teams
    recipient: Mapped[str] = mapped_column(String(2000))  # address, or the endpoint's URL
    recipient_user_id: Mapped[int | None] = mapped_column(nullable=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("notify_endpoint.id"), nullable=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250))  # fixed at creation: retries reuse it
    in_reply_to: Mapped[str | None] = mapped_column(String(250), nullable=True)
    # pending | sent | dead | cancelled | bounced (sent, then a delivery report came back)
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
