"""What the requester does through the e-mailed links, without signing in: answer the
resolution (confirm or reject) and rate the handling. The links are checked by
``incidents.confirmation``; the answers go through the same lifecycle actions as the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.config import Settings
from dutydesk.incidents import actions
from dutydesk.incidents.confirmation import (
    Purpose,
    caller_actor,
    check_link,
    give_feedback,
)
from dutydesk.incidents.lifecycle import Status
from dutydesk.incidents.schemas import ActionRequest
from dutydesk.kernel.errors import Gone, InvalidInput
from dutydesk.models import Incident


def answer_by_link(
    session: Session,
    settings: Settings,
    number: str,
    token: str,
    *,
    accept: bool,
    reason: str | None,
) -> Incident:
    """Confirm (closes) or reject (reopens, or opens a linked follow-up after the window)."""
    link = check_link(session, settings, number, token, Purpose.confirm)
    incident = link.incident
    actor = caller_actor(session, incident)
    return answer_resolution(
        session, settings, actor, incident, accept=accept, reason=reason, via="the e-mailed link"
    )


def answer_resolution(
    session: Session,
    settings: Settings,
    actor: Actor,
    incident: Incident,
    *,
    accept: bool,
    reason: str | None,
    via: str,
) -> Incident:
    """The caller's answer, by link or in the portal: confirm (CNF-1) or reject (ROP-1..3)."""
    if incident.state != Status.resolved:
        number = incident.number
        raise Gone(f"{number} is {incident.state.replace('_', ' ')}; there is nothing to confirm")
    actions.ensure_actor_may_act(actor, incident)
    if accept:
        req = ActionRequest(reason=f"confirmed through {via}")
        return actions.perform_action(session, actor, incident, "confirm", req, settings=settings)
    if not (reason and reason.strip()):
        raise InvalidInput(
            "say what still does not work", errors=[{"field": "reason", "msg": "required"}]
        )
    req = ActionRequest(reason=reason.strip()[:500])
    result = actions.perform_action(session, actor, incident, "reopen", req, settings=settings)
    if incident.state == Status.resolved:  # after the window: a follow-up; the link is spent
        incident.confirm_nonce = None
    return result


def feedback_by_link(
    session: Session,
    settings: Settings,
    number: str,
    token: str,
    rating: Any,
    comment: str | None,
) -> Incident:
    link = check_link(session, settings, number, token, Purpose.survey)
    return give_feedback(
        session, caller_actor(session, link.incident), link.incident, rating, comment
    )
