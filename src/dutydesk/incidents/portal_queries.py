"""Reads of the self-service portal: the requester's records, their organization's when it
shares them, the public conversation of one record, and the services offered to them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, incident_visibility
from dutydesk.incidents.lifecycle import OPEN, Status
from dutydesk.incidents.portal_rules import size_label
from dutydesk.models import Attachment, Comment, Incident, Service, User

ACTIVE = sorted(OPEN | {Status.resolved})  # a resolved record still waits for the requester
ENDED = sorted({Status.closed, Status.cancelled})


def _own(actor: Actor) -> ColumnElement[bool]:
    """Records the actor is the caller of; a requester's own submissions too (staff submit
    for callers all day: those are the callers' records, not the agent's)."""
    if actor.is_staff:
        return Incident.caller_id == actor.user_id
    return or_(Incident.caller_id == actor.user_id, Incident.opened_by_id == actor.user_id)


def list_own(
    session: Session, actor: Actor, *, active: bool, limit: int = 50
) -> Sequence[Incident]:
    """The actor's records as caller or submitter: still active (newest change first), or
    ended (most recently ended first)."""
    query = select(Incident).where(incident_visibility(actor), _own(actor))
    if active:
        query = query.where(Incident.state.in_(ACTIVE))
    else:
        query = query.where(Incident.state.in_(ENDED))
    return session.scalars(
        query.order_by(Incident.updated_at.desc(), Incident.id.desc()).limit(limit)
    ).all()


def list_organization(session: Session, actor: Actor, *, limit: int = 50) -> Sequence[Incident]:
    """The records of the actor's customer, when the customer shares them (else none)."""
    if not (actor.customer_shares and actor.customer_id is not None):
        return []
    query = select(Incident).where(
        incident_visibility(actor), Incident.customer_id == actor.customer_id
    )
    return session.scalars(
        query.order_by(Incident.updated_at.desc(), Incident.id.desc()).limit(limit)
    ).all()


def list_offered_services(session: Session, customer_id: int | None) -> Sequence[Service]:
    """Services offered to every customer and those of this customer."""
    offered: ColumnElement[bool] = Service.customer_id.is_(None)
    if customer_id is not None:
        offered = or_(offered, Service.customer_id == customer_id)
    return session.scalars(select(Service).where(offered).order_by(Service.name)).all()


@dataclass(frozen=True)
class Entry:
    """One item of the public conversation: a reply or a file."""

    at: datetime
    author: str
    mine: bool
    body: str = ""
    attachment_id: int | None = None
    filename: str = ""
    size: int = 0

    @property
    def size_label(self) -> str:
        return size_label(self.size)


def _author(user: User | None, actor: Actor) -> str:
    if user is None:
        return "DutyDesk"
    if user.id == actor.user_id:
        return "You"
    if user.role != "requester":
        return "Service desk"  # agents' names are not the requester's business
    return user.full_name or user.username


def list_conversation(session: Session, actor: Actor, incident: Incident) -> list[Entry]:
    """Public replies and public files only, oldest first: never work notes or history."""
    comments = session.scalars(
        select(Comment)
        .where(Comment.incident_id == incident.id, Comment.visibility == "public")
        .order_by(Comment.id)
    ).all()
    files = session.scalars(
        select(Attachment)
        .where(Attachment.incident_id == incident.id, Attachment.visibility == "public")
        .order_by(Attachment.id)
    ).all()
    ids = {c.author_id for c in comments} | {a.uploaded_by_id for a in files}
    users = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_([i for i in ids if i])))
    }
    entries = [
        Entry(
            c.created_at,
            _author(users.get(c.author_id or 0), actor),
            c.author_id == actor.user_id,
            body=c.body,
        )
        for c in comments
    ]
    entries += [
        Entry(
            a.created_at,
            _author(users.get(a.uploaded_by_id or 0), actor),
            a.uploaded_by_id == actor.user_id,
            attachment_id=a.id,
            filename=a.filename,
            size=a.size,
        )
        for a in files
    ]
    return sorted(entries, key=lambda e: e.at)


def service_name(session: Session, service_id: int | None) -> str:
    if service_id is None:
        return ""
    service = session.get(Service, service_id)
    return service.name if service is not None else ""
