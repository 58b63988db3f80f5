"""Reading a ServiceNow incident export (or audit log) into plans of incidents (no database).

A file has one row per incident, or one row per update of an incident (an audit log: many
rows per ``number``, ordered by ``sys_updated_at``). The last row of a number is the incident
as it ended; the sequence of rows is its history (state, assignment group and priority
changes, with their instants and actors). ``?`` or an empty cell means missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

DEFAULT_DATE_FORMAT = "%d/%m/%Y %H:%M"
# The columns of a ServiceNow incident audit-log export (the Kaggle "incident event log"), in
# the export's order; `short_description` and `description` are read when present too.
COLUMNS = (
    "number", "incident_state", "active", "reassignment_count", "reopen_count",
    "sys_mod_count", "made_sla", "caller_id", "opened_by", "opened_at", "sys_created_by",
    "sys_created_at", "sys_updated_by", "sys_updated_at", "contact_type", "location",
    "category", "subcategory", "u_symptom", "cmdb_ci", "impact", "urgency", "priority",
    "assignment_group", "assigned_to", "knowledge", "u_priority_confirmation", "notify",
    "problem_id", "rfc", "vendor", "caused_by", "closed_code", "resolved_by", "resolved_at",
    "closed_at",
)  # fmt: skip
REQUIRED = ("number", "incident_state", "opened_at")
NUMBER_RE = re.compile(r"^[A-Z]{3}[0-9]{1,12}$")
MALFORMED = "\0malformed"  # the reader's note on a row whose cells do not match the header
MISSING = frozenset({"", "?"})
# ServiceNow's incident_state → DutyDesk state (DutyDesk's own names are accepted as well).
STATES = {
    "new": "new",
    "active": "in_progress",
    "in progress": "in_progress",
    "assigned": "assigned",
    "awaiting user info": "pending_user",
    "awaiting evidence": "pending_user",
    "awaiting vendor": "pending_vendor",
    "awaiting problem": "pending_change",
    "awaiting change": "pending_change",
    "on hold": "pending_user",
    "resolved": "resolved",
    "closed": "closed",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "pending_user": "pending_user",
    "pending_vendor": "pending_vendor",
    "pending_change": "pending_change",
    "in_progress": "in_progress",
}
CHANNELS = {"phone": "phone", "email": "email", "self service": "portal", "walk in": "walk_in"}


class RowError(ValueError):
    """A row (and so its incident) cannot be imported; the message names the column."""


@dataclass
class Update:
    """One row: the incident as it was after one update."""

    line: int
    at: datetime
    actor: str | None
    state: str
    priority: int
    impact: int
    urgency: int
    group: str | None
    assignee: str | None
    raw: Mapping[str, str]


@dataclass
class IncidentPlan:
    """Everything to write for one incident, checked; built before anything is written."""

    number: str
    lines: list[int]
    updates: list[Update] = field(default_factory=list)

    @property
    def last(self) -> Update:
        return self.updates[-1]


def value(row: Mapping[str, str], column: str) -> str | None:
    text = (row.get(column) or "").strip()
    return None if text in MISSING else text


# The default format without strptime (~10x faster; same digits accepted, same range checks).
_DEFAULT_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{1,2})")


@lru_cache(maxsize=65_536)
def _strptime(text: str, fmt: str) -> datetime:
    """An audit log repeats each incident's dates on every row: parse each text once."""
    if fmt == DEFAULT_DATE_FORMAT and (m := _DEFAULT_RE.fullmatch(text)) is not None:
        day, month, year, hour, minute = map(int, m.groups())
        return datetime(year, month, day, hour, minute, tzinfo=UTC)
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def parse_date(text: str | None, column: str, fmt: str) -> datetime | None:
    if text is None:
        return None
    try:
        return _strptime(text, fmt)
    except ValueError:
        raise RowError(
            f"{column}: {text!r} does not match the date format {fmt!r} (see --date-format)"
        ) from None


@lru_cache(maxsize=1024)
def parse_level(text: str | None, column: str, default: int) -> int:
    """'2 - Medium' → 2; a bare number is accepted."""
    if text is None:
        return default
    head = text.split("-", 1)[0].strip()
    if not head.isdigit() or not 1 <= int(head) <= 5:
        raise RowError(f"{column}: {text!r} is not a level like '2 - Medium'")
    return int(head)


def parse_state(text: str | None) -> str:
    if text is None:
        raise RowError("incident_state is missing")
    state = STATES.get(text.strip().lower())
    if state is None:
        raise RowError(f"incident_state: unknown state {text!r}")
    return state


def channel_of(text: str | None) -> str:
    if text is None:
        return "import"
    return CHANNELS.get(text.lower(), re.sub(r"[^a-z0-9]+", "_", text.lower())[:20] or "import")


def parse_update(line: int, row: Mapping[str, str], fmt: str) -> Update:
    if MALFORMED in row:
        raise RowError(f"line {line}: {row[MALFORMED]}")
    opened = parse_date(value(row, "opened_at"), "opened_at", fmt)
    if opened is None:
        raise RowError("opened_at is missing")
    at = parse_date(value(row, "sys_updated_at"), "sys_updated_at", fmt) or opened
    for column in ("resolved_at", "closed_at"):
        parse_date(value(row, column), column, fmt)
    return Update(
        line=line,
        at=at,
        actor=value(row, "sys_updated_by"),
        state=parse_state(value(row, "incident_state")),
        priority=parse_level(value(row, "priority"), "priority", 3),
        impact=parse_level(value(row, "impact"), "impact", 2),
        urgency=parse_level(value(row, "urgency"), "urgency", 2),
        group=value(row, "assignment_group"),
        assignee=value(row, "assigned_to"),
        raw=row,
    )


