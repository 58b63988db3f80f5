"""Intake: maintenance-window ends, IMAP poll schedule, bounces

Revision ID: f4b5d6e7a804
Revises: e3a4c5d6f703
Create Date: 2026-11-22 17:30:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import dutydesk.kernel.types

revision = "f4b5d6e7a804"
down_revision = "e3a4c5d6f703"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = dutydesk.kernel.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("maintenance_window", schema=None) as batch_op:
        batch_op.add_column(sa.Column("release_at", stamp, nullable=True))
        batch_op.create_index(
            "ix_maintenance_window_release_at",
            ["release_at"],
            unique=False,
            postgresql_where=sa.text("release_at IS NOT NULL"),
            sqlite_where=sa.text("release_at IS NOT NULL"),
        )
    # Windows that have not ended yet release their alerts when they end; windows that ended
    # before this upgrade are left alone (no burst of incidents for old maintenance).
    window = sa.table(
        "maintenance_window", sa.column("ends_at", stamp), sa.column("release_at", stamp)
    )
    op.execute(
        window.update()
        .where(window.c.ends_at > datetime.now(UTC))
        .values(release_at=window.c.ends_at)
    )
    with op.batch_alter_table("mailbox_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_poll_at", stamp, nullable=True))
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bounced_at", stamp, nullable=True))
        batch_op.create_index("ix_notification_message_id", ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_message_id")
        batch_op.drop_column("bounced_at")
    with op.batch_alter_table("mailbox_state", schema=None) as batch_op:
        batch_op.drop_column("next_poll_at")
    with op.batch_alter_table("maintenance_window", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_window_release_at")
        batch_op.drop_column("release_at")
