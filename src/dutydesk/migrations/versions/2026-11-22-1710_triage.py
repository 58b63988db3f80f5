"""Triage: learned models, suggestions, similar-incident index

Adds ``triage_model`` (versioned, HMAC-signed classifiers, one row per target and version),
``triage_suggestion`` (what a model suggested or applied at an incident's creation) and
``triage_schedule`` (the worker's retraining schedule, one row, due at once so a new
installation trains as soon as it has enough resolved incidents). The similar-incident
index is held in each process's memory and needs no table.

Revision ID: d2f3b4c5e602
Revises: c1e2a3b4d501
Create Date: 2026-11-22 17:10:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import dutydesk.kernel.types

revision = "d2f3b4c5e602"
down_revision = "c1e2a3b4d501"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = dutydesk.kernel.types.UTCDateTime(timezone=True)
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "triage_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("trained_at", stamp, nullable=False),
        sa.Column("n_examples", sa.Integer(), nullable=False),
        sa.Column("n_classes", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_model")),
        sa.UniqueConstraint("version", name=op.f("uq_triage_model_version")),
    )
    op.create_index(
        "ix_triage_model_target_active", "triage_model", ["target", "active", "version"]
    )
    op.create_table(
        "triage_suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", big_id, nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=True),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("previous", sa.String(length=200), nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("decided_at", stamp, nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_triage_suggestion_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_triage_suggestion_decided_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_suggestion")),
    )
    op.create_index("ix_triage_suggestion_incident", "triage_suggestion", ["incident_id", "id"])
    schedule = op.create_table(
        "triage_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("retrain_at", stamp, nullable=True),
        sa.Column("last_run_at", stamp, nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_schedule")),
    )
    op.bulk_insert(schedule, [{"id": 1, "retrain_at": datetime(2000, 1, 1, tzinfo=UTC)}])


def downgrade() -> None:
    op.drop_table("triage_schedule")
    op.drop_index("ix_triage_suggestion_incident", table_name="triage_suggestion")
    op.drop_table("triage_suggestion")
    op.drop_index("ix_triage_model_target_active", table_name="triage_model")
    op.drop_table("triage_model")
