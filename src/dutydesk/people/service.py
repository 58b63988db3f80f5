"""Writes for people: accounts, roles, tokens, sign-in, groups, customers (never commit)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, require_admin
from dutydesk.config import Settings
from dutydesk.kernel import clock
from dutydesk.kernel.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from dutydesk.kernel.persistence import flush_unique
from dutydesk.models import (
    AgentCustomer,
    ApiToken,
    Customer,
    GroupMember,
    LoginAttempt,
    SupportGroup,
    User,
)
from dutydesk.people import queries, sessions
from dutydesk.people.secrets import hash_password, hash_token, new_token, verify_password

TIERS = ("l1", "l2", "l3", "supplier")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,80}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10


def add_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    email: str,
    role: str,
    full_name: str = "",
    password: str | None = None,
    customer_id: int | None = None,
) -> User:
    require_admin(actor)
    errors = []
    if not USERNAME_RE.match(username):
        errors.append({"field": "username", "msg": "2–80 letters, digits, '.', '_' or '-'"})
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors.append({"field": "email", "msg": "not a valid e-mail address"})
    if role not in Role.__members__:
        errors.append({"field": "role", "msg": f"must be one of {', '.join(Role)}"})
    if password is not None and len(password) < MIN_PASSWORD:
        errors.append({"field": "password", "msg": f"at least {MIN_PASSWORD} characters"})
    if role == Role.requester and customer_id is None:
        errors.append({"field": "customer", "msg": "a requester belongs to a customer"})
    if errors:
        raise InvalidInput("the user is not valid", errors=errors)
    if customer_id is not None:
        queries.get_customer(session, customer_id)
    now = clock.now()
    user = User(
        username=username,
        email=email.lower(),
        full_name=full_name,
        role=role,
        password_hash=hash_password(password) if password else None,
        customer_id=customer_id,
        is_active=True,
        is_available=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    flush_unique(session, f"a user named {username!r} or with e-mail {email!r}")
    return user


def set_role(session: Session, actor: Actor, user: User, role: str) -> User:
    require_admin(actor)
    if role not in Role.__members__:
        raise InvalidInput(f"role must be one of {', '.join(Role)}")
    user.role = role
    user.updated_at = clock.now()
    return user


def disable_user(session: Session, actor: Actor, user: User) -> User:
    """A disabled user can no longer sign in; every token and browser session of theirs stops
    working."""
    require_admin(actor)
    now = clock.now()
    user.is_active = False
    user.updated_at = now
    for token in queries.list_tokens(session, user.id):
        if token.revoked_at is None:
            token.revoked_at = now
    sessions.end_all(session, user.id)
    return user


def change_password(session: Session, actor: Actor, user: User, password: str) -> User:
    if actor.user_id != user.id:
        require_admin(actor)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password needs at least {MIN_PASSWORD} characters")
    user.password_hash = hash_password(password)
    user.updated_at = clock.now()
    sessions.end_all(session, user.id)  # every browser signed in as the user signs in afresh
    return user


def create_token(
    session: Session, actor: Actor, user: User, *, name: str, scope: str = "write"
) -> tuple[ApiToken, str]:
    """Returns the row and the plain token, which is never stored and shown only once."""
    if actor.user_id != user.id:
        require_admin(actor)
    if scope not in ("read", "write"):
        raise InvalidInput("scope must be 'read' or 'write'")
    if not name.strip() or len(name) > 120:
        raise InvalidInput("a token needs a name of 1–120 characters")
    if not user.is_active:
        raise Conflict(f"user {user.username!r} is disabled")
    plain = new_token()
    token = ApiToken(
        user_id=user.id,
        name=name.strip(),
        token_hash=hash_token(plain),
        prefix=plain[:12],
        scope=scope,
        created_at=clock.now(),
    )
    session.add(token)
    session.flush()
    return token, plain


def revoke_token(session: Session, actor: Actor, token: ApiToken) -> ApiToken:
    if actor.user_id != token.user_id:
        require_admin(actor)
    if token.revoked_at is None:
        token.revoked_at = clock.now()
    return token


def touch_token(session: Session, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is not None:
        token.last_used_at = clock.now()


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    retry_after: int = 0


def sign_in(
    session: Session, settings: Settings, *, login: str, password: str, address: str
) -> LoginResult:
    """Check a password, counting failures per account and per address in a window."""
    now = clock.now()
    since = now - timedelta(seconds=settings.login_window_seconds)
    key = login.strip().lower()[:254]
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == key, LoginAttempt.at >= since, ~LoginAttempt.succeeded)
    )
    by_address = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.address == address, LoginAttempt.at >= since, ~LoginAttempt.succeeded)
    )
    limit = settings.login_max_failures
    if (failures or 0) >= limit or (by_address or 0) >= limit * 4:
        return LoginResult(None, retry_after=settings.login_window_seconds)
    user = queries.find_user_for_login(session, login.strip())
    ok = verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.is_active
    session.add(LoginAttempt(username=key, address=address[:64], at=now, succeeded=ok))
    return LoginResult(user if ok else None)


def raise_for_login(result: LoginResult) -> User:
    if result.retry_after:
        raise TooManyRequests(
            "too many failed sign-ins; try again later",
            extra={"retry_after": result.retry_after},
        )
    if result.user is None:
        raise Unauthorized("wrong user name or password")
    return result.user


def create_customer(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str = "",
    share_incidents: bool = False,
) -> Customer:
    require_admin(actor)
    if not name.strip():
        raise InvalidInput("a customer needs a name")
    customer = Customer(
        name=name.strip(),
        description=description,
        share_incidents=share_incidents,
        is_active=True,
        created_at=clock.now(),
    )
    session.add(customer)
    flush_unique(session, f"a customer named {name!r}")
    return customer


def update_customer(
    session: Session,
    actor: Actor,
    customer: Customer,
    *,
    description: str | None = None,
    share_incidents: bool | None = None,
    is_active: bool | None = None,
) -> Customer:
    require_admin(actor)
    if description is not None:
        customer.description = description
    if share_incidents is not None:
        customer.share_incidents = share_incidents
    if is_active is not None:
        customer.is_active = is_active
    return customer


def create_group(
    session: Session,
    actor: Actor,
    *,
    name: str,
    tier: str,
    description: str = "",
    email: str | None = None,
    manager_id: int | None = None,
) -> SupportGroup:
    require_admin(actor)
    if tier not in TIERS:
        raise InvalidInput(f"tier must be one of {', '.join(TIERS)}")
    if not name.strip():
        raise InvalidInput("a group needs a name")
    if manager_id is not None:
        queries.get_user(session, manager_id)
    group = SupportGroup(
        name=name.strip(),
        tier=tier,
        description=description,
        email=email,
        manager_id=manager_id,
        is_active=True,
        created_at=clock.now(),
    )
    session.add(group)
    flush_unique(session, f"a group named {name!r}")
    return group


def update_group(
    session: Session,
    actor: Actor,
    group: SupportGroup,
    *,
    tier: str | None = None,
    description: str | None = None,
    manager_id: int | None = None,
) -> SupportGroup:
    require_admin(actor)
    if tier is not None:
        if tier not in TIERS:
            raise InvalidInput(f"tier must be one of {', '.join(TIERS)}")
        group.tier = tier
    if description is not None:
        group.description = description
    if manager_id is not None:
        queries.get_user(session, manager_id)
        group.manager_id = manager_id
    return group


def add_member(session: Session, actor: Actor, group: SupportGroup, user: User) -> None:
    require_admin(actor)
    if user.role == Role.requester:
        raise InvalidInput("requesters cannot be members of a support group")
    if not queries.is_group_member(session, group.id, user.id):
        session.add(GroupMember(group_id=group.id, user_id=user.id))


def remove_member(session: Session, actor: Actor, group: SupportGroup, user: User) -> None:
    require_admin(actor)
    member = session.get(GroupMember, (group.id, user.id))
    if member is None:
        raise NotFound(f"{user.username} is not a member of {group.name}")
    session.delete(member)


def serve_customer(session: Session, actor: Actor, user: User, customer: Customer) -> None:
    """Let an agent see (and work) the incidents of a customer."""
    require_admin(actor)
    if user.role == Role.requester:
        raise InvalidInput("only staff serve customers")
    if session.get(AgentCustomer, (user.id, customer.id)) is None:
        session.add(AgentCustomer(user_id=user.id, customer_id=customer.id))
