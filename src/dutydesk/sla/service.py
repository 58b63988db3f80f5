"""SLA writes: keep an incident's clocks in step with it (the admin's writes are ``sla.admin``).

``sync_clocks`` is called by every incident write (logging, actions, amendments) in the same
transaction, after the change: it compares the incident with its clocks and applies the
rules of ``sla.policy`` (start, pause, resume, re-target, stop), logging each clock change in
the incident's history and keeping ``respond_by`` / ``resolve_by`` current. Being a
reconciliation rather than a list of hooks, it cannot miss a path: whatever changed the
incident, the clocks end up where the rules say.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.escalation import schedule as escalation_schedule
from dutydesk.incidents import history
from dutydesk.incidents.lifecycle import OPEN, Status
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, NotFound
from dutydesk.kernel.persistence import transaction_scoped
from dutydesk.models import (
    Incident,
    OlaPolicy,
    SlaCalendar,
    SlaClock,
    SlaPolicy,
)
from dutydesk.sla import policy as rules
from dutydesk.sla.calendar import Calendar
from dutydesk.sla.calendar_config import calendar_from_config

CALENDARS = "dutydesk.sla.calendars"  # session.info caches, per transaction
POLICIES = "dutydesk.sla.policies"
OLAS = "dutydesk.sla.olas"
CHOICES = "dutydesk.sla.policy_choices"  # (customer, service, priority) → its policy
# Incidents created in this transaction -> their clocks (every one of them, since none can
# exist in the database yet): the response of a create is answered without a query.
FRESH = transaction_scoped("dutydesk.sla.fresh")
# Clocks started since the last flush, with their incidents: written after the flush with one
# Core INSERT (see ``_insert_started``), not by the unit of work.
STARTED = transaction_scoped("dutydesk.sla.started")
# id() of the started clocks already written (the objects are held by FRESH meanwhile).
WRITTEN = transaction_scoped("dutydesk.sla.written")
# Incident id -> its clock rows, read together for a batch (`read_clocks`); each list is
# handed out once, to the next `clocks_of` of that incident, and is not kept after that.
READ_AHEAD = transaction_scoped("dutydesk.sla.read_ahead")
_CLOCKS: Table = SlaClock.__table__  # type: ignore[assignment]
_COLUMNS = tuple(c.name for c in _CLOCKS.columns if c.name != "id")
_INSERT_CLOCKS = insert(_CLOCKS)  # built once
_NEW_CLOCK = sa_inspect(SlaClock).class_manager.new_instance  # an instance, no values
STOPPED = frozenset({Status.resolved, Status.closed})
DEFAULT_CALENDAR_ID = 1  # the 24x7 calendar the migration seeds


# ----------------------------------------------------------------------------- reading


@lru_cache(maxsize=256)
def parse_calendar(config: str) -> Calendar:
    """Calendars are parsed once per process per distinct configuration text."""
    return calendar_from_config(json.loads(config))


def calendar_of(session: Session, calendar_id: int) -> Calendar:
    cache: dict[int, Calendar] = session.info.setdefault(CALENDARS, {})
    if calendar_id not in cache:
        row = session.get(SlaCalendar, calendar_id)
        if row is None:
            raise NotFound(f"calendar {calendar_id} not found")
        cache[calendar_id] = parse_calendar(row.config)
    return cache[calendar_id]


# Built once: every write batch that logs or changes an incident runs them.
_ACTIVE_POLICIES = select(SlaPolicy).where(SlaPolicy.active.is_(True))
_ACTIVE_OLAS = select(OlaPolicy).where(OlaPolicy.active.is_(True))


def active_policies(session: Session) -> list[SlaPolicy]:
    cached: list[SlaPolicy] | None = session.info.get(POLICIES)
    if cached is None:
        cached = list(session.scalars(_ACTIVE_POLICIES))
        session.info[POLICIES] = cached
    return cached


def active_olas(session: Session) -> list[OlaPolicy]:
    cached: list[OlaPolicy] | None = session.info.get(OLAS)
    if cached is None:
        cached = list(session.scalars(_ACTIVE_OLAS))
        session.info[OLAS] = cached
    return cached


def created_here(session: Session, incident: Incident) -> bool:
    """Was the incident logged in this transaction (so everything it has was written here)?"""
    return incident in session.info.get(FRESH, {})


def forget_cached(session: Session) -> None:
    for key in (CALENDARS, POLICIES, OLAS, CHOICES):
        session.info.pop(key, None)


def policy_for(session: Session, incident: Incident) -> SlaPolicy:
    """The incident's policy; chosen once per transaction for each (customer, service,
    priority), as the incidents of a write batch mostly share them."""
    key = (incident.customer_id, incident.service_id, incident.priority)
    chosen: dict[tuple[int | None, int | None, int], SlaPolicy] = session.info.setdefault(
        CHOICES, {}
    )
    found = chosen.get(key)
    if found is None:
        found = rules.best_policy(active_policies(session), *key)
        if found is None:  # the migration seeds "Default"; an admin cannot deactivate the last
            raise Conflict("no SLA policy matches and no default policy exists")
        chosen[key] = found
    return found


def ola_for(session: Session, group_id: int, priority: int) -> OlaPolicy | None:
    candidates = [
        o for o in active_olas(session) if o.group_id == group_id and o.priority in (None, priority)
    ]
    return min(candidates, key=lambda o: (o.priority is None, o.id), default=None)


def clocks_of(session: Session, incident: Incident) -> list[SlaClock]:
    fresh: dict[Incident, list[SlaClock]] = session.info.get(FRESH, {})
    if incident in fresh:
        return list(fresh[incident])
    if incident.id is None:
        return []
    ahead: dict[int, list[SlaClock]] | None = session.info.get(READ_AHEAD)
    if ahead is not None and incident.id in ahead:
        return ahead.pop(incident.id)
    return list(
        session.scalars(
            select(SlaClock).where(SlaClock.incident_id == incident.id).order_by(SlaClock.id)
        )
    )


@contextmanager
def clocks_read_ahead(session: Session, incidents: list[Incident]) -> Iterator[None]:
    """Inside: the clocks of these incidents (not logged in this transaction) were read with
    one query per 500, each list served once to the next `clocks_of` of its incident (a
    batch about to sync them). What is left unused is forgotten at the end."""
    fresh = session.info.get(FRESH, {})
    ids = sorted({i.id for i in incidents if i.id is not None and i not in fresh})
    if len(ids) < 2:
        yield
        return
    ahead: dict[int, list[SlaClock]] = session.info.setdefault(READ_AHEAD, {})
    try:
        _read_ahead(session, ids, ahead)
        yield
    finally:
        session.info.pop(READ_AHEAD, None)


def _read_ahead(session: Session, ids: list[int], ahead: dict[int, list[SlaClock]]) -> None:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for incident_id in chunk:
            ahead[incident_id] = []
        rows = session.scalars(
            select(SlaClock).where(SlaClock.incident_id.in_(chunk)).order_by(SlaClock.id)
        )
        for row in rows:
            ahead[row.incident_id].append(row)


@lru_cache(maxsize=256)
def _percents(text: str) -> tuple[int, ...]:
    return tuple(json.loads(text))


_CLOCK_KEYS = frozenset(
    {
        "target_seconds",
        "warn_percents",
        "elapsed_before",
        "segment_start",
        "warned_percent",
        "breached_at",
        "stopped_at",
        "stop_reason",
    }
)


def as_clock(row: SlaClock) -> rules.Clock:
    # Read from the instance dict when every value is there (a clock started or loaded in
    # this transaction): eight attribute descriptors per call, called several times per
    # write, were a tenth of syncing the clocks. An expired value goes through its attribute.
    values: Any = row.__dict__
    if not values.keys() >= _CLOCK_KEYS:
        values = {k: getattr(row, k) for k in _CLOCK_KEYS}
    return rules.Clock(
        target_seconds=values["target_seconds"],
        warn_percents=_percents(values["warn_percents"]),
        elapsed_before=values["elapsed_before"],
        segment_start=values["segment_start"],
        warned_percent=values["warned_percent"],
        breached=values["breached_at"] is not None,
        stopped=values["stopped_at"] is not None,
        cancelled=values["stop_reason"] == "cancelled",
    )


@lru_cache(maxsize=256)
def _percents_text(percents: tuple[int, ...]) -> str:
    return json.dumps(list(percents))


def store(
    row: SlaClock, cal: Calendar, new: rules.Clock, now: datetime, *, fresh: bool = False
) -> None:
    """Write a clock's new values back to its row (and its schedule). `fresh`: the row is a
    transient copy not yet written (see `_Sync.start`), whose values go straight into its
    instance dict, without the ORM's attribute events (a third of starting a clock)."""
    put: Any = row.__dict__.__setitem__ if fresh else partial(setattr, row)
    put("target_seconds", new.target_seconds)
    put("warn_percents", _percents_text(new.warn_percents))
    put("elapsed_before", new.elapsed_before)
    put("segment_start", new.segment_start)
    put("warned_percent", new.warned_percent)
    due = rules.due_at(cal, new)
    if due is not None or new.stopped:
        put("due_at", due)
    put("next_check_at", rules.next_check_at(cal, new))
    if new.breached and row.breached_at is None:
        put("breached_at", now)
    if new.stopped and row.stopped_at is None:
        put("stopped_at", now)
    elif not new.stopped:
        put("stopped_at", None)
        put("stop_reason", None)


