"""Installation-wide rows: number counters and admin-editable settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.db import Base
from dutydesk.kernel.types import UTCDateTime


class Counter(Base):
    """Gapless-enough number sequences (INC, REQ, …), bumped with UPDATE … RETURNING."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Setting(Base):
    """An admin-editable JSON value (priority matrix, logging checklist)."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(nullable=True)
