"""The generic JSON event (`POST /api/v1/events`) → a signal."""

from __future__ import annotations

from dutydesk.intake.schemas import EventCreate
from dutydesk.intake.signals import EventAction, Signal

ACTIONS = {
    "firing": EventAction.trigger,
    "trigger": EventAction.trigger,
    "acknowledged": EventAction.acknowledge,
    "resolved": EventAction.resolve,
}


def parse(event: EventCreate) -> Signal:
    return Signal(
        dedup_key=event.dedup_key,
        action=ACTIONS[event.status],
        summary=event.summary or "",
        severity=event.severity,
        source=event.source,
        service=event.service,
        ci=event.ci,
        labels=dict(event.labels),
        links=[link.model_dump(exclude_none=True) for link in event.links],
        occurred_at=event.occurred_at,
        raw=event,  # dumped by raw_text when an alert keeps it
    )