# ----------------------------------------------------------------------------- syncing


@dataclass
class _Sync:
    session: Session
    actor: Actor
    incident: Incident
    now: datetime
    started: dict[str, Any] = field(default_factory=dict)

    def log_starts(self) -> None:
        """Clocks started together are one history event (an incident's first has two)."""
        if not self.started:
            return
        why = "; ".join(str(v.pop("why")) for v in self.started.values())
        history.record(
            self.session,
            self.incident,
            self.actor,
            "sla_started",
            field="sla",
            new=self.started,
            reason=why,
            rule_id="CLK-S",
        )
        self.started = {}

    def log(self, row: SlaClock, kind: str, rule_id: str, old: Any, new: Any, reason: str) -> None:
        name = row.kind if row.kind != "ola" else f"ola:{row.group_id}"
        history.record(
            self.session,
            self.incident,
            self.actor,
            kind,
            field=f"sla.{name}",
            old=old,
            new=new,
            reason=reason,
            rule_id=rule_id,
        )

    def start(
        self,
        kind: rules.Kind,
        target: int,
        warns: list[int],
        calendar_id: int,
        policy_name: str,
        at: datetime,
        group_id: int | None = None,
    ) -> SlaClock:
        cal = calendar_of(self.session, calendar_id)
        # A transient copy (see _insert_started), its columns filled without the ORM's
        # attribute events: the constructor cost as much as the rest of starting a clock.
        row = _NEW_CLOCK()
        row.__dict__.update(
            incident_id=None,
            kind=kind.value,
            group_id=group_id,
            policy_name=policy_name,
            calendar_id=calendar_id,
            target_seconds=target,
            warn_percents="[]",
            started_at=at,
            elapsed_before=0.0,
            segment_start=None,
            due_at=None,
            next_check_at=None,
            warned_percent=0,
            breached_at=None,
            stopped_at=None,
            stop_reason=None,
        )
        store(row, cal, rules.start(target, warns, at), self.now, fresh=True)
        self.session.info.setdefault(STARTED, []).append((self.incident, row))
        name = kind.value if group_id is None else f"ola:{group_id}"
        self.started[name] = {
            "target_seconds": target,
            "due_at": _iso(row.due_at),
            "policy": policy_name,
            "why": f"{policy_name}: {name} target {_human(target)}",
        }
        return row

    def change(self, row: SlaClock, new: rules.Clock, kind: str, rule_id: str, why: str) -> None:
        cal = calendar_of(self.session, row.calendar_id)
        before = as_clock(row)
        if new == before:
            return
        was_breached = row.breached_at is not None
        old_view = {"state": rules.view(cal, before, self.now).state.value}
        store(row, cal, new, self.now)
        if kind == "sla_stopped" and new.cancelled:
            row.stop_reason = "cancelled"
        elif kind == "sla_stopped":
            row.stop_reason = why
        view = rules.view(cal, new, self.now)
        self.log(
            row,
            kind,
            rule_id,
            old_view,
            {
                "state": view.state.value,
                "elapsed_seconds": view.elapsed_seconds,
                "target_seconds": new.target_seconds,
                "due_at": _iso(row.due_at),
            },
            why,
        )
        if row.breached_at is not None and not was_breached:
            self.log(
                row,
                "sla_breached",
                "CLK-B",
                None,
                {"elapsed_seconds": view.elapsed_seconds, "target_seconds": new.target_seconds},
                f"{row.kind} target passed before the clock stopped",
            )


