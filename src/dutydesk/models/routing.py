"""Routing: business rules, each support group's assignment strategy, service requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime


class RoutingRule(Base):
    """A business rule: conditions on incident fields, actions, evaluated in `position` order."""

    __tablename__ = "routing_rule"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused: histories name them

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    match: Mapped[str] = mapped_column(String(3))  # all | any
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    on_create: Mapped[bool] = mapped_column(Boolean, default=True)
    on_update: Mapped[bool] = mapped_column(Boolean, default=False)
    stop: Mapped[bool] = mapped_column(Boolean, default=False)  # no later rule runs after it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(nullable=True)


class GroupRouting(Base):
    """How a support group's incidents get an assignee; the round-robin cursor.

    Writers that pick an assignee lock this row (SELECT … FOR UPDATE), so concurrent
    creations take turns on it."""

    __tablename__ = "group_routing"

    group_id: Mapped[int] = mapped_column(ForeignKey("support_group.id"), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(20))  # manual | round_robin | least_loaded
    last_user_id: Mapped[int | None] = mapped_column(nullable=True)  # round robin: last picked
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServiceRequest(Base):
    """A service request (REQ…), converted from an incident logged by mistake (SPEC §3)."""

    __tablename__ = "service_request"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)
    short_description: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    caller_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"), nullable=True, index=True
    )
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id"), nullable=True, index=True
    )
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), nullable=True)
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("configuration_item.id"), nullable=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), nullable=True)
    subcategory_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), nullable=True)
    priority: Mapped[int] = mapped_column(Integer)
    assignment_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_group.id"), nullable=True, index=True
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"), nullable=True, index=True
    )
    state: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class ServiceRequestEvent(Base):
    """The request's append-only history; events carried over from the incident name the
    incident event they copy (`source_number`, `source_seq`, `source_hash`)."""

    __tablename__ = "service_request_event"
    __table_args__ = (UniqueConstraint("request_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"))
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
    source_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    source_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
