"""Writing imported incidents: reference data by name, the incident, its imported history.

Each batch of incidents is one transaction; when a batch fails, its incidents are retried one
by one, so a bad incident is rejected alone and nothing is ever half-imported. A number that
exists already is skipped, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dutydesk.db import Database
from dutydesk.imports.servicenow import (
    IncidentPlan,
    RowError,
    as_dict,
    channel_of,
    parse_date,
    plan_incidents,
    value,
)
from dutydesk.incidents.history import GENESIS, encode, event_hash
from dutydesk.incidents.transfer.importing import _raise_counter
from dutydesk.kernel import clock
from dutydesk.models import (
    Category,
    ConfigurationItem,
    Incident,
    IncidentEvent,
    SupportGroup,
    User,
)

BATCH = 500
SOURCE = "import"
RULE = "IMP"


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    events: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{self.rows} rows read: {self.imported} incidents imported ({self.events} history "
            f"events), {self.skipped} skipped (already present or repeated rows), "
            f"{len(self.rejected)} rejected"
        ]
        lines += [f"line {n}: rejected: {why}" for n, why in sorted(self.rejected)]
        lines += [f"line {n}: skipped: {why}" for n, why in sorted(self.notes)]
        return "\n".join(lines)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "user"


class _Refs:
    """Reference rows by name, created when missing, within the batch's transaction."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now
        self.users = {u: i for i, u in session.execute(select(User.id, User.username)).all()}
        self.groups = {n: i for i, n in session.execute(select(SupportGroup.id, SupportGroup.name))}
        self.cats = {
            (p, n): i
            for i, n, p in session.execute(select(Category.id, Category.name, Category.parent_id))
        }
        self.cis = {
            n: i for i, n in session.execute(select(ConfigurationItem.id, ConfigurationItem.name))
        }

    def _add(self, row: Any) -> int:
        self.session.add(row)
        self.session.flush()
        return int(row.id)

    def user(self, name: str | None, role: str) -> int | None:
        if name is None:
            return None
        username = _slug(name)
        if username not in self.users:
            self.users[username] = self._add(
                User(
                    username=username,
                    email=f"{username}@imported.invalid",
                    full_name=name[:200],
                    role=role,
                    is_active=False,
                    created_at=self.now,
                    updated_at=self.now,
                )
            )
        return self.users[username]

    def group(self, name: str | None) -> int | None:
        if name is None:
            return None
        if name not in self.groups:
            self.groups[name] = self._add(
                SupportGroup(name=name[:120], tier="l1", created_at=self.now)
            )
        return self.groups[name]

    def category(self, name: str | None, parent: int | None = None) -> int | None:
        if name is None:
            return None
        key = (parent, name[:120])
        if key not in self.cats:
            self.cats[key] = self._add(
                Category(name=name[:120], parent_id=parent, created_at=self.now)
            )
        return self.cats[key]

    def ci(self, name: str | None) -> int | None:
        if name is None:
            return None
        if name not in self.cis:
            self.cis[name] = self._add(
                ConfigurationItem(
                    name=name[:120], ci_class="imported", criticality="medium", created_at=self.now
                )
            )
        return self.cis[name]


def _count(row: Mapping[str, str], column: str) -> int:
    text = value(row, column)
    if text is None:
        return 0
    if not text.isdigit():
        raise RowError(f"{column}: {text!r} is not a whole number")
    return int(text)


def _first_at(plan: IncidentPlan, states: Iterable[str]) -> datetime | None:
    wanted = set(states)
    return next((u.at for u in plan.updates if u.state in wanted), None)


