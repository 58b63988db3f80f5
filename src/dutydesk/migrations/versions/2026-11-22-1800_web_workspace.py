"""Web UI: workspace, portal and admin screens (placeholder until used)

Revision ID: c7e8a9b0d107
Revises: b6d7f8a9c006
Create Date: 2026-11-22 18:00:00.000000
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "c7e8a9b0d107"
down_revision = "b6d7f8a9c006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
