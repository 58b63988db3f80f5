"""@mentions in work notes and public replies: who is named, and telling them (the
``mentioned`` notification, to the named agents only, never to chat or webhook endpoints)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, can_see_incident
from dutydesk.config import Settings
from dutydesk.incidents import collaboration
from dutydesk.models import Comment, Incident, User
from dutydesk.notify import service as notify
from dutydesk.people import queries as people

# A mention is @ plus a user name, not inside a word or an e-mail address (a@b.c).
MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9][A-Za-z0-9._-]{0,79})")
MAX_MENTIONS = 20


def mentioned_usernames(text: str) -> list[str]:
    """The user names mentioned in `text`, in order, once each (pure)."""
    names = [m.rstrip(".-") for m in MENTION.findall(text)]
    return list(dict.fromkeys(n for n in names if n))[:MAX_MENTIONS]


@dataclass(frozen=True)
class Posted:
    comment: Comment
    told: list[str]  # user names notified
    not_told: list[str]  # named but unknown, not staff, or unable to see the incident


def post_comment(
    session: Session,
    settings: Settings,
    actor: Actor,
    incident: Incident,
    body: str,
    visibility: str,
) -> Posted:
    """Add the comment (``collaboration.add_comment``) and notify the agents it mentions who
    may see the incident; the occurrence is the comment, so it is announced once."""
    comment = collaboration.add_comment(
        session, actor, incident, body, visibility, settings=settings
    )
    names = mentioned_usernames(body)
    if not names:
        return Posted(comment, [], [])
    users = session.scalars(
        select(User).where(User.username.in_(names), User.is_active.is_(True))
    ).all()
    by_name = {u.username: u for u in users}
    told: list[User] = []
    for name in names:
        user = by_name.get(name)
        if user is None or user.role == Role.requester or user.id == actor.user_id:
            continue
        if can_see_incident(people.build_actor(session, user, channel="web"), incident):
            told.append(user)
    if told:
        notify.announce(
            session,
            settings,
            incident,
            "mentioned",
            actor=actor,
            occurrence=f"comment{comment.id}",
            extra={"comment": body, "visibility": visibility},
            recipients=[u.id for u in told],
        )
    told_names = [u.username for u in told]
    others = [n for n in names if n not in told_names and n != _own_name(actor, by_name)]
    return Posted(comment, told_names, others)


def _own_name(actor: Actor, by_name: dict[str, User]) -> str | None:
    return next((n for n, u in by_name.items() if u.id == actor.user_id), None)
