"""Routing: business rules, assignment strategies, service requests

Adds ``routing_rule`` (ordered rules: conditions and actions as JSON, checked when saved),
``group_routing`` (each support group's assignment strategy and round-robin cursor),
``service_request`` with its append-only ``service_request_event`` history, and the
incident's ``tags`` and ``is_service_request`` (false for existing incidents).

Revision ID: c1e2a3b4d501
Revises: b9f2d6a7c806
Create Date: 2026-11-22 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.kernel.types

revision = "c1e2a3b4d501"
down_revision = "b9f2d6a7c806"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = dutydesk.kernel.types.UTCDateTime(timezone=True)
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("match", sa.String(length=3), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("on_create", sa.Boolean(), nullable=False),
        sa.Column("on_update", sa.Boolean(), nullable=False),
        sa.Column("stop", sa.Boolean(), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule")),
        sa.UniqueConstraint("name", name=op.f("uq_routing_rule_name")),
        sqlite_autoincrement=True,  # rule ids are never reused (histories name RUL-<id>)
    )
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_rule_position"), ["position"], unique=False)
    op.create_table(
        "group_routing",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("last_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["support_group.id"], name=op.f("fk_group_routing_group_id_support_group")
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_routing")),
    )
    op.create_table(
        "service_request",
        sa.Column("id", big_id, nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("incident_id", big_id, nullable=False),
        sa.Column("short_description", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("caller_id", sa.Integer(), nullable=True),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("subcategory_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("assignment_group_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("opened_at", stamp, nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.Column("fulfilled_at", stamp, nullable=True),
        sa.Column("closed_at", stamp, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user_account.id"],
            name=op.f("fk_service_request_assignee_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["assignment_group_id"],
            ["support_group.id"],
            name=op.f("fk_service_request_assignment_group_id_support_group"),
        ),
        sa.ForeignKeyConstraint(
            ["caller_id"],
            ["user_account.id"],
            name=op.f("fk_service_request_caller_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_service_request_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"],
            ["configuration_item.id"],
            name=op.f("fk_service_request_ci_id_configuration_item"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_service_request_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_service_request_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["user_account.id"],
            name=op.f("fk_service_request_opened_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_service_request_service_id_service")
        ),
        sa.ForeignKeyConstraint(
            ["subcategory_id"],
            ["category.id"],
            name=op.f("fk_service_request_subcategory_id_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_service_request_incident_id")),
        sa.UniqueConstraint("number", name=op.f("uq_service_request_number")),
    )
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_request_assignee_id"), ["assignee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_request_assignment_group_id"),
            ["assignment_group_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_service_request_caller_id"), ["caller_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_request_customer_id"), ["customer_id"], unique=False
        )
    op.create_table(
        "service_request_event",
        sa.Column("id", big_id, nullable=False),
        sa.Column("request_id", big_id, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", stamp, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=True),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rule_id", sa.String(length=40), nullable=True),
        sa.Column("source_number", sa.String(length=20), nullable=True),
        sa.Column("source_seq", sa.Integer(), nullable=True),
        sa.Column("source_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_request.id"],
            name=op.f("fk_service_request_event_request_id_service_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request_event")),
        sa.UniqueConstraint(
            "request_id", "seq", name=op.f("uq_service_request_event_request_id_seq")
        ),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("is_service_request", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("is_service_request")
        batch_op.drop_column("tags")
    op.drop_table("service_request_event")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_customer_id"))
        batch_op.drop_index(batch_op.f("ix_service_request_caller_id"))
        batch_op.drop_index(batch_op.f("ix_service_request_assignment_group_id"))
        batch_op.drop_index(batch_op.f("ix_service_request_assignee_id"))
    op.drop_table("service_request")
    op.drop_table("group_routing")
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_rule_position"))
    op.drop_table("routing_rule")