def _write(session: Session, refs: _Refs, plan: IncidentPlan, fmt: str, source: str) -> int:
    """One incident and its history; returns the number of events."""
    first, last = plan.updates[0], plan.last
    row = last.raw
    opened_at = parse_date(value(first.raw, "opened_at"), "opened_at", fmt)
    assert opened_at is not None  # checked when planned
    resolved_at = parse_date(value(row, "resolved_at"), "resolved_at", fmt)
    closed_at = parse_date(value(row, "closed_at"), "closed_at", fmt)
    if resolved_at is None and last.state in ("resolved", "closed"):
        resolved_at = _first_at(plan, ("resolved", "closed"))
    if closed_at is None and last.state == "closed":
        closed_at = _first_at(plan, ("closed",))
    category = refs.category(value(row, "category"))
    incident = Incident(
        number=plan.number,
        short_description=(value(row, "short_description") or f"Imported {plan.number}")[:200],
        description=value(row, "description") or "",
        channel=channel_of(value(row, "contact_type")),
        caller_id=refs.user(value(row, "caller_id"), "requester"),
        opened_by_id=refs.user(value(row, "opened_by"), "agent"),
        category_id=category,
        subcategory_id=refs.category(value(row, "subcategory"), category)
        if category is not None
        else None,
        ci_id=refs.ci(value(row, "cmdb_ci")),
        impact=last.impact,
        urgency=last.urgency,
        priority=last.priority,
        assignment_group_id=refs.group(last.group),
        assignee_id=refs.user(last.assignee, "agent"),
        state=last.state,
        escalation_level=1,
        reopen_count=_count(row, "reopen_count"),
        reassignment_count=_count(row, "reassignment_count"),
        resolution_code=(value(row, "closed_code") or None),
        opened_at=opened_at,
        acknowledged_at=next((u.at for u in plan.updates if u.state != "new"), None),
        resolved_at=resolved_at if last.state in ("resolved", "closed") else None,
        closed_at=closed_at if last.state == "closed" else None,
        cancelled_at=last.at if last.state == "cancelled" else None,
        updated_at=last.at,
        history_count=0,
        history_head=GENESIS,
    )
    if incident.resolution_code is not None:
        incident.resolution_code = incident.resolution_code[:40]
    session.add(incident)
    session.flush()
    events = _history(plan, source)
    head = GENESIS
    rows = []
    for seq, (at, actor, kind, fld, old, new) in enumerate(events, start=1):
        event = IncidentEvent(
            incident_id=incident.id,
            seq=seq,
            at=at,
            actor_id=None,
            actor_name=(actor or f"{source} import")[:120],
            actor_type="import",
            channel="import",
            kind=kind,
            field=fld,
            old=encode(old),
            new=encode(new),
            reason=f"imported from {source}",
            rule_id=RULE,
            request_id=None,
            imported=True,
            prev_hash=head,
        )
        event.hash = head = event_hash(plan.number, event)
        rows.append({c: getattr(event, c) for c in _EVENT_COLUMNS})
    session.execute(insert(IncidentEvent), rows)
    incident.history_count, incident.history_head = len(rows), head
    _raise_counter(session, plan.number)
    return len(rows)


_EVENT_COLUMNS = [
    "incident_id",
    "seq",
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
    "request_id",
    "imported",
    "prev_hash",
    "hash",
]
_TRACKED = (("state", "state"), ("assignment_group", "group"), ("priority", "priority"))


def _history(plan: IncidentPlan, source: str) -> list[tuple[Any, ...]]:
    """created, then one event per tracked field that changed, in the order of the rows."""
    first = plan.updates[0]
    opened = first.raw.get("opened_by") or None
    events: list[tuple[Any, ...]] = [
        (
            first.at,
            opened if opened not in ("?", "") else None,
            "created",
            None,
            None,
            as_dict(first),
        )
    ]
    for before, after in zip(plan.updates, plan.updates[1:], strict=False):
        for name, attr in _TRACKED:
            old, new = getattr(before, attr), getattr(after, attr)
            if old != new:
                events.append((after.at, after.actor, "field_changed", name, old, new))
    return events


def import_file_rows(
    db: Database,
    rows: Iterable[tuple[int, Mapping[str, str]]],
    *,
    date_format: str,
    source: str = "servicenow",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Plan every incident (bad rows reject their incident), then write batch by batch."""
    report = ImportReport()
    counted: list[tuple[int, Mapping[str, str]]] = []
    for item in rows:
        counted.append(item)
    report.rows = len(counted)
    parsed = plan_incidents(counted, date_format)
    report.rejected += parsed.rejected
    report.notes += parsed.skipped
    report.skipped += len(parsed.skipped)
    plans = parsed.plans
    for start in range(0, len(plans), BATCH):
        batch = plans[start : start + BATCH]
        try:
            _write_batch(db, batch, date_format, source, report)
        except (SQLAlchemyError, RowError):
            for plan in batch:  # isolate the bad one; the others go in on their own
                try:
                    _write_batch(db, [plan], date_format, source, report)
                except RowError as exc:
                    report.rejected.append((plan.lines[0], f"{plan.number}: {exc}"))
                except SQLAlchemyError as exc:
                    first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                    report.rejected.append(
                        (plan.lines[0], f"{plan.number}: the database refused it: {first}")
                    )
        if progress is not None:
            progress(sum(len(p.lines) for p in batch))
    return report


def _write_batch(
    db: Database, batch: list[IncidentPlan], fmt: str, source: str, report: ImportReport
) -> None:
    imported = skipped = events = 0
    with db.unit_of_work() as session:
        numbers = [p.number for p in batch]
        present = set(session.scalars(select(Incident.number).where(Incident.number.in_(numbers))))
        refs = _Refs(session, clock.now())
        for plan in batch:
            if plan.number in present:
                skipped += 1
                continue
            events += _write(session, refs, plan, fmt, source)
            imported += 1
    report.imported += imported
    report.skipped += skipped
    report.events += events
