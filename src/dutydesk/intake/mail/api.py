"""Admin endpoints of the mail quarantine: list, read the raw message, retry, discard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor, require_admin
from dutydesk.intake.mail import queries, service
from dutydesk.intake.mail.schemas import MailOutcomeRead, QuarantineList, QuarantineRead
from dutydesk.models import MailQuarantine

router = APIRouter(prefix="/api/v1/admin/mail", tags=["admin", "mail"])


def _read(entry: MailQuarantine, size: int) -> dict[str, Any]:
    data = {name: getattr(entry, name) for name in QuarantineRead.model_fields if name != "size"}
    return QuarantineRead.model_validate({**data, "size": size}).model_dump(mode="json")


@router.get("/quarantine", response_model=QuarantineList)
async def list_quarantine(
    api: Api,
    state: Annotated[str | None, Query(max_length=12)] = "held",
    cursor: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        rows = queries.list_quarantine(session, state=state or None, before_id=cursor, limit=limit)
        items = [_read(entry, size) for entry, size in rows]
        last = str(rows[-1][0].id) if len(rows) == limit else None
        return {"items": items, "next_cursor": last}

    return await api.read(work)


@router.get("/quarantine/{quarantine_id}/raw", response_class=Response)
async def read_raw(quarantine_id: int, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> bytes:
        require_admin(actor)
        return bytes(queries.get_quarantined(session, quarantine_id).raw)

    raw = await api.read(work)
    headers = {"Content-Disposition": f'attachment; filename="quarantine-{quarantine_id}.eml"'}
    return Response(raw, media_type="application/octet-stream", headers=headers)


@router.post("/quarantine/{quarantine_id}/retry", response_model=MailOutcomeRead)
async def retry(quarantine_id: int, api: Api) -> dict[str, Any]:
    settings = api.settings

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        result = service.retry_quarantined(session, settings, actor, quarantine_id)
        return {
            "outcome": result.outcome.value,
            "incident_number": result.incident_number,
            "reason": result.reason,
        }

    return await api.write(work)


@router.post("/quarantine/{quarantine_id}/discard", response_model=QuarantineRead)
async def discard(quarantine_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        entry = service.discard_quarantined(session, actor, quarantine_id)
        return _read(entry, len(entry.raw))

    return await api.write(work)
