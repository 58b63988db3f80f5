"""The append-only, hash-chained incident history: writing events and verifying chains."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.kernel import clock
from dutydesk.models import Incident, IncidentEvent

GENESIS = "0" * 64
PENDING = "dutydesk.history.pending"  # session.info: events waiting for the next flush


# json.dumps with options builds an encoder per call; these are built once (same output).
_VALUES = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode(value: Any) -> str | None:
    """History values are stored as canonical JSON text (None stays NULL)."""
    if value is None:
        return None
    return _VALUES.encode(value)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(number: str, event: IncidentEvent) -> str:
    """H(prev_hash ‖ canonical content); the incident number ties the chain to its record."""
    return content_hash(number, lambda name: getattr(event, name))


def row_hash(number: str, row: Mapping[str, Any]) -> str:
    """The same hash over an event's column values (bulk writers build rows, not objects)."""
    return content_hash(number, row.__getitem__)


def content_hash(number: str, value: Callable[[str], Any]) -> str:
    """The hash of an event given its column values (read from a row, or from the dict of a
    row about to be inserted)."""
    content = {
        "incident": number,
        "seq": value("seq"),
        "at": _iso(value("at")),
        "actor_id": value("actor_id"),
        "actor_name": value("actor_name"),
        "actor_type": value("actor_type"),
        "channel": value("channel"),
        "kind": value("kind"),
        "field": value("field"),
        "old": value("old"),
        "new": value("new"),
        "reason": value("reason"),
        "rule_id": value("rule_id"),
        "request_id": value("request_id"),
        "imported": bool(value("imported")),
        "prev": value("prev_hash"),
    }
    return hashlib.sha256(_CANONICAL.encode(content).encode()).hexdigest()


def record(
    session: Session,
    incident: Incident,
    actor: Actor,
    kind: str,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
    rule_id: str | None = None,
    at: datetime | None = None,
) -> str:
    """Append one event to the incident's chain in the caller's transaction; return its hash.

    The event is not an ORM object: its row is queued in the session and written with the
    other queued events of the transaction in one multi-row INSERT right after the next
    flush (which the incident, made dirty here, always triggers: autoflush, an explicit
    flush, a savepoint or the commit). Events are append-only, so the unit of work buys
    nothing for them and costs more than the rest of a create.
    """
    values: dict[str, Any] = {
        "incident_id": incident.id,
        "seq": (incident.history_count or 0) + 1,
        "at": at or clock.now(),
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "actor_type": actor.actor_type,
        "channel": actor.channel,
        "kind": kind,
        "field": field,
        "old": encode(old),
        "new": encode(new),
        "reason": reason,
        "rule_id": rule_id,
        "request_id": actor.request_id,
        "imported": actor.actor_type == "import",
        "prev_hash": incident.history_head or GENESIS,
    }
    values["hash"] = content_hash(incident.number, values.__getitem__)
    incident.history_count = values["seq"]
    incident.history_head = values["hash"]
    session.info.setdefault(PENDING, []).append((incident, values))
    return str(values["hash"])


def _write_pending(session: Session, _context: object) -> None:
    """After a flush: insert the events queued since the last one (their incidents now have
    ids), in the order they were recorded."""
    pending: list[tuple[Incident, dict[str, Any]]] | None = session.info.pop(PENDING, None)
    if not pending:
        return
    rows = []
    for incident, values in pending:
        if values["incident_id"] is None:
            values["incident_id"] = incident.id
        rows.append(values)
    table: Table = IncidentEvent.__table__  # type: ignore[assignment]
    session.connection().execute(insert(table), rows)


def _drop_pending(session: Session, _transaction: object) -> None:
    """A rollback discards the events queued in it. A savepoint starts with a flush, so
    whatever is queued when one rolls back was recorded inside it."""
    session.info.pop(PENDING, None)


sa_event.listen(Session, "after_flush", _write_pending)
sa_event.listen(Session, "after_soft_rollback", _drop_pending)


@dataclass(frozen=True)
class ChainBreak:
    incident_number: str
    event_seq: int | None
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"event #{self.event_seq} (id {self.event_id})" if self.event_seq else "its chain"
        return f"{self.incident_number}: {where}: {self.problem}"


def verify_chains(session: Session, *, stop_at_first: bool = False) -> Iterator[ChainBreak]:
    """Walk every incident's chain; yield the first break of each broken incident."""
    incidents = session.execute(
        select(Incident.id, Incident.number, Incident.history_count, Incident.history_head)
        .order_by(Incident.id)
        .execution_options(yield_per=2000)
    )
    events = session.scalars(
        select(IncidentEvent)
        .order_by(IncidentEvent.incident_id, IncidentEvent.seq)
        .execution_options(yield_per=2000)
    )
    pending: IncidentEvent | None = next(events, None)
    for inc_id, number, count, head in incidents:
        chain: list[IncidentEvent] = []
        while pending is not None and pending.incident_id < inc_id:
            pending = next(events, None)  # events of a vanished incident
        while pending is not None and pending.incident_id == inc_id:
            chain.append(pending)
            pending = next(events, None)
        problem = _check_chain(number, count, head, chain)
        if problem is not None:
            yield problem
            if stop_at_first:
                return


def _check_chain(
    number: str, count: int, head: str, chain: list[IncidentEvent]
) -> ChainBreak | None:
    prev = before_prev = GENESIS
    for expected_seq, event in enumerate(chain, start=1):
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                problem = f"event #{expected_seq} was deleted (the chain jumps to #{event.seq})"
            else:
                problem = "an event was inserted (sequence numbers repeat)"
            return ChainBreak(number, event.seq, event.id, problem)
        if event.prev_hash != prev:
            if expected_seq > 1 and event.prev_hash == before_prev:
                culprit = chain[expected_seq - 2]
                problem = "this event was inserted (the next one links past it)"
                return ChainBreak(number, culprit.seq, culprit.id, problem)
            if expected_seq > 1:
                culprit = chain[expected_seq - 2]
                problem = (
                    "this event was edited and re-hashed, or events were deleted after it "
                    f"(event #{event.seq} links to another hash)"
                )
                return ChainBreak(number, culprit.seq, culprit.id, problem)
            problem = "an event was inserted or deleted before this one (previous hash differs)"
            return ChainBreak(number, event.seq, event.id, problem)
        if event_hash(number, event) != event.hash:
            return ChainBreak(number, event.seq, event.id, "the event was edited (hash mismatch)")
        before_prev, prev = prev, event.hash
    if len(chain) < count:
        return ChainBreak(
            number, len(chain) + 1, None, f"event #{len(chain) + 1} onwards was deleted"
        )
    if len(chain) == count and chain and prev != (head or GENESIS):
        final = chain[-1]
        return ChainBreak(number, final.seq, final.id, "the last event was edited and re-hashed")
    if len(chain) > count or prev != (head or GENESIS):
        last = chain[-1] if chain else None
        return ChainBreak(
            number,
            last.seq if last else None,
            last.id if last else None,
            "an event was inserted after the recorded head of the chain",
        )
    return None
