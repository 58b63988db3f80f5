"""What incidents are about: services, configuration items and the category tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime


class Service(Base):
    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # None: offered to every customer.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), nullable=True)
    owner_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_group.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConfigurationItem(Base):
    __tablename__ = "configuration_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    ci_class: Mapped[str] = mapped_column(String(60))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), nullable=True)
    owner_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_group.id"), nullable=True
    )
    criticality: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Category(Base):
    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
