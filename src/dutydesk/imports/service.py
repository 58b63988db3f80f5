"""Writing imported incidents: reference data by name, the incident, its imported history.

Each batch of incidents is one transaction; when a batch fails, its incidents are retried one
by one, so a bad incident is rejected alone and nothing is ever half-imported. A number that
exists already is skipped, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dutydesk.db import Database
from dutydesk.imports.clocks import ImportedClock, Target, replay
from dutydesk.imports.refs import Refs, resolve, table_of
from dutydesk.imports.servicenow import (
    IncidentPlan,
    IncidentValues,
    RowError,
    as_dict,
    incident_values,
    plan_incidents,
)
from dutydesk.incidents.history import GENESIS, encode, row_hash
from dutydesk.incidents.transfer.importing import _raise_counter
from dutydesk.kernel import clock
from dutydesk.models import Incident, IncidentEvent, SlaClock
from dutydesk.sla import policy as rules
from dutydesk.sla.calendar import Calendar
from dutydesk.sla.service import active_policies, calendar_of

BATCH = 1_000
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
    # The file's made_sla against the resolution clock computed from its instants.
    sla_compared: int = 0
    sla_disagree: list[str] = field(default_factory=list)

    def compare_sla(self, v: IncidentValues, clocks: list[ImportedClock]) -> None:
        ours = next((c for c in clocks if c.kind == "resolution" and c.decided), None)
        if v.made_sla is None or ours is None:
            return
        self.sla_compared += 1
        if ours.met != v.made_sla:
            self.sla_disagree.append(v.number)

    def summary(self) -> str:
        lines = [
            f"{self.rows} rows read: {self.imported} incidents imported ({self.events} history "
            f"events), {self.skipped} skipped (already present or repeated rows), "
            f"{len(self.rejected)} rejected"
        ]
        if self.sla_compared:
            agree = self.sla_compared - len(self.sla_disagree)
            shown = ", ".join(self.sla_disagree[:10]) + ("…" if len(self.sla_disagree) > 10 else "")
            lines.append(
                f"SLA: the file's made_sla agrees with the resolution clock computed from its "
                f"instants on {agree} of {self.sla_compared} decided incidents"
                + (f"; differs on {len(self.sla_disagree)}: {shown}" if self.sla_disagree else "")
            )
        lines += [f"line {n}: rejected: {why}" for n, why in sorted(self.rejected)]
        lines += [f"line {n}: skipped: {why}" for n, why in sorted(self.notes)]
        return "\n".join(lines)


def _event_rows(plan: IncidentPlan, source: str) -> list[dict[str, Any]]:
    """The imported history as rows, hash-chained exactly as incidents.history chains."""
    head = GENESIS
    rows: list[dict[str, Any]] = []
    for seq, (at, actor, kind, fld, old, new) in enumerate(_history(plan, source), start=1):
        row = {
            "seq": seq,
            "at": at,
            "actor_id": None,
            "actor_name": (actor or f"{source} import")[:120],
            "actor_type": "import",
            "channel": "import",
            "kind": kind,
            "field": fld,
            "old": encode(old),
            "new": encode(new),
            "reason": f"imported from {source}",
            "rule_id": RULE,
            "request_id": None,
            "imported": True,
            "prev_hash": head,
        }
        row["hash"] = head = row_hash(plan.number, row)
        rows.append(row)
    return rows


def _incident_row(v: IncidentValues, refs: Refs, events: list[dict[str, Any]]) -> dict[str, Any]:
    category = refs.category(v.category)
    return {
        "number": v.number,
        "short_description": v.short_description,
        "description": v.description,
        "channel": v.channel,
        "caller_id": refs.user(v.caller),
        "opened_by_id": refs.user(v.opened_by),
        "category_id": category,
        "subcategory_id": refs.category(v.subcategory, category) if category is not None else None,
        "ci_id": refs.ci(v.ci),
        "impact": v.impact,
        "urgency": v.urgency,
        "priority": v.priority,
        "assignment_group_id": refs.group(v.group),
        "assignee_id": refs.user(v.assignee),
        "state": v.state,
        "escalation_level": 1,
        "reopen_count": v.reopen_count,
        "reassignment_count": v.reassignment_count,
        "resolution_code": v.resolution_code,
        "opened_at": v.opened_at,
        "acknowledged_at": v.acknowledged_at,
        "resolved_at": v.resolved_at,
        "closed_at": v.closed_at,
        "cancelled_at": v.cancelled_at,
        "updated_at": v.updated_at,
        "version": 1,
        "source_made_sla": v.made_sla,
        "history_count": len(events),
        "history_head": events[-1]["hash"] if events else GENESIS,
    }


class _Targets:
    """The SLA policy of each priority (imported incidents have no customer or service)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_priority: dict[int, tuple[Target, Calendar] | None] = {}

    def of(self, priority: int) -> tuple[Target, Calendar] | None:
        if priority not in self.by_priority:
            found = rules.best_policy(active_policies(self.session), None, None, priority)
            self.by_priority[priority] = None
            if found is not None:
                target = Target(
                    policy_name=found.name,
                    calendar_id=found.calendar_id,
                    response_seconds=found.response_seconds,
                    resolution_seconds=found.resolution_seconds,
                    warn_percents=tuple(json.loads(found.warn_percents)),
                    pause_states=frozenset(json.loads(found.pause_states)),
                )
                self.by_priority[priority] = (target, calendar_of(self.session, found.calendar_id))
        return self.by_priority[priority]


