"""Exporting incidents: every incident, with what hangs off it, as one line of the format."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dutydesk.config import get_settings
from dutydesk.incidents.transfer.format import (
    HEADER,
    NESTED,
    REFERENCES,
    AttachmentRecord,
    ClockRecord,
    CommentRecord,
    EscalationRecord,
    EventRecord,
    IncidentRecord,
    LinkRecord,
    _line,
    _Reference,
)
from dutydesk.kernel.errors import NotFound
from dutydesk.models import (
    Attachment,
    Comment,
    Incident,
    IncidentEscalation,
    IncidentEvent,
    IncidentLink,
    SlaClock,
)

BATCH = 200  # incidents read per round trip while exporting


class AttachmentMissing(NotFound):
    """An attachment row whose file is not in the storage directory: the export stops."""


def export_incidents(session: Session, fh: TextIO, *, storage_dir: Path | None = None) -> int:
    """Write the header, then every incident ordered by number; returns how many."""
    storage = storage_dir if storage_dir is not None else get_settings().storage_dir
    _use_one_snapshot(session)
    session.flush()
    # A session of our own on the same transaction, emptied after every batch.
    with Session(bind=session.connection()) as reader:
        refs = _Reference.load(reader)
        fh.write(_line(HEADER))
        count = 0
        for batch in _batches(reader):
            for record in _records(reader, batch, refs, storage):
                fh.write(_line(record.model_dump(mode="json")))
                count += 1
            reader.expunge_all()
    return count


def _use_one_snapshot(session: Session) -> None:
    """On PostgreSQL read every batch from one snapshot, so each chain is complete."""
    bind = session.get_bind()
    postgresql = isinstance(bind, Engine) and bind.dialect.name == "postgresql"
    if postgresql and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _batches(reader: Session) -> Iterator[Sequence[Incident]]:
    last = ""
    while True:
        query = select(Incident).where(Incident.number > last).order_by(Incident.number)
        batch = reader.scalars(query.limit(BATCH)).all()
        if not batch:
            return
        yield batch
        last = batch[-1].number


def _records(
    reader: Session, batch: Sequence[Incident], refs: _Reference, storage: Path
) -> Iterator[IncidentRecord]:
    ids = [incident.id for incident in batch]
    events: dict[int, list[IncidentEvent]] = defaultdict(list)
    for event in reader.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id.in_(ids))
        .order_by(IncidentEvent.incident_id, IncidentEvent.seq)
    ):
        events[event.incident_id].append(event)
    comments: dict[int, list[Comment]] = defaultdict(list)
    for comment in reader.scalars(
        select(Comment).where(Comment.incident_id.in_(ids)).order_by(Comment.id)
    ):
        comments[comment.incident_id].append(comment)
    attachments: dict[int, list[Attachment]] = defaultdict(list)
    for attachment in reader.scalars(
        select(Attachment).where(Attachment.incident_id.in_(ids)).order_by(Attachment.id)
    ):
        attachments[attachment.incident_id].append(attachment)
    links: dict[int, list[tuple[IncidentLink, str]]] = defaultdict(list)
    for link, target in reader.execute(
        select(IncidentLink, Incident.number)
        .join(Incident, Incident.id == IncidentLink.target_id)
        .where(IncidentLink.source_id.in_(ids))
        .order_by(IncidentLink.id)
    ):
        links[link.source_id].append((link, target))

    clocks: dict[int, list[SlaClock]] = defaultdict(list)
    for row in reader.scalars(
        select(SlaClock).where(SlaClock.incident_id.in_(ids)).order_by(SlaClock.id)
    ):
        clocks[row.incident_id].append(row)
    escalations: dict[int, list[IncidentEscalation]] = defaultdict(list)
    for escalation in reader.scalars(
        select(IncidentEscalation)
        .where(IncidentEscalation.incident_id.in_(ids))
        .order_by(IncidentEscalation.id)
    ):
        escalations[escalation.incident_id].append(escalation)

    for incident in batch:
        data: dict[str, Any] = {
            name: getattr(incident, name)
            for name in IncidentRecord.model_fields
            if name not in NESTED and name not in REFERENCES
        }
        for name, kind in REFERENCES.items():
            data[name] = refs.of(kind).name(getattr(incident, f"{name}_id"))
        yield IncidentRecord.model_construct(
            **data,
            events=[
                EventRecord.model_construct(**{n: getattr(e, n) for n in EventRecord.model_fields})
                for e in events[incident.id]
            ],
            comments=[
                CommentRecord.model_construct(
                    author=refs.users.name(c.author_id),
                    visibility=c.visibility,
                    body=c.body,
                    created_at=c.created_at,
                )
                for c in comments[incident.id]
            ],
            attachments=[
                _attachment_record(incident.number, a, refs, storage)
                for a in attachments[incident.id]
            ],
            links=[
                LinkRecord.model_construct(
                    number=target,
                    kind=link.kind,
                    created_at=link.created_at,
                    created_by=refs.users.name(link.created_by_id),
                )
                for link, target in links[incident.id]
            ],
            clocks=[_clock_record(row, refs) for row in clocks[incident.id]],
            escalations=[_escalation_record(e, refs) for e in escalations[incident.id]],
        )


def _escalation_record(row: IncidentEscalation, refs: _Reference) -> EscalationRecord:
    return EscalationRecord.model_construct(
        kind=row.kind,
        trigger=row.trigger,
        rule_id=row.rule_id,
        path_id=row.path_id,
        step=row.step,
        level_id=row.level_id,
        from_group=refs.groups.name(row.from_group_id),
        to_group=refs.groups.name(row.to_group_id),
        notified=[refs.users.name(i) or "" for i in row.notified_user_ids],
        reason=row.reason,
        actor=refs.users.name(row.actor_id),
        actor_name=row.actor_name,
        at=row.at,
        late=row.late,
    )


def _clock_record(row: SlaClock, refs: _Reference) -> ClockRecord:
    data = {
        name: getattr(row, name)
        for name in ClockRecord.model_fields
        if name not in ("group", "calendar", "warn_percents")
    }
    return ClockRecord.model_construct(
        **data,
        group=refs.groups.name(row.group_id),
        calendar=refs.calendars.name(row.calendar_id) or "",
        warn_percents=json.loads(row.warn_percents),
    )


def _attachment_record(
    number: str, attachment: Attachment, refs: _Reference, storage: Path
) -> AttachmentRecord:
    try:
        data = (storage / attachment.storage_name).read_bytes()
    except FileNotFoundError:
        raise AttachmentMissing(
            f"{number}: the file of attachment {attachment.filename!r} "
            f"({attachment.storage_name}) is missing from {storage}"
        ) from None
    return AttachmentRecord.model_construct(
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        visibility=attachment.visibility,
        uploaded_by=refs.users.name(attachment.uploaded_by_id),
        created_at=attachment.created_at,
        data=base64.b64encode(data).decode("ascii"),
    )
