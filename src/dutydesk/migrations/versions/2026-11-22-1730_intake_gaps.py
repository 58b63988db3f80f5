"""Intake: maintenance-window ends, IMAP poll schedule, bounces (placeholder until used)

Revision ID: f4b5d6e7a804
Revises: e3a4c5d6f703
Create Date: 2026-11-22 17:30:00.000000
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "f4b5d6e7a804"
down_revision = "e3a4c5d6f703"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