@dataclass
class Parsed:
    plans: list[IncidentPlan]
    rejected: list[tuple[int, str]]
    skipped: list[tuple[int, str]]


def plan_incidents(rows: Iterable[tuple[int, Mapping[str, str]]], fmt: str) -> Parsed:
    """Group rows by number and check each incident whole: one bad row rejects its incident."""
    groups: dict[str, list[tuple[int, Mapping[str, str]]]] = {}
    rejected: list[tuple[int, str]] = []
    skipped: list[tuple[int, str]] = []
    for line, row in rows:
        number = value(row, "number")
        if number is None or not NUMBER_RE.match(number):
            rejected.append((line, f"number {number!r} is not like INC0000123"))
            continue
        groups.setdefault(number, []).append((line, row))
    plans: list[IncidentPlan] = []
    for number, members in groups.items():
        plan = IncidentPlan(number, [line for line, _ in members])
        try:
            seen: dict[datetime, Update] = {}
            for line, row in members:
                update = parse_update(line, row, fmt)
                twin = seen.get(update.at)
                if twin is not None:
                    if dict(twin.raw) == dict(row):
                        skipped.append((line, f"{number}: the same row as line {twin.line}"))
                        continue
                    raise RowError(
                        f"line {line}: a different row for the same update as line {twin.line} "
                        "(duplicate number with the same sys_updated_at)"
                    )
                seen[update.at] = update
                plan.updates.append(update)
            plan.updates.sort(key=lambda u: (u.at, u.line))
        except RowError as exc:
            rejected.append((members[0][0], f"{number}: {exc}"))
            continue
        plans.append(plan)
    return Parsed(plans, rejected, skipped)


def ids_of(text: str | None) -> str | None:
    """Reference names as they come ('Group 56'), trimmed to the column widths."""
    return text[:120] if text else None


def as_dict(update: Update) -> dict[str, Any]:
    return {
        "state": update.state,
        "priority": update.priority,
        "assignment_group": update.group,
        "assigned_to": update.assignee,
    }


BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def count_of(row: Mapping[str, str], column: str) -> int:
    text = value(row, column)
    if text is None:
        return 0
    if not text.isdigit():
        raise RowError(f"{column}: {text!r} is not a whole number")
    return int(text)


def flag_of(row: Mapping[str, str], column: str) -> bool | None:
    text = value(row, column)
    if text is None:
        return None
    flag = BOOLEANS.get(text.lower())
    if flag is None:
        raise RowError(f"{column}: {text!r} is not true or false")
    return flag


def first_at(plan: IncidentPlan, states: Iterable[str]) -> datetime | None:
    wanted = set(states)
    return next((u.at for u in plan.updates if u.state in wanted), None)


@dataclass(frozen=True)
class IncidentValues:
    """The incident row of a plan, with reference data still as names."""

    number: str
    short_description: str
    description: str
    channel: str
    caller: str | None
    opened_by: str | None
    category: str | None
    subcategory: str | None
    ci: str | None
    impact: int
    urgency: int
    priority: int
    group: str | None
    assignee: str | None
    state: str
    reopen_count: int
    reassignment_count: int
    resolution_code: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime
    made_sla: bool | None


def incident_values(plan: IncidentPlan, fmt: str) -> IncidentValues:
    """The incident as it ended: the last row's values, the first row's opening, the instants
    of the first acknowledgement, resolution and closure when the file leaves them out."""
    first, last = plan.updates[0], plan.last
    row = last.raw
    opened_at = parse_date(value(first.raw, "opened_at"), "opened_at", fmt)
    assert opened_at is not None  # checked when planned
    resolved_at = parse_date(value(row, "resolved_at"), "resolved_at", fmt)
    closed_at = parse_date(value(row, "closed_at"), "closed_at", fmt)
    if resolved_at is None and last.state in ("resolved", "closed"):
        resolved_at = first_at(plan, ("resolved", "closed"))
    if closed_at is None and last.state == "closed":
        closed_at = first_at(plan, ("closed",))
    category = value(row, "category")
    code = value(row, "closed_code")
    return IncidentValues(
        number=plan.number,
        short_description=(value(row, "short_description") or f"Imported {plan.number}")[:200],
        description=value(row, "description") or "",
        channel=channel_of(value(row, "contact_type")),
        caller=value(row, "caller_id"),
        opened_by=value(row, "opened_by"),
        category=category,
        subcategory=value(row, "subcategory") if category is not None else None,
        ci=value(row, "cmdb_ci"),
        impact=last.impact,
        urgency=last.urgency,
        priority=last.priority,
        group=last.group,
        assignee=last.assignee,
        state=last.state,
        reopen_count=count_of(row, "reopen_count"),
        reassignment_count=count_of(row, "reassignment_count"),
        resolution_code=code[:40] if code else None,
        opened_at=opened_at,
        acknowledged_at=next((u.at for u in plan.updates if u.state != "new"), None),
        resolved_at=resolved_at if last.state in ("resolved", "closed") else None,
        closed_at=closed_at if last.state == "closed" else None,
        cancelled_at=last.at if last.state == "cancelled" else None,
        updated_at=last.at,
        made_sla=flag_of(row, "made_sla"),
    )
