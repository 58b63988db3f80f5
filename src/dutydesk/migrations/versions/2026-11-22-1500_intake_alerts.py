"""Monitoring intake: integrations (token hash, rules, heartbeat schedule), alerts and
maintenance windows

Revision ID: c4a7e1b2d301
Revises: 8f3b6e2d4c10
Create Date: 2026-11-22 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.kernel.types

revision = "c4a7e1b2d301"
down_revision = "8f3b6e2d4c10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = dutydesk.kernel.types.UTCDateTime(timezone=True)
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "integration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_hint", sa.String(length=12), nullable=False),
        sa.Column("revoked_at", stamp, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assignment_group_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("severity_map", sa.JSON(), nullable=False),
        sa.Column("auto_resolve", sa.Boolean(), nullable=False),
        sa.Column("correlation_seconds", sa.Integer(), nullable=False),
        sa.Column("flap_changes", sa.Integer(), nullable=False),
        sa.Column("flap_window_seconds", sa.Integer(), nullable=False),
        sa.Column("heartbeat_seconds", sa.Integer(), nullable=True),
        sa.Column("last_event_at", stamp, nullable=True),
        sa.Column("heartbeat_due_at", stamp, nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_group_id"],
            ["support_group.id"],
            name=op.f("fk_integration_assignment_group_id_support_group"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_integration_service_id_service")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_integration_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration")),
        sa.UniqueConstraint("name", name=op.f("uq_integration_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_integration_token_hash")),
    )
    op.create_index(
        "ix_integration_heartbeat_due",
        "integration",
        ["heartbeat_due_at"],
        unique=False,
        postgresql_where=sa.text("heartbeat_due_at IS NOT NULL"),
        sqlite_where=sa.text("heartbeat_due_at IS NOT NULL"),
    )
    op.create_table(
        "maintenance_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("starts_at", stamp, nullable=False),
        sa.Column("ends_at", stamp, nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("integration_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["ci_id"],
            ["configuration_item.id"],
            name=op.f("fk_maintenance_window_ci_id_configuration_item"),
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration.id"],
            name=op.f("fk_maintenance_window_integration_id_integration"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_maintenance_window_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_window")),
    )
    op.create_index(
        op.f("ix_maintenance_window_ends_at"), "maintenance_window", ["ends_at"], unique=False
    )
    op.create_table(
        "alert",
        sa.Column("id", big_id, nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("open_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.String(length=1024), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("service_name", sa.String(length=120), nullable=True),
        sa.Column("ci_name", sa.String(length=120), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", stamp, nullable=False),
        sa.Column("last_seen_at", stamp, nullable=False),
        sa.Column("acknowledged_at", stamp, nullable=True),
        sa.Column("resolved_at", stamp, nullable=True),
        sa.Column("state_changes", sa.JSON(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("suppressed_by_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", big_id, nullable=True),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["configuration_item.id"], name=op.f("fk_alert_ci_id_configuration_item")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_alert_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integration.id"], name=op.f("fk_alert_integration_id_integration")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_alert_service_id_service")
        ),
        sa.ForeignKeyConstraint(
            ["suppressed_by_id"],
            ["maintenance_window.id"],
            name=op.f("fk_alert_suppressed_by_id_maintenance_window"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint(
            "integration_id", "open_key", name=op.f("uq_alert_integration_id_open_key")
        ),
    )
    op.create_index("ix_alert_ci_id", "alert", ["ci_id", "first_seen_at"], unique=False)
    op.create_index(
        "ix_alert_flapping",
        "alert",
        ["id"],
        unique=False,
        postgresql_where=sa.text("flapping"),
        sqlite_where=sa.text("flapping"),
    )
    op.create_index("ix_alert_incident_id", "alert", ["incident_id"], unique=False)
    op.create_index("ix_alert_key", "alert", ["integration_id", "dedup_key", "id"], unique=False)
    op.create_index("ix_alert_service_id", "alert", ["service_id", "first_seen_at"], unique=False)


def downgrade() -> None:
    op.drop_table("alert")
    op.drop_table("maintenance_window")
    op.drop_table("integration")
