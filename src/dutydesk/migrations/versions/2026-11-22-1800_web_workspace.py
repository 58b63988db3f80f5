"""Web UI: the agent workspace's queue indexes (breaching soon, unassigned)

Revision ID: c7e8a9b0d107
Revises: b6d7f8a9c006
Create Date: 2026-11-22 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c7e8a9b0d107"
down_revision = "b6d7f8a9c006"
branch_labels = None
depends_on = None

OPEN = (
    "state IN ('new', 'assigned', 'in_progress', 'pending_user', 'pending_vendor', "
    "'pending_change')"
)
UNASSIGNED = OPEN + " AND assignee_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(
            op.f("ix_incident_open_resolve_by"),
            ["resolve_by", "id"],
            unique=False,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
        batch_op.create_index(
            op.f("ix_incident_open_respond_by"),
            ["respond_by"],
            unique=False,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
        batch_op.create_index(
            op.f("ix_incident_open_unassigned"),
            ["assignment_group_id", "priority", "opened_at", "id"],
            unique=False,
            sqlite_where=sa.text(UNASSIGNED),
            postgresql_where=sa.text(UNASSIGNED),
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_incident_open_unassigned"))
        batch_op.drop_index(op.f("ix_incident_open_respond_by"))
        batch_op.drop_index(op.f("ix_incident_open_resolve_by"))
