"""Imports: SLA clocks for imported history; incident.source_made_sla keeps the file's figure

Revision ID: b6d7f8a9c006
Revises: a5c6e7f8b905
Create Date: 2026-11-22 17:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b6d7f8a9c006"
down_revision = "a5c6e7f8b905"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_made_sla", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("source_made_sla")
