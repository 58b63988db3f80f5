"""Imports: SLA clocks for imported history (placeholder until used)

Revision ID: b6d7f8a9c006
Revises: a5c6e7f8b905
Create Date: 2026-11-22 17:50:00.000000
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "b6d7f8a9c006"
down_revision = "a5c6e7f8b905"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
