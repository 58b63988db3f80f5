"""Routing: business rules, assignment strategies, service requests

Revision ID: c1e2a3b4d501
Revises: b9f2d6a7c806
Create Date: 2026-11-22 17:00:00.000000
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "c1e2a3b4d501"
down_revision = "b9f2d6a7c806"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
