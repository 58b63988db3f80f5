"""Functional and hierarchic escalation: paths and steps, levels, the incidents' escalation log

Adds the incident's hierarchic schedule (``escalation_check_at``, with a partial index as
the worker's queue, and ``escalation_levels_fired``) and ``raise_priority_on_breach`` on SLA
policies (false for existing ones). Seeds nothing: paths name support groups, which a fresh
installation does not have yet; admins add paths and levels through the API.

Revision ID: 8f3b6e2d4c10
Revises: 5d1e0c7a9b21
Create Date: 2026-11-22 14:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.kernel.types

revision = "8f3b6e2d4c10"
down_revision = "5d1e0c7a9b21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = dutydesk.kernel.types.UTCDateTime(timezone=True)
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "escalation_level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("clock", sa.String(length=20), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("delay_seconds", sa.Integer(), nullable=True),
        sa.Column("notify_group_manager", sa.Boolean(), nullable=False),
        sa.Column("notify_incident_managers", sa.Boolean(), nullable=False),
        sa.Column("notify_user_ids", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["support_group.id"],
            name=op.f("fk_escalation_level_group_id_support_group"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_level")),
        sa.UniqueConstraint("name", name=op.f("uq_escalation_level_name")),
        sqlite_autoincrement=True,  # level ids are never reused (incidents remember them)
    )
    op.create_table(
        "escalation_path",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_escalation_path_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_escalation_path_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_path")),
        sa.UniqueConstraint("name", name=op.f("uq_escalation_path_name")),
    )
    op.create_table(
        "escalation_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["support_group.id"],
            name=op.f("fk_escalation_step_group_id_support_group"),
        ),
        sa.ForeignKeyConstraint(
            ["path_id"],
            ["escalation_path.id"],
            name=op.f("fk_escalation_step_path_id_escalation_path"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_step")),
        sa.UniqueConstraint("path_id", "level", name=op.f("uq_escalation_step_path_id_level")),
    )
    op.create_table(
        "incident_escalation",
        sa.Column("id", big_id, nullable=False),
        sa.Column("incident_id", big_id, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("path_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("level_id", sa.Integer(), nullable=True),
        sa.Column("from_group_id", sa.Integer(), nullable=True),
        sa.Column("to_group_id", sa.Integer(), nullable=True),
        sa.Column("notified_user_ids", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("at", stamp, nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_group_id"],
            ["support_group.id"],
            name=op.f("fk_incident_escalation_from_group_id_support_group"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_escalation_incident_id_incident"),
        ),
        sa.ForeignKeyConstraint(
            ["to_group_id"],
            ["support_group.id"],
            name=op.f("fk_incident_escalation_to_group_id_support_group"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_escalation")),
    )
    with op.batch_alter_table("incident_escalation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_escalation_incident", ["incident_id", "id"], unique=False
        )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation_check_at", stamp, nullable=True))
        batch_op.add_column(sa.Column("escalation_levels_fired", sa.JSON(), nullable=True))
        batch_op.create_index(
            "ix_incident_escalation_check",
            ["escalation_check_at"],
            unique=False,
            sqlite_where=sa.text("escalation_check_at IS NOT NULL"),
            postgresql_where=sa.text("escalation_check_at IS NOT NULL"),
        )
    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "raise_priority_on_breach",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.drop_column("raise_priority_on_breach")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_escalation_check")
        batch_op.drop_column("escalation_levels_fired")
        batch_op.drop_column("escalation_check_at")
    with op.batch_alter_table("incident_escalation", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_escalation_incident")
    op.drop_table("incident_escalation")
    op.drop_table("escalation_step")
    op.drop_table("escalation_path")
    op.drop_table("escalation_level")
