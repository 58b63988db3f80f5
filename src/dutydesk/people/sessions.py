"""Browser sign-in: web sessions with idle and absolute timeouts, password reset by e-mailed
single-use token, and single sign-on users matched or created by e-mail (never commit).

A session is a random 256-bit token in an HttpOnly cookie; the database keeps only its
SHA-256, the per-session CSRF token, when it was last used and when it ends regardless of
use. Ending a user's sessions is deleting their rows, which a password change, a reset and
disabling the user do (``people.service``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dutydesk.access.policy import Role
from dutydesk.config import Settings
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Gone, InvalidInput, NotFound
from dutydesk.models import PasswordReset, User, WebSession
from dutydesk.people import queries
from dutydesk.people.secrets import hash_password, hash_token

TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session
RESET_COOLDOWN = timedelta(minutes=2)  # one reset mail per user in this time, whatever is asked
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Resumed:
    """A live session found from its cookie; `stale` when last_seen_at should be written."""

    session_id: int
    user: User
    csrf_token: str
    stale: bool


def begin(
    session: Session, settings: Settings, user: User, *, user_agent: str = "", via: str = "password"
) -> str:
    """Start a session for a signed-in user; returns the plain cookie token (shown once)."""
    now = clock.now()
    plain = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=hash_token(plain),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_absolute_hours),
            user_agent=user_agent[:200],
            via=via,
        )
    )
    session.flush()
    return plain


def resume(session: Session, settings: Settings, token: str | None) -> Resumed | None:
    """The live session of a cookie, or None (unknown, idle too long, past its absolute end,
    or its user disabled). Reads only; the caller writes ``touch`` when `stale`."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    web, user = row
    now = clock.now()
    idle = timedelta(minutes=settings.session_idle_minutes)
    if not user.is_active or now >= web.expires_at or now - web.last_seen_at >= idle:
        return None
    return Resumed(web.id, user, web.csrf_token, stale=now - web.last_seen_at >= TOUCH_EVERY)


def touch(session: Session, session_id: int) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.id == session_id)
        .values(last_seen_at=clock.now())
        .execution_options(synchronize_session=False)
    )


def end(session: Session, token: str | None) -> None:
    """Sign out: the cookie's session stops working (nothing happens for an unknown one)."""
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))


def end_all(session: Session, user_id: int) -> int:
    """End every browser session of a user; returns how many there were."""
    result = session.execute(
        delete(WebSession)
        .where(WebSession.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def prune(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete sessions that can no longer be used (the worker's housekeeping)."""
    now = now or clock.now()
    idle_since = now - timedelta(minutes=settings.session_idle_minutes)
    result = session.execute(
        delete(WebSession)
        .where((WebSession.expires_at <= now) | (WebSession.last_seen_at <= idle_since))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def prune_resets(session: Session, before: datetime) -> int:
    """Delete password reset rows that expired before `before` (used or not)."""
    result = session.execute(
        delete(PasswordReset)
        .where(PasswordReset.expires_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- password reset


def request_reset(session: Session, settings: Settings, login: str) -> bool:
    """Mail a reset link to the account named by user name or e-mail, if there is an active
    one with a password-capable address. Returns whether a mail was queued; the web page says
    the same thing either way, so nobody learns which addresses have accounts."""
    # cycle: notify imports people (users, queries); people needs notify only for this mail
    from dutydesk.notify import service as notify

    user = queries.find_user_for_login(session, login.strip()[:254])
    if user is None or not user.is_active or not user.email:
        return False
    now = clock.now()
    recent = session.scalar(
        select(PasswordReset.id).where(
            PasswordReset.user_id == user.id, PasswordReset.created_at > now - RESET_COOLDOWN
        )
    )
    if recent is not None:
        return False
    plain = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            token_hash=hash_token(plain),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.password_reset_minutes),
        )
    )
    session.flush()
    url = f"{settings.public_base_url.rstrip('/')}/password/reset/{plain}"
    body = (
        f"Hello {user.full_name or user.username},\n\n"
        "someone (we hope you) asked to reset your DutyDesk password. Choose a new one here:\n\n"
        f"{url}\n\n"
        f"The link works once, for {settings.password_reset_minutes} minutes. If you did not "
        "ask for it, ignore this mail: your password stays as it is.\n"
    )
    notify.send_account_mail(
        session,
        settings,
        user,
        event="password_reset",
        occurrence=hash_token(plain)[:32],
        subject="Reset your DutyDesk password",
        body=body,
    )
    return True


def check_reset(session: Session, token: str) -> PasswordReset:
    """The reset row of a link, if it can still be used (404 unknown, 410 used or expired)."""
    row = session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == hash_token(token[:200]))
    )
    if row is None:
        raise NotFound("this password reset link is not valid")
    if row.used_at is not None or clock.now() >= row.expires_at:
        raise Gone("this password reset link was used or has expired; ask for a new one")
    return row


def reset_password(session: Session, token: str, password: str) -> User:
    """Set a new password through a reset link: the link and every other open link of the
    user are spent, and every session of the user ends."""
    row = check_reset(session, token)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Gone("this account is disabled")
    check_password_strength(password)
    now = clock.now()
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user.password_hash = hash_password(password)
    user.updated_at = now
    end_all(session, user.id)
    return user


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"the password needs at least {MIN_PASSWORD} characters",
            errors=[{"field": "password", "msg": f"at least {MIN_PASSWORD} characters"}],
        )
    if len(password) > 1000:
        raise InvalidInput(
            "the password is too long", errors=[{"field": "password", "msg": "at most 1000"}]
        )


# ---------------------------------------------------------------- single sign-on


def user_for_sso(
    session: Session, settings: Settings, *, email: str, name: str, verified: bool
) -> User:
    """The user an OpenID Connect sign-in stands for: matched by e-mail (case-insensitive), or
    created as a requester when allowed. An unverified e-mail address is refused: anyone can
    claim any address at some providers."""
    email = email.strip().lower()
    if not verified or "@" not in email or len(email) > 254:
        raise InvalidInput("the identity provider did not give a verified e-mail address")
    user = session.scalar(select(User).where(User.email == email))
    if user is not None:
        if not user.is_active:
            raise InvalidInput("this account is disabled")
        return user
    if not settings.oidc_create_users:
        raise NotFound("there is no DutyDesk account for this e-mail address")
    base = "".join(c for c in email.split("@")[0] if c.isalnum() or c in "._-")[:60] or "user"
    username = base if len(base) >= 2 else f"{base}-sso"
    n = 1
    while session.scalar(select(User.id).where(User.username == username)) is not None:
        n += 1
        username = f"{base}{n}"
    now = clock.now()
    user = User(
        username=username,
        email=email,
        full_name=name.strip()[:200],
        role=Role.requester,
        password_hash=None,
        is_active=True,
        is_available=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user
