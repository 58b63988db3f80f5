"""Triage: learned models, suggestions, similar-incident index

Revision ID: d2f3b4c5e602
Revises: c1e2a3b4d501
Create Date: 2026-11-22 17:10:00.000000
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "d2f3b4c5e602"
down_revision = "c1e2a3b4d501"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
