"""User confirmation after resolution, auto-close and the satisfaction survey (SPEC §5).

On resolution the requester is mailed two links (confirm / reject); on closure one (the
survey). Links need no login: each is signed with the installation's secret key (HMAC via
itsdangerous), names its incident and purpose, expires after ``link_valid_days``, and carries
the incident's current ``confirm_nonce``. Using a link rotates or clears the nonce, so every
link works once; any later state change (a reopen, a close by an agent) invalidates it too.
Opening a link (GET) only shows a form: mail scanners that follow links change nothing.

``sync`` keeps the nonce and ``auto_close_at`` in step with the incident's state; it is called
after every lifecycle action, like ``sla.sync_clocks``. ``incidents.by_link`` answers links;
``incidents.jobs.close_due`` is the worker job closing resolved incidents left unanswered.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.config import Settings
from dutydesk.incidents import changes, history
from dutydesk.incidents.lifecycle import OPEN, Status
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from dutydesk.models import Incident, Setting, User
from dutydesk.people import queries as people
from dutydesk.sla import service as sla
from dutydesk.sla.business_time import add_business_days
from dutydesk.sla.calendar import CalendarError

SALT = "dutydesk.incident-link"
_KEYS: dict[str, str] = {}  # database URL -> the generated key (it never changes)
MAX_COMMENT = 2000


class Purpose(StrEnum):
    confirm = "confirm"  # the confirm and the reject link of a resolution
    survey = "survey"


# ----------------------------------------------------------------------------- the key


def secret_key(session: Session, settings: Settings) -> str:
    """DUTYDESK_SECRET_KEY, or the random key the migration stored in the setting table."""
    if settings.secret_key:
        return settings.secret_key
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    key = _KEYS.get(url)
    if key is None:
        row = session.get(Setting, "secret_key")
        if row is None or len(row.value) < 32:
            raise RuntimeError("no secret key: set DUTYDESK_SECRET_KEY or run `dutydesk migrate`")
        key = _KEYS[url] = row.value
    return key


def _serializer(session: Session, settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(session, settings), salt=SALT)


# ----------------------------------------------------------------------------- links


def mint(session: Session, settings: Settings, incident: Incident, purpose: Purpose) -> str:
    """A signed token for the incident's current nonce, valid for ``link_valid_days``."""
    if incident.confirm_nonce is None:
        raise ValueError(f"{incident.number} has no link to give")
    expires = clock.now() + timedelta(days=settings.link_valid_days)
    payload = [incident.number, purpose.value, incident.confirm_nonce, int(expires.timestamp())]
    token: str = _serializer(session, settings).dumps(payload)
    return token


def urls(session: Session, settings: Settings, incident: Incident) -> dict[str, str]:
    """The links for the requester's mail: confirm/reject when resolved, survey when closed."""
    base = settings.public_base_url.rstrip("/")
    if incident.state == Status.resolved:
        token = mint(session, settings, incident, Purpose.confirm)
        page = f"{base}/confirm/{incident.number}?t={token}"
        return {"confirm_url": page + "&answer=yes", "reject_url": page + "&answer=no"}
    token = mint(session, settings, incident, Purpose.survey)
    return {"survey_url": f"{base}/survey/{incident.number}?t={token}"}


@dataclass(frozen=True)
class Link:
    incident: Incident
    purpose: Purpose
    expires_at: datetime


def check_link(
    session: Session, settings: Settings, number: str, token: str, purpose: Purpose
) -> Link:
    """The incident a link is for, or why it cannot be used (404 forged, 410 expired/used)."""
    try:
        data = _serializer(session, settings).loads(token)
    except BadSignature:
        raise NotFound("this link is not valid; check that it was copied whole") from None
    if not (isinstance(data, list) and len(data) == 4):
        raise NotFound("this link is not valid")
    link_number, link_purpose, nonce, expires = data
    if link_number != number or link_purpose != purpose.value or not isinstance(expires, int):
        raise NotFound("this link is not valid for this page")
    incident = session.scalar(select(Incident).where(Incident.number == number).with_for_update())
    if incident is None:
        raise NotFound(f"incident {number} not found")
    expires_at = datetime.fromtimestamp(expires, UTC)
    if clock.now() > expires_at:
        raise Gone(
            f"this link expired on {expires_at:%Y-%m-%d}; reply to the e-mail or sign in instead"
        )
    current = incident.confirm_nonce or ""
    if not hmac.compare_digest(current.encode(), str(nonce).encode()):
        raise Gone(f"this link was already used, or {number} has changed since it was sent")
    return Link(incident, purpose, expires_at)


def caller_actor(session: Session, incident: Incident) -> Actor:
    """Who acts through a link: the incident's caller."""
    user = session.get(User, incident.caller_id) if incident.caller_id is not None else None
    if user is None or not user.is_active:
        raise Forbidden("the caller of this incident can no longer answer; contact the desk")
    return people.build_actor(session, user, channel="link")


# ----------------------------------------------------------------------------- answers


def _checked_rating(rating: Any, comment: str | None) -> tuple[int, str | None]:
    errors = []
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors.append({"field": "rating", "msg": "a whole number from 1 to 5"})
    text = (comment or "").strip() or None
    if text is not None and len(text) > MAX_COMMENT:
        errors.append({"field": "comment", "msg": f"at most {MAX_COMMENT} characters"})
    if errors:
        raise InvalidInput("the survey answer is not valid", errors=errors)
    return rating, text


def give_feedback(
    session: Session, actor: Actor, incident: Incident, rating: Any, comment: str | None
) -> Incident:
    """Store the satisfaction survey answer (once) of a closed incident."""
    value, text = _checked_rating(rating, comment)
    if incident.state != Status.closed:
        raise Conflict(f"{incident.number} is not closed; the survey comes after closure")
    if incident.csat_rating is not None:
        raise Conflict(f"{incident.number} was already rated")
    if actor.user_id is None or actor.user_id != incident.caller_id:
        raise Forbidden("only the caller rates the handling of an incident")
    incident.csat_rating, incident.csat_comment, incident.csat_at = value, text, clock.now()
    incident.confirm_nonce = None
    history.record(
        session,
        incident,
        actor,
        "csat_given",
        field="csat_rating",
        new={"rating": value, "comment": text},
        rule_id="CSAT",
    )
    changes.touch(incident)
    return incident


# ----------------------------------------------------------------------------- sync


def auto_close_instant(session: Session, settings: Settings, incident: Incident) -> datetime | None:
    """When a resolved incident closes without an answer: N business days on its calendar."""
    days = settings.auto_close_business_days
    if days <= 0 or incident.resolved_at is None:
        return None
    policy = sla.policy_for(session, incident)
    cal = sla.calendar_of(session, policy.calendar_id)
    try:
        return add_business_days(cal, incident.resolved_at, days)
    except CalendarError:  # a calendar closed for years: fall back to calendar days
        return incident.resolved_at + timedelta(days=days)


def sync(session: Session, settings: Settings, incident: Incident, old_state: str) -> None:
    """Mint, rotate or clear the link nonce and the auto-close time to match the state."""
    state = Status(incident.state)
    if state == old_state:
        return
    if state == Status.resolved:
        incident.confirm_nonce = secrets.token_urlsafe(24)
        incident.auto_close_at = auto_close_instant(session, settings, incident)
    elif state == Status.closed:
        incident.auto_close_at = None
        rated = incident.csat_rating is not None
        incident.confirm_nonce = None if rated else secrets.token_urlsafe(24)
    elif state in OPEN or state == Status.cancelled:
        incident.auto_close_at = None
        incident.confirm_nonce = None
