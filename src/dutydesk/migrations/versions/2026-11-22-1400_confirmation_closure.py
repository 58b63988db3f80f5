"""The closure checklist and the manual checklist ticks of each incident

Keeps a random key for signing the emailed confirm/reject/survey links (used when
DUTYDESK_SECRET_KEY is not set). Seeds the default checklist: a category must be set (active), and the caller told how the
incident was resolved (a manual item, inactive until a desk turns it on).

Revision ID: 5d1e0c7a9b21
Revises: 3c26f8b9eb5f
Create Date: 2026-11-22 14:00:00.000000
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import dutydesk.kernel.types

revision = "5d1e0c7a9b21"
down_revision = "3c26f8b9eb5f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = dutydesk.kernel.types.UTCDateTime(timezone=True)
    check = op.create_table(
        "closure_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure_check")),
        sa.UniqueConstraint("key", name=op.f("uq_closure_check_key")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closure_ticks", sa.JSON(), nullable=True))
    now = datetime.now(UTC)
    setting = sa.table(
        "setting",
        sa.column("key", sa.String),
        sa.column("value", sa.Text),
        sa.column("updated_at", dutydesk.kernel.types.UTCDateTime),
        sa.column("updated_by_id", sa.Integer),
    )
    op.bulk_insert(
        setting,
        [
            {
                "key": "secret_key",
                "value": secrets.token_urlsafe(48),
                "updated_at": now,
                "updated_by_id": None,
            }
        ],
    )
    op.bulk_insert(
        check,
        [
            {
                "key": "category",
                "label": "The incident has a category",
                "kind": "field",
                "field": "category",
                "position": 1,
                "is_active": True,
                "created_at": now,
                "updated_at": now,
            },
            {
                "key": "caller_informed",
                "label": "The caller was told how the incident was resolved",
                "kind": "manual",
                "field": None,
                "position": 2,
                "is_active": False,
                "created_at": now,
                "updated_at": now,
            },
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM setting WHERE key = 'secret_key'")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("closure_ticks")
    op.drop_table("closure_check")