def sync_clocks(
    session: Session, actor: Actor, incident: Incident, *, now: datetime | None = None
) -> list[SlaClock]:
    """Bring the incident's clocks in line with its state, priority, policy and group.

    Runs without autoflush: the incident is flushed once, with everything this write
    changed, so its version goes up by one per write.
    """
    with session.no_autoflush:
        return _sync_clocks(session, actor, incident, now or clock.now())


def _sync_clocks(
    session: Session, actor: Actor, incident: Incident, now: datetime
) -> list[SlaClock]:
    sync = _Sync(session, actor, incident, now)
    state = Status(incident.state)
    policy = policy_for(session, incident)
    pauses = frozenset(json.loads(policy.pause_states))
    warns = list(json.loads(policy.warn_percents))
    rows = _live_rows(session, incident)
    by_kind = {r.kind: r for r in rows if r.kind != "ola"}

    response = by_kind.get("response")
    if response is None and policy.response_seconds:
        response = sync.start(
            rules.Kind.response,
            policy.response_seconds,
            warns,
            policy.calendar_id,
            policy.name,
            incident.opened_at,
        )
        rows.append(response)
    if response is not None:
        _retarget(sync, response, policy.response_seconds, warns, policy.name)
        cal = calendar_of(session, response.calendar_id)
        current = as_clock(response)
        if not current.stopped and (incident.acknowledged_at is not None or state not in OPEN):
            at = incident.acknowledged_at or now
            cancelled = state == Status.cancelled and incident.acknowledged_at is None
            sync.change(
                response,
                rules.stop(cal, current, max(at, response.started_at), cancelled=cancelled),
                "sla_stopped",
                "CLK-M" if not cancelled else "CLK-X",
                "cancelled" if cancelled else "responded",
            )

    resolution = by_kind.get("resolution")
    if resolution is None and policy.resolution_seconds:
        resolution = sync.start(
            rules.Kind.resolution,
            policy.resolution_seconds,
            warns,
            policy.calendar_id,
            policy.name,
            incident.opened_at,
        )
        rows.append(resolution)
    if resolution is not None:
        _follow_state(sync, resolution, state, pauses)
        _retarget(sync, resolution, policy.resolution_seconds, warns, policy.name)

    _sync_olas(sync, rows, state, pauses)
    sync.log_starts()
    incident.respond_by = _running_due(response)
    incident.resolve_by = _running_due(resolution)
    # The hierarchic escalation schedule follows the clocks (every change passes here).
    sla_rows = [r for r in (response, resolution) if r is not None]
    timed = {r.kind: (calendar_of(session, r.calendar_id), as_clock(r)) for r in sla_rows}
    escalation_schedule.reschedule(session, incident, timed)
    return list(rows)


