"""Merge the alert-intake and mail-intake branches (both revise the escalation revision)

Revision ID: f7d0b4e5a604
Revises: c4a7e1b2d301, d5b8f2c3e402
Create Date: 2026-11-22 15:30:00.000000
"""

from __future__ import annotations

revision = "f7d0b4e5a604"
down_revision = ("c4a7e1b2d301", "d5b8f2c3e402")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
