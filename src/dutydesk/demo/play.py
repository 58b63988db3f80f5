"""Playing a demo plan through the incident services under a frozen, advancing clock."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.demo.reference import Refs
from dutydesk.demo.stories import Plan
from dutydesk.incidents import actions, collaboration, confirmation
from dutydesk.incidents import service as incidents
from dutydesk.kernel import clock
from dutydesk.models import Incident


class PlanDiverged(RuntimeError):
    """The services ended an incident in another state than the plan expected."""


def play(session: Session, refs: Refs, plan: Plan, settings: Settings) -> Incident:
    """Open the incident at plan.open_at and run each step at its own time (never commits)."""
    with clock.frozen(plan.open_at) as advance:
        actor = refs.actors[plan.opener]
        incident = incidents.open_incident(session, actor, plan.incident, settings=settings)
        session.flush()  # comments and links refer to incident.id
        for step in plan.steps:
            advance(step.after)
            actor = refs.actors[step.actor]
            if step.action is not None and step.request is not None:
                result = actions.perform_action(
                    session, actor, incident, step.action, step.request, settings=settings
                )
                if result is not incident:
                    raise PlanDiverged(f"{incident.number}: {step.action} opened a follow-up")
            elif step.survey is not None:
                confirmation.give_feedback(session, actor, incident, *step.survey)
            elif step.patch is not None:
                incidents.amend_incident(session, actor, incident, step.patch, settings=settings)
            elif step.comment is not None:
                collaboration.add_comment(session, actor, incident, step.comment, step.visibility)
    if incident.state != plan.state:
        raise PlanDiverged(f"{incident.number} ended {incident.state}, planned {plan.state}")
    return incident