def note_new(session: Session, incident: Incident) -> None:
    """The incident is being logged in this transaction: it has no clock anywhere yet, so its
    clocks are kept in ``FRESH`` from the start (hooks that run before ``sync_clocks``, such as
    triage and routing, may flush it and give it an id first)."""
    session.info.setdefault(FRESH, {}).setdefault(incident, [])


def _live_rows(session: Session, incident: Incident) -> list[SlaClock]:
    """The incident's clocks; for an incident created in this transaction, the list kept in
    ``FRESH`` itself, so the clocks started now are appended to it.

    A started clock is a transient object (outside the session) until the flush after which
    ``_insert_started`` writes its row; changes made to it before then are written with it.
    Once written it is only a copy: to change it, the incident's rows are loaded as ORM
    objects (into the same list, in place of the copies), so the change is flushed as an
    UPDATE. Only a second write to a new incident in the same transaction pays that query."""
    fresh: dict[Incident, list[SlaClock]] = session.info.setdefault(FRESH, {})
    if incident in fresh:
        rows = fresh[incident]
        written: set[int] = session.info.get(WRITTEN, set())
        if any(id(r) in written for r in rows):
            loaded = session.scalars(
                select(SlaClock).where(SlaClock.incident_id == incident.id).order_by(SlaClock.id)
            )
            rows[:] = [*loaded, *(r for r in rows if id(r) not in written)]
        return rows
    if incident.id is None:  # new: no clock of it can be in the database
        fresh[incident] = []
        return fresh[incident]
    return clocks_of(session, incident)


