"""Service requests (never commit): converting an incident that is really a request, the
request's fulfilment actions, and the agent's "is a service request" flag on an incident.

Conversion is one agent action: a ``service_request`` row (``REQ…``) with the incident's
fields, the incident's whole history copied into the request's (each copy names the incident
event it copies: number, seq and hash), the link both ways (``service_request.incident_id``;
on the incident a ``converted_to_request`` event and ``cancel_reason``), the incident
cancelled (its CAN-n transition, rule REQ-CNV on the conversion events), and the requester
told through the outbox (``converted_to_request``).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_staff, require_write_scope
from dutydesk.config import Settings
from dutydesk.incidents import changes, history
from dutydesk.incidents import service as incidents
from dutydesk.incidents.lifecycle import OPEN, TERMINAL, Action, Status
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, Forbidden, NotFound
from dutydesk.models import Incident, IncidentEvent, ServiceRequest, ServiceRequestEvent
from dutydesk.notify import service as notify
from dutydesk.routing import queries
from dutydesk.routing.request_lifecycle import (
    InvalidRequestTransition,
    RequestAction,
    RequestStatus,
    next_transition,
)
from dutydesk.sla import service as sla

CONVERT_RULE = "REQ-CNV"
COPIED_FIELDS = (
    "short_description",
    "description",
    "caller_id",
    "customer_id",
    "service_id",
    "ci_id",
    "category_id",
    "subcategory_id",
    "priority",
    "assignment_group_id",
    "assignee_id",
)
CARRIED_EVENT_FIELDS = (
    "at",
    "actor_id",
    "actor_name",
    "actor_type",
    "channel",
    "kind",
    "field",
    "old",
    "new",
    "reason",
    "rule_id",
)
FLAG_RULE = "REQ-FLG"
PORTAL_RULE = "REQ-PTL"


def decode(value: str | None) -> Any:
    return json.loads(value) if value is not None else None


def request_url(settings: Settings, number: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/requests/{number}"


def _record(
    session: Session,
    request: ServiceRequest,
    actor: Actor,
    kind: str,
    *,
    seq: int,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
    rule_id: str | None = None,
) -> ServiceRequestEvent:
    event = ServiceRequestEvent(
        request_id=request.id,
        seq=seq,
        at=clock.now(),
        actor_id=actor.user_id,
        actor_name=actor.name,
        actor_type=actor.actor_type,
        channel=actor.channel,
        kind=kind,
        field=field,
        old=history.encode(old),
        new=history.encode(new),
        reason=reason,
        rule_id=rule_id,
    )
    session.add(event)
    return event


def _next_seq(session: Session, request: ServiceRequest) -> int:
    last = session.scalar(
        select(func.max(ServiceRequestEvent.seq)).where(
            ServiceRequestEvent.request_id == request.id
        )
    )
    return int(last or 0) + 1


def convert_to_request(
    session: Session, settings: Settings, actor: Actor, incident: Incident, reason: str | None
) -> ServiceRequest:
    require_staff(actor)
    if Status(incident.state) not in OPEN:
        raise Conflict(
            f"{incident.number} is {incident.state}; only an open incident is converted",
            extra={"state": incident.state},
        )
    if queries.request_of_incident(session, incident.id) is not None:
        raise Conflict(f"{incident.number} was already converted")
    number = incidents.next_number(session, prefix="REQ")
    now = clock.now()
    request = ServiceRequest(
        number=number,
        incident_id=incident.id,
        opened_by_id=actor.user_id,
        state=RequestStatus.new.value,
        opened_at=now,
        updated_at=now,
        **{name: getattr(incident, name) for name in COPIED_FIELDS},
    )
    session.add(request)
    why = reason or "logged as an incident, but it is a service request"
    history.record(
        session,
        incident,
        actor,
        "converted_to_request",
        field="service_request",
        new=number,
        reason=why,
        rule_id=CONVERT_RULE,
    )
    cancel_rule = changes.transition(
        session, actor, incident, Action.cancel, reason=f"converted to service request {number}"
    )
    changes.set_field(
        session,
        actor,
        incident,
        "cancel_reason",
        f"converted to service request {number}",
        cancel_rule,
    )
    incident.cancelled_at = now
    sla.sync_clocks(session, actor, incident)  # stops the incident's clocks (cancelled)
    session.flush()
    _carry_history(session, actor, incident, request, why)
    if incident.caller_id is not None:
        extra: dict[str, object] = {"request": number, "request_url": request_url(settings, number)}
        if reason:
            extra["comment"] = reason
        notify.announce(
            session,
            settings,
            incident,
            "converted_to_request",
            actor=actor,
            occurrence=incident.history_head,
            extra=extra,
            recipients=[incident.caller_id],
        )
    return request


def _carry_history(
    session: Session, actor: Actor, incident: Incident, request: ServiceRequest, why: str
) -> None:
    """Each incident event becomes a request event naming the original (number, seq, hash)."""
    events = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.seq)
    )
    seq = 0
    for seq, event in enumerate(events, start=1):
        session.add(
            ServiceRequestEvent(
                request_id=request.id,
                seq=seq,
                source_number=incident.number,
                source_seq=event.seq,
                source_hash=event.hash,
                **{name: getattr(event, name) for name in CARRIED_EVENT_FIELDS},
            )
        )
    _record(
        session,
        request,
        actor,
        "created_from_incident",
        seq=seq + 1,
        field="incident",
        new=incident.number,
        reason=why,
        rule_id=CONVERT_RULE,
    )


def act_on_request(
    session: Session, actor: Actor, request: ServiceRequest, action: str, reason: str | None
) -> ServiceRequest:
    require_write_scope(actor)
    if not actor.is_staff and actor.user_id not in (request.caller_id, request.opened_by_id):
        raise Forbidden("only the requester or the desk may act on this request")
    try:
        RequestAction(action)
    except ValueError as exc:
        raise NotFound(
            f"there is no request action {action!r}",
            extra={"actions": [a.value for a in RequestAction]},
        ) from exc
    try:
        row = next_transition(RequestStatus(request.state), action, actor.role)
    except InvalidRequestTransition as exc:
        raise Conflict(
            str(exc), extra={"state": request.state, "allowed_actions": exc.allowed}
        ) from exc
    _record(
        session,
        request,
        actor,
        "state_changed",
        seq=_next_seq(session, request),
        field="state",
        old=request.state,
        new=row.target.value,
        reason=reason,
        rule_id=row.rule_id,
    )
    now = clock.now()
    request.state = row.target.value
    request.updated_at = now
    if row.target == RequestStatus.fulfilled:
        request.fulfilled_at = now
    if row.target in (RequestStatus.closed, RequestStatus.cancelled):
        request.closed_at = now
    session.flush()
    return request


def flag_requested_by_caller(session: Session, actor: Actor, incident: Incident) -> Incident:
    """The requester asked for something rather than reported a fault (the portal's "Request
    something"): the new record is flagged as a service request for the desk to convert
    (REQ-PTL). Only the caller, and only while the record is new."""
    if actor.user_id != incident.caller_id or Status(incident.state) != Status.new:
        raise Conflict(f"only the caller of a new record marks it as a request ({incident.number})")
    if not incident.is_service_request:
        history.record(
            session,
            incident,
            actor,
            "field_changed",
            field="is_service_request",
            old=False,
            new=True,
            reason="submitted as a request in the self-service portal",
            rule_id=PORTAL_RULE,
        )
        incident.is_service_request = True
        changes.touch(incident)
    return incident


def set_request_flag(
    session: Session, actor: Actor, incident: Incident, value: bool, reason: str | None
) -> Incident:
    """An agent marks (or unmarks) an incident as really a service request (REQ-FLG)."""
    require_staff(actor)
    if Status(incident.state) in TERMINAL:
        raise Conflict(f"{incident.number} is {incident.state}; its record is read-only")
    if incident.is_service_request != value:
        history.record(
            session,
            incident,
            actor,
            "field_changed",
            field="is_service_request",
            old=incident.is_service_request,
            new=value,
            reason=reason,
            rule_id=FLAG_RULE,
        )
        incident.is_service_request = value
        changes.touch(incident)
    return incident
