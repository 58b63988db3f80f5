"""An index on incident.resolved_at: the reports count resolutions per period

Revision ID: b9f2d6a7c806
Revises: f7d0b4e5a604
Create Date: 2026-11-22 16:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "b9f2d6a7c806"
down_revision = "f7d0b4e5a604"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_resolved_at", ["resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_resolved_at")