def _insert_started(session: Session, _context: object) -> None:
    """After a flush: insert the clocks started since the last one (their incidents now have
    ids) with one executemany. The objects stay outside the session, as copies of their rows
    for reading (``clocks_of``): the unit of work cost more than the rest of a create."""
    started: list[tuple[Incident, SlaClock]] | None = session.info.pop(STARTED, None)
    if not started:
        return
    rows = []
    for incident, row in started:
        values = row.__dict__
        values["incident_id"] = incident.id
        rows.append({name: values[name] for name in _COLUMNS})
    session.connection().execute(_INSERT_CLOCKS, rows)
    session.info.setdefault(WRITTEN, set()).update(id(row) for _incident, row in started)


sa_event.listen(Session, "after_flush", _insert_started)


def _running_due(row: SlaClock | None) -> datetime | None:
    if row is None or row.stopped_at is not None or row.segment_start is None:
        return None
    return row.due_at


def _retarget(sync: _Sync, row: SlaClock, target: int | None, warns: list[int], name: str) -> None:
    if target is None or (target == row.target_seconds and name == row.policy_name):
        return
    if row.stopped_at is not None:  # a stopped clock is final (a reopen resumes it first)
        return
    old_target = row.target_seconds
    row.policy_name = name
    new = rules.retarget(as_clock(row), target, warns)
    sync.change(
        row,
        new,
        "sla_retargeted",
        "CLK-T",
        f"{name}: {row.kind} target {_human(old_target)} → {_human(target)}, "
        "business time already used is kept",
    )


def _follow_state(sync: _Sync, row: SlaClock, state: Status, pauses: frozenset[str]) -> None:
    """Pause, resume, stop or reopen a resolution/OLA clock according to the state."""
    cal = calendar_of(sync.session, row.calendar_id)
    current = as_clock(row)
    if state == Status.cancelled:
        if not current.stopped:
            new = rules.stop(cal, current, sync.now, cancelled=True)
            sync.change(row, new, "sla_stopped", "CLK-X", "cancelled")
        return
    if state in STOPPED:
        if not current.stopped:
            sync.change(row, rules.stop(cal, current, sync.now), "sla_stopped", "CLK-M", "resolved")
        return
    if current.stopped:  # reopened: continue where it stopped (CLK-O)
        if current.cancelled:
            return
        current = rules.resume(current, sync.now)
        sync.change(row, current, "sla_resumed", "CLK-O", "reopened: the clock continues")
    if state.value in pauses and current.running:
        sync.change(row, rules.pause(cal, current, sync.now), "sla_paused", "CLK-P", state.value)
    elif state.value not in pauses and not current.running:
        sync.change(row, rules.resume(current, sync.now), "sla_resumed", "CLK-R", state.value)


def _sync_olas(sync: _Sync, rows: list[SlaClock], state: Status, pauses: frozenset[str]) -> None:
    incident = sync.incident
    group_id = incident.assignment_group_id
    olas = [r for r in rows if r.kind == "ola"]
    for row in olas:
        if row.stopped_at is None and row.group_id != group_id:
            cal = calendar_of(sync.session, row.calendar_id)
            sync.change(
                row, rules.stop(cal, as_clock(row), sync.now), "sla_stopped", "CLK-M", "reassigned"
            )
    if group_id is None:
        return
    ola = ola_for(sync.session, group_id, incident.priority)
    mine = next((r for r in olas if r.group_id == group_id and r.stopped_at is None), None)
    if mine is None and ola is not None and state in OPEN:
        mine = sync.start(
            rules.Kind.ola,
            ola.resolution_seconds,
            list(json.loads(ola.warn_percents)),
            ola.calendar_id,
            f"OLA {group_id}" + (f" P{ola.priority}" if ola.priority else ""),
            sync.now,
            group_id=group_id,
        )
        rows.append(mine)
    if mine is not None:
        _follow_state(sync, mine, state, pauses)
        if ola is not None:
            _retarget(
                sync,
                mine,
                ola.resolution_seconds,
                list(json.loads(ola.warn_percents)),
                mine.policy_name,
            )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _human(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
