"""Inbound mail: received messages (exactly once), the quarantine, IMAP state, reply limits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime


class MailMessage(Base):
    """One received message, recorded once per (mailbox, Message-ID or body hash)."""

    __tablename__ = "mail_message"
    __table_args__ = (
        UniqueConstraint("mailbox", "message_key"),
        Index("ix_mail_message_message_key", "message_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(80))
    # "<message-id>" as received, or "sha256:<hex>" of the raw message when it has none
    message_key: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    # created | commented | reopened | follow_up | quarantined | held | rejected | ignored_loop
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), nullable=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comment.id"), nullable=True)
    quarantine_id: Mapped[int | None] = mapped_column(
        ForeignKey("mail_quarantine.id"), nullable=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MailQuarantine(Base):
    """A message that could not be (or may not yet be) ingested, kept with its raw bytes."""

    __tablename__ = "mail_quarantine"
    __table_args__ = (Index("ix_mail_quarantine_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(80))
    message_key: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(12))  # held | retried | discarded
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)


class MailboxState(Base):
    """Where the IMAP poller of a mailbox stands: UIDVALIDITY and the last committed UID."""

    __tablename__ = "mailbox_state"

    mailbox: Mapped[str] = mapped_column(String(80), primary_key=True)
    uid_validity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The poll schedule: the worker connects only once this has passed (claimed by
    # compare-and-set, so several workers poll a mailbox once per interval).
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MailSenderWindow(Base):
    """Mails ingested per sender per hour: above the limit nothing automatic answers them."""

    __tablename__ = "mail_sender_window"

    sender: Mapped[str] = mapped_column(String(254), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
