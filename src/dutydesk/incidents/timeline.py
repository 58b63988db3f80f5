"""The incident page's timeline: history events (with work notes and public replies),
notifications sent and alerts attached, merged in time order, newest `limit` events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.incidents.queries import INTERNAL_EVENT_KINDS
from dutydesk.models import Alert, Incident, IncidentEvent, Notification

PAGE = 200  # entries shown at first; "show older" adds another page

KIND_LABELS = {
    "created": "logged the incident",
    "priority_changed": "changed",
    "field_changed": "changed",
    "state_changed": "changed the state",
    "assigned": "assigned",
    "work_note": "wrote a work note",
    "public_reply": "replied publicly",
    "attachment_added": "attached a file",
    "internal_attachment": "attached an internal file",
    "link_added": "linked",
    "link_removed": "unlinked",
    "alert_attached": "attached an alert",
    "escalated_functional": "escalated (functional)",
    "escalated_hierarchic": "escalated (hierarchic)",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # the event kind, or "notification" / "alert"
    style: str  # history | note | reply | notification | alert | escalation | sla
    who: str
    label: str
    field: str | None = None
    old: Any = None
    new: Any = None
    body: str | None = None
    reason: str | None = None
    rule_id: str | None = None

    # for the template: a method call from Jinja costs several times a property read
    @property
    def at_iso(self) -> str:
        return self.at.isoformat()

    @property
    def at_text(self) -> str:
        return self.at.strftime("%Y-%m-%d %H:%M:%S")

    @property
    def field_text(self) -> str:
        return self.field.replace("_", " ") if self.field else ""


def _shown(value: Any) -> Any:
    """A decoded history value as a short text: dicts (snapshots, clock sets) as `key: value`
    pairs without the empty ones."""
    if isinstance(value, dict):
        shown = [
            f"{k.replace('_', ' ')}: {_short(v)}" for k, v in value.items() if v not in (None, "")
        ]
        text = "; ".join(shown)
        return text if len(text) <= 400 else text[:399] + "…"
    return value


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, "")) + ")"
    return str(value)


def _style(kind: str) -> str:
    if kind == "work_note":
        return "note"
    if kind == "public_reply":
        return "reply"
    if kind.startswith("escalat"):
        return "escalation"
    if kind.startswith("sla_"):
        return "sla"
    if kind.startswith("alert_"):
        return "alert"
    return "history"


_EVENT_COLUMNS = (
    IncidentEvent.at,
    IncidentEvent.kind,
    IncidentEvent.actor_name,
    IncidentEvent.field,
    IncidentEvent.old,
    IncidentEvent.new,
    IncidentEvent.reason,
    IncidentEvent.rule_id,
)
_BODY_KINDS = INTERNAL_EVENT_KINDS | {"public_reply"}


def _event_entry(row: Any) -> Entry:
    """One history event (a row of `_EVENT_COLUMNS`); its JSON values are decoded once."""
    at, kind, who, field, old_raw, new_raw, reason, rule_id = row
    new = json.loads(new_raw) if new_raw is not None else None
    body = None
    if isinstance(new, dict) and kind in _BODY_KINDS:
        body = str(new.get("body") or new.get("filename") or "")
    elif isinstance(new, dict) and "filename" in new:
        body = str(new["filename"])
    if body is None:
        old = _shown(json.loads(old_raw)) if old_raw is not None else None
        new = _shown(new)
    else:
        old = new = None
    return Entry(
        at=at,
        kind=kind,
        style=_style(kind),
        who=who,
        label=KIND_LABELS.get(kind) or kind.replace("_", " "),
        field=field,
        old=old,
        new=new,
        body=body,
        reason=reason,
        rule_id=rule_id,
    )


def timeline(
    session: Session, actor: Actor, incident: Incident, *, limit: int = PAGE
) -> tuple[list[Entry], bool]:
    """(entries oldest first, whether older history exists). Requesters never get here, but
    internal events are still left out for them, as in ``queries.list_events``."""
    query = select(*_EVENT_COLUMNS).where(IncidentEvent.incident_id == incident.id)
    if not actor.is_staff:
        query = query.where(IncidentEvent.kind.not_in(sorted(INTERNAL_EVENT_KINDS)))
    events = session.execute(query.order_by(IncidentEvent.seq.desc()).limit(limit + 1)).all()
    more = len(events) > limit
    events = events[:limit]
    since = events[-1][0] if events and more else None
    entries = [_event_entry(e) for e in events]
    notes = select(Notification).where(Notification.incident_id == incident.id)
    if since is not None:
        notes = notes.where(Notification.created_at >= since)
    for n in session.scalars(notes.order_by(Notification.id.desc()).limit(limit)):
        entries.append(
            Entry(
                at=n.created_at,
                kind="notification",
                style="notification",
                who="DutyDesk",
                label=f"{n.event.replace('_', ' ')} notification by {n.channel} ({n.state})",
                body=n.subject,
                new=n.recipient if n.channel == "email" else None,
            )
        )
    alerts = select(Alert).where(Alert.incident_id == incident.id)
    if since is not None:
        alerts = alerts.where(Alert.first_seen_at >= since)
    for a in session.scalars(alerts.order_by(Alert.id.desc()).limit(limit)):
        entries.append(
            Entry(
                at=a.first_seen_at,
                kind="alert",
                style="alert",
                who=a.source or "monitoring",
                label=f"alert {a.status} ({a.severity}, seen {a.occurrences}×)",
                body=a.summary,
            )
        )
    entries.sort(key=lambda e: e.at)
    return entries, more
