"""Email in: received messages (exactly once), quarantine, IMAP mailbox state, reply limits

Revision ID: d5b8f2c3e402
Revises: 8f3b6e2d4c10
Create Date: 2026-11-22 15:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.kernel.types

revision = "d5b8f2c3e402"
down_revision = "8f3b6e2d4c10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = dutydesk.kernel.types.UTCDateTime(timezone=True)
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "mail_quarantine",
        sa.Column("id", big_id, nullable=False),
        sa.Column("mailbox", sa.String(length=80), nullable=False),
        sa.Column("message_key", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("resolved_at", stamp, nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["user_account.id"],
            name=op.f("fk_mail_quarantine_resolved_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_quarantine")),
    )
    op.create_index("ix_mail_quarantine_state_id", "mail_quarantine", ["state", "id"])
    op.create_table(
        "mail_message",
        sa.Column("id", big_id, nullable=False),
        sa.Column("mailbox", sa.String(length=80), nullable=False),
        sa.Column("message_key", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("incident_id", big_id, nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("quarantine_id", big_id, nullable=True),
        sa.Column("received_at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_mail_message_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comment.id"], name=op.f("fk_mail_message_comment_id_comment")
        ),
        sa.ForeignKeyConstraint(
            ["quarantine_id"],
            ["mail_quarantine.id"],
            name=op.f("fk_mail_message_quarantine_id_mail_quarantine"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_message")),
        sa.UniqueConstraint(
            "mailbox", "message_key", name=op.f("uq_mail_message_mailbox_message_key")
        ),
    )
    op.create_index("ix_mail_message_message_key", "mail_message", ["message_key"])
    op.create_table(
        "mailbox_state",
        sa.Column("mailbox", sa.String(length=80), nullable=False),
        sa.Column("uid_validity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_mailbox_state")),
    )
    op.create_table(
        "mail_sender_window",
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("window_start", stamp, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "window_start", name=op.f("pk_mail_sender_window")),
    )


def downgrade() -> None:
    op.drop_table("mail_sender_window")
    op.drop_table("mailbox_state")
    op.drop_index("ix_mail_message_message_key", table_name="mail_message")
    op.drop_table("mail_message")
    op.drop_index("ix_mail_quarantine_state_id", table_name="mail_quarantine")
    op.drop_table("mail_quarantine")
