"""What an incident change tells people: the notifications an action or a reply announces.

Called by the writers after the change, in the same transaction; the outbox rows commit
with it. The occurrence key is the history head after the change, so a change is announced
once. Resolution and closure mails carry the requester's signed confirm/reject and survey
links (``incidents.confirmation``); only the requester's e-mail gets them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, system_actor
from dutydesk.config import Settings
from dutydesk.incidents import confirmation
from dutydesk.incidents.lifecycle import PENDING, Action, Status
from dutydesk.models import Incident
from dutydesk.notify import service as notify

TOLD_STATES = PENDING | {Status.cancelled}  # the caller is told when work waits or stops


def after_action(
    session: Session,
    settings: Settings,
    actor: Actor,
    incident: Incident,
    action: Action,
    *,
    old_state: str,
    old_owner: tuple[int | None, int | None],
    reason: str | None,
) -> None:
    occurrence = incident.history_head
    owner = (incident.assignment_group_id, incident.assignee_id)
    if owner != old_owner and incident.assignment_group_id is not None:
        notify.announce(session, settings, incident, "assigned", actor=actor, occurrence=occurrence)
    if action == Action.escalate:
        extra: dict[str, object] = {"level": incident.escalation_level}
        if reason:
            extra["comment"] = reason
        notify.announce(
            session,
            settings,
            incident,
            "escalated",
            actor=actor,
            occurrence=occurrence,
            extra=extra,
        )
    moved = incident.state != old_state
    if moved and incident.state in (Status.resolved, Status.closed):
        _tell_requester(session, settings, actor, incident, reason)
        return
    reopened = action == Action.reopen and moved
    if moved and (Status(incident.state) in TOLD_STATES or reopened):
        extra = {"old_state": old_state, "new_state": incident.state}
        if reason:
            extra["comment"] = reason
        by_caller = actor.user_id is not None and actor.user_id == incident.caller_id
        notify.announce(
            session,
            settings,
            incident,
            "state_changed",
            actor=actor,
            occurrence=occurrence,
            extra=extra,
            # the caller reopening: tell whoever works on it (the group when nobody does)
            recipients=notify_owner(session, actor, incident) if by_caller else None,
        )


def notify_owner(session: Session, actor: Actor, incident: Incident) -> list[int]:
    """The assignee, or every member of the group when nobody is assigned."""
    return notify.audience(session, incident, "assigned", actor, [])


def after_logging(session: Session, settings: Settings, actor: Actor, incident: Incident) -> None:
    if incident.assignment_group_id is not None:
        notify.announce(
            session, settings, incident, "assigned", actor=actor, occurrence=incident.history_head
        )


def after_public_reply(
    session: Session, settings: Settings, actor: Actor, incident: Incident, body: str
) -> None:
    notify.announce(
        session,
        settings,
        incident,
        "public_reply",
        actor=actor,
        occurrence=incident.history_head,
        extra={"comment": body},
    )


def _tell_requester(
    session: Session, settings: Settings, actor: Actor, incident: Incident, reason: str | None
) -> None:
    """Resolved: the confirm/reject links; closed: the survey link (once per closure).
    Not when a monitoring integration resolves or closes what it raised itself: its caller
    is the integration's own service account, with nobody behind it to confirm or rate."""
    if actor.actor_type == "integration" and actor.user_id == incident.caller_id:
        return
    extra: dict[str, object] = {}
    if incident.confirm_nonce is not None:
        extra.update(confirmation.urls(session, settings, incident))
    if incident.state == Status.resolved:
        if not extra:
            return
        notes = incident.resolution_notes or reason
        if notes:
            extra["comment"] = notes
        event = "resolved"
    else:
        if not extra:  # already rated: nothing to ask
            return
        event = "closed"
    if actor.user_id is not None and actor.user_id == incident.caller_id:
        # the caller confirmed: still ask them the survey (the actor is never notified)
        actor = system_actor(channel=actor.channel, name=actor.name)
    notify.announce(
        session,
        settings,
        incident,
        event,
        actor=actor,
        occurrence=incident.history_head,
        extra=extra,
    )
