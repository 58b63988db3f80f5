"""Working together on an incident: comments, attachments and links (never commit)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from pathlib import Path

import filetype
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_write_scope
from dutydesk.config import Settings
from dutydesk.incidents import history, notices
from dutydesk.incidents.lifecycle import TERMINAL, Status
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from dutydesk.models import Attachment, Comment, Incident, IncidentLink

# Types a browser would render or run; always served as opaque downloads.
ACTIVE_TYPES = (
    "text/html",
    "image/svg+xml",
    "application/xml",
    "text/xml",
    "application/xhtml+xml",
)


def _writable(session: Session, incident: Incident) -> None:
    if incident.id is None:  # opened in this transaction: give it its id
        session.flush()
    if Status(incident.state) in TERMINAL:
        raise Conflict(f"{incident.number} is {incident.state}; nothing can be added to it")


def add_comment(
    session: Session,
    actor: Actor,
    incident: Incident,
    body: str,
    visibility: str,
    *,
    settings: Settings | None = None,
) -> Comment:
    """A work note (internal) or a public reply; requesters can only reply publicly."""
    require_write_scope(actor)
    _writable(session, incident)
    if not body.strip():
        raise InvalidInput(
            "a comment needs text", errors=[{"field": "body", "msg": "must not be blank"}]
        )
    if visibility not in ("work_note", "public"):
        raise InvalidInput("visibility is 'work_note' or 'public'")
    if visibility == "work_note" and not actor.is_staff:
        raise Forbidden("only service desk staff write work notes")
    comment = Comment(
        incident_id=incident.id,
        author_id=actor.user_id,
        visibility=visibility,
        body=body,
        created_at=clock.now(),
    )
    session.add(comment)
    session.flush()
    kind = "work_note" if visibility == "work_note" else "public_reply"
    history.record(session, incident, actor, kind, new={"comment_id": comment.id, "body": body})
    incident.updated_at = clock.now()
    if settings is not None and visibility == "public":
        notices.after_public_reply(session, settings, actor, incident, body)
    return comment


def clean_filename(name: str) -> str:
    """The last path component, without control characters; never used on disk."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    name = re.sub(r"\s+", " ", name)
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) < 20 else name[:200]
    return name or "attachment"


def sniff_content_type(data: bytes) -> str:
    kind = filetype.guess(data[:8192])
    if kind is not None:
        return str(kind.mime)
    head = data[:8192]
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<script")) or b"<svg" in lowered[:512]:
        return "text/html" if b"<svg" not in lowered[:512] else "image/svg+xml"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def attach_file(
    session: Session,
    actor: Actor,
    incident: Incident,
    *,
    filename: str,
    data: bytes,
    visibility: str,
    storage_dir: Path,
    max_bytes: int,
) -> Attachment:
    """Store the bytes under a random name; the type is sniffed from content, not trusted."""
    require_write_scope(actor)
    _writable(session, incident)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")
    if not data:
        raise InvalidInput("the file is empty", errors=[{"field": "file", "msg": "empty"}])
    if visibility not in ("work_note", "public"):
        raise InvalidInput("visibility is 'work_note' or 'public'")
    if visibility == "work_note" and not actor.is_staff:
        raise Forbidden("only service desk staff add internal attachments")
    storage_name = secrets.token_hex(16)
    storage_dir.mkdir(parents=True, exist_ok=True)
    path = storage_dir / storage_name
    with open(path, "xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    attachment = Attachment(
        incident_id=incident.id,
        filename=clean_filename(filename),
        storage_name=storage_name,
        content_type=sniff_content_type(data),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        visibility=visibility,
        uploaded_by_id=actor.user_id,
        created_at=clock.now(),
    )
    session.add(attachment)
    session.flush()
    kind = "attachment_added" if visibility == "public" else "internal_attachment"
    history.record(
        session,
        incident,
        actor,
        kind,
        new={
            "attachment_id": attachment.id,
            "filename": attachment.filename,
            "size": len(data),
            "sha256": attachment.sha256,
        },
    )
    incident.updated_at = clock.now()
    return attachment


def link_incidents(
    session: Session, actor: Actor, incident: Incident, other: Incident, kind: str
) -> IncidentLink:
    require_write_scope(actor)
    if not actor.is_staff:
        raise Forbidden("only service desk staff link incidents")
    _writable(session, incident)
    if other.id == incident.id:
        raise InvalidInput(
            "an incident cannot be linked to itself",
            errors=[{"field": "number", "msg": "same incident"}],
        )
    existing = session.scalar(
        select(IncidentLink).where(
            IncidentLink.source_id == incident.id,
            IncidentLink.target_id == other.id,
            IncidentLink.kind == kind,
        )
    )
    if existing is not None:
        raise Conflict(f"{incident.number} is already linked to {other.number} as {kind}")
    link = IncidentLink(
        source_id=incident.id,
        target_id=other.id,
        kind=kind,
        created_at=clock.now(),
        created_by_id=actor.user_id,
    )
    session.add(link)
    history.record(session, incident, actor, "link_added", field=kind, new=other.number)
    history.record(
        session, other, actor, "link_added", field=f"{kind} (incoming)", new=incident.number
    )
    incident.updated_at = other.updated_at = clock.now()
    return link


def unlink_incidents(
    session: Session, actor: Actor, incident: Incident, other: Incident, kind: str
) -> None:
    """Remove a link between the two incidents, whichever of them it starts from."""
    require_write_scope(actor)
    if not actor.is_staff:
        raise Forbidden("only service desk staff unlink incidents")
    _writable(session, incident)
    link = session.scalar(
        select(IncidentLink).where(
            IncidentLink.kind == kind,
            ((IncidentLink.source_id == incident.id) & (IncidentLink.target_id == other.id))
            | ((IncidentLink.source_id == other.id) & (IncidentLink.target_id == incident.id)),
        )
    )
    if link is None:
        raise NotFound(f"{incident.number} is not linked to {other.number} as {kind}")
    session.delete(link)
    history.record(session, incident, actor, "link_removed", field=kind, old=other.number)
    history.record(session, other, actor, "link_removed", field=kind, old=incident.number)
    incident.updated_at = other.updated_at = clock.now()
