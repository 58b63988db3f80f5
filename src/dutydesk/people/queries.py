"""Reads for people: users, groups, customers, tokens, and building the Actor."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role
from dutydesk.kernel.errors import NotFound
from dutydesk.models import AgentCustomer, ApiToken, Customer, GroupMember, SupportGroup, User


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def get_user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def find_user_for_login(session: Session, login: str) -> User | None:
    clause = User.email == login.lower() if "@" in login else User.username == login
    return session.scalar(select(User).where(clause))


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def get_group(session: Session, group_id: int) -> SupportGroup:
    group = session.get(SupportGroup, group_id)
    if group is None:
        raise NotFound(f"group {group_id} not found")
    return group


def get_group_by_name(session: Session, name: str) -> SupportGroup:
    group = session.scalar(select(SupportGroup).where(SupportGroup.name == name))
    if group is None:
        raise NotFound(f"group {name!r} not found")
    return group


def list_groups(session: Session) -> Sequence[SupportGroup]:
    return session.scalars(select(SupportGroup).order_by(SupportGroup.name)).all()


def list_group_member_ids(session: Session, group_id: int) -> list[int]:
    return list(
        session.scalars(
            select(GroupMember.user_id)
            .where(GroupMember.group_id == group_id)
            .order_by(GroupMember.user_id)
        )
    )


def is_group_member(session: Session, group_id: int, user_id: int) -> bool:
    return session.get(GroupMember, (group_id, user_id)) is not None


def get_customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def get_customer_by_name(session: Session, name: str) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.name == name))
    if customer is None:
        raise NotFound(f"customer {name!r} not found")
    return customer


def list_customers(session: Session) -> Sequence[Customer]:
    return session.scalars(select(Customer).order_by(Customer.name)).all()


def list_tokens(session: Session, user_id: int | None = None) -> Sequence[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return session.scalars(query).all()


def get_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} not found")
    return token


# Statements every write batch runs are built once: building one (operators, coercions,
# its cache key) cost more than running it.
_ACTIVE_TOKEN = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)
_REACH = union_all(  # an actor's groups, served customers and own customer's sharing
    select(literal("g"), GroupMember.group_id).where(GroupMember.user_id == bindparam("user_id")),
    select(literal("c"), AgentCustomer.customer_id).where(
        AgentCustomer.user_id == bindparam("user_id")
    ),
    select(literal("s"), Customer.id).where(
        Customer.id == bindparam("customer_id"), Customer.share_incidents.is_(True)
    ),
)


def find_active_token(session: Session, token_hash: str) -> tuple[ApiToken, User] | None:
    row = session.execute(_ACTIVE_TOKEN, {"token_hash": token_hash}).first()
    if row is None or not row[1].is_active:
        return None
    return row[0], row[1]


def build_actor(
    session: Session,
    user: User,
    *,
    scope: str = "write",
    channel: str = "api",
    request_id: str | None = None,
) -> Actor:
    # One round trip for the actor's reach: groups, served customers, customer sharing.
    rows = session.execute(_REACH, {"user_id": user.id, "customer_id": user.customer_id}).all()
    group_ids = frozenset(ident for kind, ident in rows if kind == "g")
    served = frozenset(ident for kind, ident in rows if kind == "c")
    shares = any(kind == "s" for kind, _ in rows)
    return Actor(
        user_id=user.id,
        name=user.username,
        role=Role(user.role),
        actor_type="user",
        channel=channel,
        customer_id=user.customer_id,
        customer_shares=shares,
        group_ids=group_ids,
        served_customer_ids=served,
        scope=scope,
        request_id=request_id,
    )