def _clocks(targets: _Targets, plan: IncidentPlan, v: IncidentValues) -> list[ImportedClock]:
    chosen = targets.of(v.priority)
    if chosen is None:
        return []
    target, cal = chosen
    return replay(
        cal,
        target,
        opened_at=v.opened_at,
        acknowledged_at=v.acknowledged_at,
        resolved_at=v.resolved_at,
        timeline=[(u.at, u.state) for u in plan.updates],
    )


def _clock_row(incident_id: int, target: Target, c: ImportedClock) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "kind": c.kind,
        "group_id": None,
        "policy_name": target.policy_name,
        "calendar_id": target.calendar_id,
        "target_seconds": c.target_seconds,
        "warn_percents": json.dumps(list(c.warn_percents)),
        "started_at": c.started_at,
        "elapsed_before": c.elapsed_before,
        "segment_start": None,
        "due_at": None,
        "next_check_at": None,  # history: the worker never fires an imported clock
        "warned_percent": c.warned_percent,
        "breached_at": c.breached_at,
        "stopped_at": c.stopped_at,
        "stop_reason": c.stop_reason,
    }


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
    counted = list(rows)
    report.rows = len(counted)
    parsed = plan_incidents(counted, date_format)
    report.rejected += parsed.rejected
    report.notes += parsed.skipped
    report.skipped += len(parsed.skipped)
    plans = parsed.plans
    known = Refs()
    for start in range(0, len(plans), BATCH):
        batch = plans[start : start + BATCH]
        try:
            _write_batch(db, batch, date_format, source, report, known)
        except (SQLAlchemyError, RowError):
            known.clear()  # names may have been created by the failed batch only
            for plan in batch:  # isolate the bad one; the others go in on their own
                try:
                    _write_batch(db, [plan], date_format, source, report, known)
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
    db: Database,
    batch: list[IncidentPlan],
    fmt: str,
    source: str,
    report: ImportReport,
    known: Refs,
) -> None:
    """One transaction: the batch's new incidents, their events and clocks, a few statements."""
    with db.unit_of_work() as session:
        numbers = [p.number for p in batch]
        present = set(session.scalars(select(Incident.number).where(Incident.number.in_(numbers))))
        todo = [p for p in batch if p.number not in present]
        values = [incident_values(p, fmt) for p in todo]
        refs = resolve(session, known, values, clock.now())
        targets = _Targets(session)
        incidents, events, clocks = [], [], []
        for plan, v in zip(todo, values, strict=True):
            chain = _event_rows(plan, source)
            incidents.append(_incident_row(v, refs, chain))
            events.append(chain)
            clocks.append(_clocks(targets, plan, v))
        if incidents:
            session.execute(insert(table_of(Incident)), incidents)
            ids = dict(
                session.execute(
                    select(Incident.number, Incident.id).where(
                        Incident.number.in_([p.number for p in todo])
                    )
                ).all()
            )
            session.execute(
                insert(table_of(IncidentEvent)),
                [
                    {**e, "incident_id": ids[p.number]}
                    for p, chain in zip(todo, events, strict=True)
                    for e in chain
                ],
            )
            clock_rows = [
                _clock_row(ids[p.number], chosen[0], c)
                for p, v, cs in zip(todo, values, clocks, strict=True)
                if (chosen := targets.of(v.priority)) is not None
                for c in cs
            ]
            if clock_rows:
                session.execute(insert(table_of(SlaClock)), clock_rows)
            top: dict[str, str] = {}
            for p in todo:
                prefix = p.number[:3]
                if prefix not in top or int(p.number[3:]) > int(top[prefix][3:]):
                    top[prefix] = p.number
            for number in top.values():
                _raise_counter(session, number)
    known.update(refs)
    report.imported += len(todo)
    report.skipped += len(batch) - len(todo)
    report.events += sum(len(chain) for chain in events)
    for v, cs in zip(values, clocks, strict=True):
        report.compare_sla(v, cs)
