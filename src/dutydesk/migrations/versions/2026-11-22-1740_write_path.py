"""Write path: faster incident creation (placeholder until used)

Revision ID: a5c6e7f8b905
Revises: f4b5d6e7a804
Create Date: 2026-11-22 17:40:00.000000
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "a5c6e7f8b905"
down_revision = "f4b5d6e7a804"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
