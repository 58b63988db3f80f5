"""Admin sections of people: users, API tokens, support groups, customers. Every write is a
`people.service` call, the one the admin API (`people/api.py`) makes for the same change."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role
from dutydesk.admin.forms import Action, Field, Row, options
from dutydesk.admin.sections import Done, Edit, Section
from dutydesk.people import queries, service
from dutydesk.people.schemas import (
    CustomerCreate,
    CustomerPatch,
    GroupCreate,
    GroupPatch,
    TokenCreate,
    UserCreate,
    UserPatch,
)
from dutydesk.people.service import TIERS

M = TypeVar("M", bound=BaseModel)
ROLES = [(role.value, role.value.replace("_", " ")) for role in Role]


def body_of(body: BaseModel, schema: type[M]) -> M:
    """The validated body as its schema (the generic routes validated it with that schema)."""
    assert isinstance(body, schema)
    return body


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def customer_choices(session: Session, empty: str = "None") -> list[tuple[str, str]]:
    return options([(c.id, c.name) for c in queries.list_customers(session)], empty=empty)


def group_choices(session: Session, empty: str = "None") -> list[tuple[str, str]]:
    return options([(g.id, g.name) for g in queries.list_groups(session)], empty=empty)


def staff_choices(session: Session, empty: str = "") -> list[tuple[str, str]]:
    rows = [
        (u.id, f"{u.full_name or u.username} ({u.username})")
        for u in queries.list_users(session)
        if u.role != Role.requester and u.is_active
    ]
    return options(rows, empty=empty)


# ---------------------------------------------------------------- users


def user_rows(session: Session) -> list[Row]:
    customers = {c.id: c.name for c in queries.list_customers(session)}
    return [
        Row(
            (
                u.username,
                u.full_name,
                u.email,
                u.role.replace("_", " "),
                customers.get(u.customer_id, "") if u.customer_id else "",
                "active" if u.is_active else "disabled",
            ),
            href=f"/admin/users/{u.id}",
        )
        for u in queries.list_users(session)
    ]


def user_fields(session: Session) -> list[Field]:
    return [
        Field("username", "User name", required=True, hint="2–80 letters, digits, '.', '_', '-'."),
        Field("email", "E-mail address", "email", required=True),
        Field("full_name", "Full name"),
        Field("role", "Role", "select", ROLES, value="agent", required=True),
        Field(
            "customer_id",
            "Customer",
            "id",
            customer_choices(session),
            hint="Requesters belong to a customer.",
        ),
        Field(
            "password",
            "Password",
            "password",
            hint="At least 10 characters; leave empty and send a reset link instead.",
        ),
    ]


def create_user(session: Session, actor: Actor, body: BaseModel) -> Done:
    data = body_of(body, UserCreate)
    user = service.add_user(session, actor, **data.model_dump())
    return Done(f"User {user.username} was added.")


def edit_user(session: Session, user_id: int) -> Edit:
    user = queries.get_user(session, user_id)
    base = f"/admin/users/{user.id}"
    actions: tuple[Action, ...] = (
        Action("Send a password reset link", f"{base}/reset-link"),
        Action(
            "Sign out everywhere",
            f"{base}/revoke-sessions",
            confirm=f"End every browser session of {user.username}?",
        ),
    )
    if user.is_active:
        disable = Action(
            "Disable the user",
            f"{base}/disable",
            confirm=f"Disable {user.username}? Their tokens and sessions stop working.",
            danger=True,
        )
        actions = (*actions, disable)
    return Edit(
        heading=f"User {user.username}" + ("" if user.is_active else " (disabled)"),
        fields=[Field("role", "Role", "select", ROLES, required=True)],
        values={"role": user.role},
        actions=actions,
    )


def update_user(session: Session, actor: Actor, user_id: int, body: BaseModel) -> str:
    data = body_of(body, UserPatch)
    user = queries.get_user(session, user_id)
    if data.role is not None:
        service.set_role(session, actor, user, data.role)
    return f"User {user.username} was saved."


USERS = Section(
    key="users",
    title="Users",
    singular="user",
    headers=("User name", "Name", "E-mail", "Role", "Customer", "Status"),
    rows=user_rows,
    create_fields=user_fields,
    create_schema=UserCreate,
    create=create_user,
    edit=edit_user,
    edit_schema=UserPatch,
    update=update_user,
    aliases={"customer": "customer_id"},
)


# ---------------------------------------------------------------- API tokens


def token_rows(session: Session) -> list[Row]:
    names = {u.id: u.username for u in queries.list_users(session)}
    rows = []
    for t in queries.list_tokens(session):
        revoke = Action(
            "Revoke",
            f"/admin/tokens/{t.id}/revoke",
            confirm=f"Revoke the token {t.name}? Programs using it stop working.",
            danger=True,
        )
        cells = (
            t.name,
            names.get(t.user_id, ""),
            t.prefix,
            t.scope,
            when(t.created_at),
            when(t.last_used_at),
            when(t.revoked_at) or "active",
        )
        rows.append(Row(cells, actions=() if t.revoked_at else (revoke,)))
    return rows


def token_fields(session: Session) -> list[Field]:
    return [
        Field("user_id", "Owner", "id", staff_choices(session, "Me")),
        Field("name", "Name", required=True, hint="What uses it, e.g. the monitoring bridge."),
        Field("scope", "Scope", "select", [("write", "read and write"), ("read", "read only")]),
    ]


def create_token(session: Session, actor: Actor, body: BaseModel) -> Done:
    data = body_of(body, TokenCreate)
    user_id = data.user_id if data.user_id is not None else actor.user_id
    assert user_id is not None
    user = queries.get_user(session, user_id)
    token, plain = service.create_token(session, actor, user, name=data.name, scope=data.scope)
    return Done(f"Token {token.name} was created for {user.username}.", secret=plain)


def revoke_token(session: Session, actor: Actor, token_id: int) -> str:
    token = service.revoke_token(session, actor, queries.get_token(session, token_id))
    return f"Token {token.name} was revoked."


TOKENS = Section(
    key="tokens",
    title="API tokens",
    singular="token",
    headers=("Name", "Owner", "Prefix", "Scope", "Created", "Last used", "Revoked"),
    rows=token_rows,
    create_fields=token_fields,
    create_schema=TokenCreate,
    create=create_token,
    hint="A new token is shown once; only its hash is kept.",
)


# ---------------------------------------------------------------- support groups


def group_rows(session: Session) -> list[Row]:
    names = {u.id: u.full_name or u.username for u in queries.list_users(session)}
    return [
        Row(
            (
                g.name,
                g.tier,
                names.get(g.manager_id, "") if g.manager_id else "",
                str(len(queries.list_group_member_ids(session, g.id))),
                g.email or "",
            ),
            href=f"/admin/groups/{g.id}",
        )
        for g in queries.list_groups(session)
    ]


TIER_CHOICES = [(t, t.upper() if t.startswith("l") else t) for t in TIERS]


def group_fields(session: Session) -> list[Field]:
    return [
        Field("name", "Name", required=True),
        Field("tier", "Tier", "select", TIER_CHOICES, required=True),
        Field("description", "Description", "textarea"),
        Field("email", "Team e-mail address", "email"),
        Field("manager_id", "Manager", "id", staff_choices(session, "None")),
    ]


def create_group(session: Session, actor: Actor, body: BaseModel) -> Done:
    data = body_of(body, GroupCreate)
    group = service.create_group(
        session, actor, **{**data.model_dump(), "email": data.email or None}
    )
    return Done(f"Group {group.name} was created.")


def edit_group(session: Session, group_id: int) -> Edit:
    group = queries.get_group(session, group_id)
    member_ids = set(queries.list_group_member_ids(session, group.id))
    users = queries.list_users(session)
    members = tuple(
        Row(
            (u.full_name or u.username, u.username),
            actions=(
                Action(
                    "Remove",
                    f"/admin/groups/{group.id}/members/{u.id}/remove",
                    confirm=f"Remove {u.username} from {group.name}?",
                    danger=True,
                ),
            ),
        )
        for u in users
        if u.id in member_ids
    )
    choices = [c for c in staff_choices(session) if c[0] and int(c[0]) not in member_ids]
    return Edit(
        heading=f"Group {group.name}",
        fields=[
            Field("tier", "Tier", "select", TIER_CHOICES, required=True),
            Field("description", "Description", "textarea"),
            Field("manager_id", "Manager", "id", staff_choices(session, "Keep as it is")),
        ],
        values={
            "tier": group.tier,
            "description": group.description,
            "manager_id": group.manager_id,
        },
        members=members,
        member_choices=choices,
    )


def update_group(session: Session, actor: Actor, group_id: int, body: BaseModel) -> str:
    data = body_of(body, GroupPatch)
    group = service.update_group(
        session, actor, queries.get_group(session, group_id), **data.model_dump()
    )
    return f"Group {group.name} was saved."


def add_member(session: Session, actor: Actor, group_id: int, user_id: int) -> str:
    group = queries.get_group(session, group_id)
    user = queries.get_user(session, user_id)
    service.add_member(session, actor, group, user)
    return f"{user.username} is now a member of {group.name}."


def remove_member(session: Session, actor: Actor, group_id: int, user_id: int) -> str:
    group = queries.get_group(session, group_id)
    user = queries.get_user(session, user_id)
    service.remove_member(session, actor, group, user)
    return f"{user.username} was removed from {group.name}."


GROUPS = Section(
    key="groups",
    title="Support groups",
    singular="group",
    headers=("Name", "Tier", "Manager", "Members", "E-mail"),
    rows=group_rows,
    create_fields=group_fields,
    create_schema=GroupCreate,
    create=create_group,
    edit=edit_group,
    edit_schema=GroupPatch,
    update=update_group,
)


# ---------------------------------------------------------------- customers


def customer_rows(session: Session) -> list[Row]:
    return [
        Row(
            (
                c.name,
                c.description,
                yes(c.share_incidents),
                "active" if c.is_active else "inactive",
            ),
            href=f"/admin/customers/{c.id}",
        )
        for c in queries.list_customers(session)
    ]


SHARE_HINT = "Requesters of the customer see each other's incidents."


def customer_fields(session: Session) -> list[Field]:
    return [
        Field("name", "Name", required=True),
        Field("description", "Description", "textarea"),
        Field(
            "share_incidents", "Share incidents between its requesters", "checkbox", hint=SHARE_HINT
        ),
    ]


def create_customer(session: Session, actor: Actor, body: BaseModel) -> Done:
    data = body_of(body, CustomerCreate)
    customer = service.create_customer(session, actor, **data.model_dump())
    return Done(f"Customer {customer.name} was added.")


def edit_customer(session: Session, customer_id: int) -> Edit:
    customer = queries.get_customer(session, customer_id)
    return Edit(
        heading=f"Customer {customer.name}",
        fields=[
            Field("description", "Description", "textarea"),
            Field(
                "share_incidents",
                "Share incidents between its requesters",
                "checkbox",
                hint=SHARE_HINT,
            ),
            Field("is_active", "Active", "checkbox"),
        ],
        values={
            "description": customer.description,
            "share_incidents": customer.share_incidents,
            "is_active": customer.is_active,
        },
    )


def update_customer(session: Session, actor: Actor, customer_id: int, body: BaseModel) -> str:
    data = body_of(body, CustomerPatch)
    customer = service.update_customer(
        session, actor, queries.get_customer(session, customer_id), **data.model_dump()
    )
    return f"Customer {customer.name} was saved."


CUSTOMERS = Section(
    key="customers",
    title="Customers",
    singular="customer",
    headers=("Name", "Description", "Shares incidents", "Status"),
    rows=customer_rows,
    create_fields=customer_fields,
    create_schema=CustomerCreate,
    create=create_customer,
    edit=edit_customer,
    edit_schema=CustomerPatch,
    update=update_customer,
)
