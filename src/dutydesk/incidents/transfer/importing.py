"""Importing incidents: verify each line, write it in its own unit of work, then link."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from dutydesk.db import Database
from dutydesk.incidents.history import GENESIS, event_hash
from dutydesk.incidents.transfer.format import (
    FORMAT,
    HEADER,
    NESTED,
    REFERENCES,
    VERSION,
    AttachmentRecord,
    EscalationRecord,
    IncidentRecord,
    _line,
    _Reference,
)
from dutydesk.models import (
    Attachment,
    Comment,
    Counter,
    Incident,
    IncidentEscalation,
    IncidentEvent,
    IncidentLink,
    SlaClock,
)


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    links: int = 0
    # Links not created (their target is missing); the incidents themselves were imported.
    link_problems: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{self.imported} incidents imported, {self.skipped} skipped (already present), "
            f"{len(self.rejected)} rejected; {self.links} links created"
        ]
        lines += [f"line {n}: rejected: {reason}" for n, reason in self.rejected]
        lines += [f"line {n}: {reason}" for n, reason in self.link_problems]
        return "\n".join(lines)


class _Rejected(Exception):
    """A line that cannot be imported; nothing of it was written."""


@dataclass(frozen=True)
class _Link:
    target: str
    kind: str
    created_at: datetime
    created_by_id: int | None


@dataclass
class _Plan:
    """A verified record turned into rows, before it has a database id."""

    incident: dict[str, Any]
    events: list[IncidentEvent]
    comments: list[Comment]
    attachments: list[tuple[Attachment, bytes]]
    links: list[_Link]
    clocks: list[SlaClock]
    escalations: list[IncidentEscalation] = field(default_factory=list)


def import_incidents(db: Database, fh: TextIO, *, storage_dir: Path) -> ImportReport:
    """Each incident in a unit of work of its own; links once every incident exists.

    A number that exists already is skipped unchecked, so importing a file twice is a no-op.
    """
    report = ImportReport()
    lines = enumerate(fh, start=1)
    first = next(lines, None)
    problem = _header_problem(first[1] if first is not None else None)
    if problem is not None:
        report.rejected.append((1, problem))
        return report
    with db.unit_of_work(write=False) as session:
        refs = _Reference.load(session)
    pending: list[tuple[int, str, list[_Link]]] = []
    for lineno, line in lines:
        if not line.strip():
            continue
        try:
            imported = _import_line(db, refs, line, storage_dir)
        except _Rejected as exc:
            report.rejected.append((lineno, str(exc)))
            continue
        if imported is None:
            report.skipped += 1
            continue
        report.imported += 1
        number, links = imported
        if links:
            pending.append((lineno, number, links))
    for lineno, number, links in pending:
        _create_links(db, lineno, number, links, report)
    return report


def _header_problem(line: str | None) -> str | None:
    expected = _line(HEADER).strip()
    hint = f"not a DutyDesk incident export: the first line must be the header {expected}"
    if line is None or not line.strip():
        return "the file is empty; " + hint
    try:
        header = json.loads(line.removeprefix("\ufeff"))
    except (ValueError, RecursionError):
        return hint
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return hint
    if header.get("version") != VERSION:
        return (
            f"unsupported {FORMAT} version {header.get('version')!r}; "
            f"this DutyDesk reads version {VERSION}"
        )
    return None


def _import_line(
    db: Database, refs: _Reference, line: str, storage_dir: Path
) -> tuple[str, list[_Link]] | None:
    """(number, its links) when imported, None when the number exists already."""
    try:
        record = IncidentRecord.model_validate_json(line.rstrip("\r\n"))
    except ValidationError as exc:
        raise _Rejected(_describe(exc, line)) from None
    written: list[Path] = []
    try:
        with db.unit_of_work() as session:
            if _incident_id(session, record.number) is not None:
                return None
            plan = _plan(record, refs)
            _write(session, record, plan, storage_dir, written)
    except BaseException as exc:
        _remove(written)
        if isinstance(exc, IntegrityError) and _exists(db, record.number):
            return None  # imported by someone else meanwhile
        if isinstance(exc, SQLAlchemyError):
            raise _Rejected(
                f"{record.number}: the database refused it: {_first_line(exc)}"
            ) from None
        if isinstance(exc, OSError):
            raise _Rejected(f"{record.number}: cannot store an attachment: {exc}") from None
        raise
    return record.number, plan.links


def _describe(exc: ValidationError, line: str) -> str:
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        return f"malformed JSON: {errors[0].get('ctx', {}).get('error', errors[0]['msg'])}"
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or 'the line'}: {error['msg']}"
        for error in errors[:5]
    ]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        data = None
    number = data.get("number") if isinstance(data, dict) else None
    where = f"{number}: " if isinstance(number, str) and len(number) < 40 else ""
    return f"{where}invalid record: " + "; ".join(parts) + more


def _first_line(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _plan(record: IncidentRecord, refs: _Reference) -> _Plan:
    """Verify the chain, resolve every natural key, decode every file; or reject."""
    number = record.number
    events = [IncidentEvent(**event.model_dump()) for event in record.events]
    broken = _chain_problem(record, events)
    if broken is not None:
        raise _Rejected(f"{number}: broken hash chain: {broken}")
    problems: list[str] = []
    incident = record.model_dump(exclude=set(NESTED | REFERENCES.keys()))
    for name, kind in REFERENCES.items():
        incident[f"{name}_id"] = refs.of(kind).id(getattr(record, name), name, problems)
    comments = [
        Comment(
            author_id=refs.users.id(c.author, f"comments.{i}.author", problems),
            visibility=c.visibility,
            body=c.body,
            created_at=c.created_at,
        )
        for i, c in enumerate(record.comments)
    ]
    attachments = [
        _attachment(
            a,
            f"attachments.{i}",
            refs.users.id(a.uploaded_by, f"attachments.{i}.uploaded_by", problems),
            problems,
        )
        for i, a in enumerate(record.attachments)
    ]
    links = [
        _Link(
            link.number,
            link.kind,
            link.created_at,
            refs.users.id(link.created_by, f"links.{i}.created_by", problems),
        )
        for i, link in enumerate(record.links)
    ]
    clocks = [
        SlaClock(
            **c.model_dump(exclude={"group", "calendar", "warn_percents"}),
            group_id=refs.groups.id(c.group, f"clocks.{i}.group", problems),
            calendar_id=refs.calendars.id(c.calendar, f"clocks.{i}.calendar", problems),
            warn_percents=json.dumps(c.warn_percents),
        )
        for i, c in enumerate(record.clocks)
    ]
    escalations = [
        _escalation(e, f"escalations.{i}", refs, problems) for i, e in enumerate(record.escalations)
    ]
    if problems:
        raise _Rejected(f"{number}: " + "; ".join(problems))
    return _Plan(incident, events, comments, attachments, links, clocks, escalations)


def _escalation(
    record: EscalationRecord, where: str, refs: _Reference, problems: list[str]
) -> IncidentEscalation:
    data = record.model_dump(exclude={"from_group", "to_group", "notified", "actor"})
    notified = [
        refs.users.id(name, f"{where}.notified.{i}", problems)
        for i, name in enumerate(record.notified)
    ]
    return IncidentEscalation(
        **data,
        from_group_id=refs.groups.id(record.from_group, f"{where}.from_group", problems),
        to_group_id=refs.groups.id(record.to_group, f"{where}.to_group", problems),
        notified_user_ids=[i for i in notified if i is not None],
        actor_id=refs.users.id(record.actor, f"{where}.actor", problems),
    )


def _chain_problem(record: IncidentRecord, events: list[IncidentEvent]) -> str | None:
    prev = GENESIS
    for expected, event in enumerate(events, start=1):
        if event.seq != expected:
            return f"event #{expected} is missing (the chain jumps to #{event.seq})"
        if event.prev_hash != prev:
            return f"event #{event.seq} does not follow the previous hash"
        if event_hash(record.number, event) != event.hash:
            return f"event #{event.seq} does not match its hash (edited)"
        prev = event.hash
    if len(events) != record.history_count:
        return f"history_count is {record.history_count} but {len(events)} events came"
    if (record.history_head or GENESIS) != prev:
        return "history_head is not the hash of the last event"
    return None


def _attachment(
    record: AttachmentRecord, where: str, uploaded_by_id: int | None, problems: list[str]
) -> tuple[Attachment, bytes]:
    try:
        data = base64.b64decode(record.data, validate=True)
    except binascii.Error:
        data = b""
        problems.append(f"{where}.data: not base64")
    else:
        if len(data) != record.size or hashlib.sha256(data).hexdigest() != record.sha256:
            problems.append(f"{where}.data: does not match its size and sha256")
    row = Attachment(
        filename=record.filename,
        content_type=record.content_type,
        size=record.size,
        sha256=record.sha256,
        visibility=record.visibility,
        uploaded_by_id=uploaded_by_id,
        created_at=record.created_at,
    )
    return row, data


def _write(
    session: Session, record: IncidentRecord, plan: _Plan, storage_dir: Path, written: list[Path]
) -> None:
    # A core-style INSERT: the ORM would restart version_id_col at 1 (ETags must survive).
    incident_id, version = session.execute(
        insert(Incident).values(**plan.incident).returning(Incident.id, Incident.version)
    ).one()
    if version != record.version:
        raise _Rejected(f"{record.number}: version {record.version} was not kept ({version})")
    for event in plan.events:
        event.incident_id = incident_id
    for comment in plan.comments:
        comment.incident_id = incident_id
    for row in plan.clocks:
        row.incident_id = incident_id
    for escalation in plan.escalations:
        escalation.incident_id = incident_id
    session.add_all(plan.events)
    session.add_all(plan.comments)
    session.add_all(plan.clocks)
    session.add_all(plan.escalations)
    for attachment, data in plan.attachments:
        attachment.incident_id = incident_id
        attachment.storage_name = _store(storage_dir, data, written)
        session.add(attachment)
    _raise_counter(session, record.number)
    session.flush()


def _store(storage_dir: Path, data: bytes, written: list[Path]) -> str:
    storage_name = secrets.token_hex(16)
    storage_dir.mkdir(parents=True, exist_ok=True)
    path = storage_dir / storage_name
    with open(path, "xb") as out:
        written.append(path)
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return storage_name


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _raise_counter(session: Session, number: str) -> None:
    """The number counter never falls behind an imported number (next_number skips it)."""
    prefix, value = number[:3], int(number[3:])
    if session.scalar(select(Counter.value).where(Counter.name == prefix)) is None:
        try:
            with session.begin_nested():
                session.execute(insert(Counter).values(name=prefix, value=value))
            return
        except IntegrityError:
            pass  # created meanwhile; raise it below
    session.execute(
        update(Counter).where(Counter.name == prefix, Counter.value < value).values(value=value)
    )


def _incident_id(session: Session, number: str) -> int | None:
    return session.scalar(select(Incident.id).where(Incident.number == number))


def _exists(db: Database, number: str) -> bool:
    with db.unit_of_work(write=False) as session:
        return _incident_id(session, number) is not None


def _create_links(
    db: Database, lineno: int, number: str, links: list[_Link], report: ImportReport
) -> None:
    created = 0
    problems: list[tuple[int, str]] = []
    try:
        with db.unit_of_work() as session:
            source_id = _incident_id(session, number)
            for link in links:
                what = f"link {number} -> {link.target} ({link.kind})"
                target_id = _incident_id(session, link.target)
                if source_id is None or target_id is None:
                    problems.append((lineno, f"{what} skipped: no incident {link.target}"))
                    continue
                if target_id == source_id:
                    problems.append((lineno, f"{what} skipped: an incident cannot link itself"))
                    continue
                exists = session.scalar(
                    select(IncidentLink.id).where(
                        IncidentLink.source_id == source_id,
                        IncidentLink.target_id == target_id,
                        IncidentLink.kind == link.kind,
                    )
                )
                if exists is not None:
                    continue
                session.add(
                    IncidentLink(
                        source_id=source_id,
                        target_id=target_id,
                        kind=link.kind,
                        created_at=link.created_at,
                        created_by_id=link.created_by_id,
                    )
                )
                session.flush()
                created += 1
    except SQLAlchemyError as exc:
        report.link_problems.append((lineno, f"links of {number} not created: {_first_line(exc)}"))
        return
    report.links += created
    report.link_problems.extend(problems)
