"""REST endpoints for incidents: CRUD, actions, comments, attachments, links, history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import TypeAdapter
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api, ApiContext, api_context
from dutydesk.access.policy import Actor, require_admin
from dutydesk.escalation import queries as escalation_queries
from dutydesk.escalation.schemas import EscalationRead
from dutydesk.incidents import actions, collaboration, queries, rules, service
from dutydesk.incidents.lifecycle import Status, allowed_actions
from dutydesk.incidents.priority import CHECKLIST_FIELDS
from dutydesk.incidents.schemas import (
    ActionRequest,
    AttachmentRead,
    ChecklistRead,
    ChecklistWrite,
    ClockRead,
    CommentCreate,
    CommentRead,
    EventRead,
    IncidentCreate,
    IncidentList,
    IncidentPatch,
    IncidentRead,
    LinkCreate,
    LinkRead,
    PriorityMatrixRead,
    PriorityMatrixWrite,
)
from dutydesk.kernel import idempotency
from dutydesk.kernel.errors import InvalidInput, NotFound
from dutydesk.kernel.route_index import direct_via, read_body
from dutydesk.models import Incident
from dutydesk.sla import queries as sla_queries

router = APIRouter(prefix="/api/v1", tags=["incidents"])
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
ACTIVE_TYPES = collaboration.ACTIVE_TYPES
_LIST_JSON = TypeAdapter(IncidentList)
_READ_JSON = TypeAdapter(IncidentRead).dump_json
# The fields of IncidentRead that are columns of Incident (the others have defaults).
_READ_COLUMNS = frozenset(IncidentRead.model_fields) & {
    a.key for a in Incident.__mapper__.column_attrs
}


_UNSET = dict.fromkeys(_READ_COLUMNS)  # a new row's columns it was not given: NULL


def _read(incident: Incident, actor: Actor, *, new: bool = False) -> IncidentRead:
    # A row whose columns are all loaded (a list page's rows) is read from its instance
    # dict: one descriptor call per field cost an eighth of a list page's CPU. So is a row
    # inserted in this transaction (`new`) with nothing expired: a column it was not given
    # is NULL (what its attribute answers too, with no query). Any other row with expired
    # or unloaded columns is read through its attributes.
    values: Any = incident.__dict__
    if not values.keys() >= _READ_COLUMNS:
        fresh = new and not sa_inspect(incident).expired_attributes
        values = {**_UNSET, **values} if fresh else incident
    read = IncidentRead.model_validate(values)
    read.allowed_actions = allowed_actions(Status(incident.state), actor.role)
    return read


def _presented(
    incident: Incident, actor: Actor, session: Session | None, *, new: bool = False
) -> IncidentRead:
    read = _read(incident, actor, new=new)
    if session is not None:
        read.sla = [ClockRead.model_validate(c) for c in sla_queries.clock_views(session, incident)]
        if actor.is_staff:
            found = escalation_queries.list_escalations(session, incident)
            read.escalations = [EscalationRead.model_validate(e) for e in found]
    return read


def present(incident: Incident, actor: Actor, session: Session | None = None) -> dict[str, Any]:
    """The incident as the API shows it; with a session, its SLA clocks (and, for staff, its
    escalations) too."""
    return _presented(incident, actor, session).model_dump(mode="json")


@dataclass(frozen=True)
class Written:
    """`present`'s answer already written as JSON, by pydantic's serializer in the thread
    that made it: the event loop only sends the bytes (encoding the dict there was a tenth
    of its time per create)."""

    body: bytes
    number: str
    version: int

    def response(self, status_code: int, **headers: str) -> Response:
        headers = {"ETag": f'"{self.version}"', **headers}
        return Response(self.body, status_code, headers, media_type="application/json")


def present_json(incident: Incident, actor: Actor, session: Session, *, new: bool) -> Written:
    """`new`: the incident was inserted in this transaction (see `_read`)."""
    read = _presented(incident, actor, session, new=new)
    return Written(_READ_JSON(read), read.number, read.version)


def with_etag(body: dict[str, Any], status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        body, status_code=status_code, headers={"ETag": f'"{body["version"]}"', **headers}
    )


def _ids(raw: str | None, name: str) -> list[int]:
    if not raw:
        return []
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise InvalidInput(
            f"{name} takes comma-separated ids", errors=[{"field": name, "msg": "not an id list"}]
        ) from exc


async def _create_direct(request: Request) -> Response:
    """`create_incident` as the route index calls it (kernel.route_index, `direct_via`):
    the same work without FastAPI's dependency solving, a quarter of the event loop's time
    per create."""
    body = await read_body(request, IncidentCreate)
    api = await api_context(request)
    return await _create(body, api, request.headers.get("idempotency-key"))


@router.post("/incidents", status_code=201, response_model=IncidentRead)
@direct_via(_create_direct)
async def create_incident(body: IncidentCreate, api: Api, key: IdemKey = None) -> Response:
    return await _create(body, api, key)


async def _create(body: IncidentCreate, api: ApiContext, key: str | None) -> Response:
    digest = ""  # the request's fingerprint, needed only with an Idempotency-Key
    if key is not None:
        payload = body.model_dump(mode="json", exclude_unset=True)
        digest = idempotency.request_hash("POST", "/api/v1/incidents", payload)
    retention = timedelta(hours=api.settings.idempotency_retention_hours)

    def work(session: Session, actor: Actor) -> tuple[int, dict[str, Any]]:
        record = None
        if key is not None and actor.user_id is not None:
            found = idempotency.begin(
                session, actor.user_id, idempotency.check_key(key), digest, retention=retention
            )
            if isinstance(found, idempotency.Replay):
                return -found.status_code, found.body
            record = found
        incident = service.open_incident(session, actor, body, settings=api.settings)
        session.flush()
        result = present(incident, actor, session)
        if record is not None:
            idempotency.finish(record, 201, result)
        return 201, result

    if key is None:  # with its neighbours in the group commit (`_open_many`)
        written = await api.merged_write(
            ("open_incident", api.token), _Create(api, body), _open_many
        )
        return written.response(201, Location=f"/api/v1/incidents/{written.number}")
    for _attempt in range(3):
        try:
            status_code, result = await api.write(work)
            break
        except idempotency.KeyInUse:
            continue  # the other request committed first: replay its response
    else:
        raise InvalidInput("the Idempotency-Key is in use by a request still running; retry")
    headers = {"Location": f"/api/v1/incidents/{result['number']}"}
    if status_code < 0:
        headers["Idempotent-Replayed"] = "true"
    return with_etag(result, abs(status_code), **headers)


@dataclass(frozen=True)
class _Create:
    api: ApiContext
    body: IncidentCreate


def _open_many(session: Session, creates: list[_Create]) -> list[Written]:
    """Creates with the same token that queued up together, opened as one group; if one of
    them fails, the group commit runs each alone (each request gets its own answer)."""
    requests = [(create.api.writer(session), create.body) for create in creates]
    opened = service.open_incidents(session, requests, settings=creates[0].api.settings)
    pairs = zip(opened, requests, strict=True)
    return [present_json(i, actor, session, new=True) for i, (actor, _) in pairs]


@router.get("/incidents", response_model=IncidentList)
async def list_incidents(
    api: Api,
    state: str | None = None,
    priority: str | None = None,
    group: str | None = None,
    assignee: str | None = None,
    customer: str | None = None,
    service_: Annotated[str | None, Query(alias="service")] = None,
    category: str | None = None,
    caller: str | None = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    opened_after: datetime | None = None,
    opened_before: datetime | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
    sort: str | None = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    count: bool = False,
) -> Response:
    for name, value in (
        ("opened_after", opened_after),
        ("opened_before", opened_before),
        ("updated_after", updated_after),
        ("updated_before", updated_before),
    ):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(
                "dates need a time zone", errors=[{"field": name, "msg": "add Z or an offset"}]
            )
    flt = queries.IncidentFilter(
        states=queries.parse_states(state),
        priorities=_ids(priority, "priority"),
        group_ids=_ids(group, "group"),
        assignee_ids=_ids(assignee, "assignee"),
        customer_ids=_ids(customer, "customer"),
        service_ids=_ids(service_, "service"),
        category_ids=_ids(category, "category"),
        caller_ids=_ids(caller, "caller"),
        text=text,
        opened_after=opened_after,
        opened_before=opened_before,
        updated_after=updated_after,
        updated_before=updated_before,
    )

    def work(session: Session, actor: Actor) -> bytes:
        page = queries.list_incidents(
            session, actor, flt, sort=sort, limit=limit, cursor=cursor, count=count
        )
        body = IncidentList(
            items=[_read(i, actor) for i in page.items],
            next_cursor=page.next_cursor,
            total=page.total if count else None,
        )
        # Written by pydantic's own JSON serializer in one pass: building the dicts of 50
        # items and encoding them with the json module cost 8 % more CPU per page.
        return _LIST_JSON.dump_json(body, exclude=None if count else {"total"})

    return Response(await api.read(work), media_type="application/json")


@router.get("/incidents/{number}", response_model=IncidentRead)
async def read_incident(number: str, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return present(queries.get_incident_for(session, actor, number), actor, session)

    return with_etag(await api.read(work))


@router.patch("/incidents/{number}", response_model=IncidentRead)
async def patch_incident(
    number: str, body: IncidentPatch, api: Api, if_match: IfMatch = None
) -> Response:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        service.check_version(incident, if_match, api.settings)
        service.amend_incident(session, actor, incident, body, settings=api.settings)
        session.flush()
        return present(incident, actor, session)

    return with_etag(await api.write(work))


@router.post("/incidents/{number}/actions/{action}", response_model=IncidentRead)
async def act_on_incident(
    number: str, action: str, api: Api, body: ActionRequest | None = None, if_match: IfMatch = None
) -> Response:
    request = body or ActionRequest()

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        actions.ensure_actor_may_act(actor, incident)
        service.check_version(incident, if_match, api.settings)
        result = actions.perform_action(
            session, actor, incident, action, request, settings=api.settings
        )
        session.flush()
        return present(result, actor, session)

    result = await api.write(work)
    if result["number"] != number:  # a reopen after the window opened a follow-up
        return with_etag(result, 201, Location=f"/api/v1/incidents/{result['number']}")
    return with_etag(result)


@router.get("/incidents/{number}/events", response_model=list[EventRead])
async def list_events(number: str, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = queries.get_incident_for(session, actor, number)
        out = []
        for event in queries.list_events(session, actor, incident):
            read = EventRead.model_validate(event)
            read.old = json.loads(event.old) if event.old is not None else None
            read.new = json.loads(event.new) if event.new is not None else None
            out.append(read.model_dump(mode="json"))
        return out

    return await api.read(work)


@router.get("/incidents/{number}/comments", response_model=list[CommentRead])
async def list_comments(number: str, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = queries.get_incident_for(session, actor, number)
        return [
            CommentRead.model_validate(c).model_dump(mode="json")
            for c in queries.list_comments(session, actor, incident)
        ]

    return await api.read(work)


@router.post("/incidents/{number}/comments", status_code=201, response_model=CommentRead)
async def add_comment(number: str, body: CommentCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        comment = collaboration.add_comment(
            session, actor, incident, body.body, body.visibility, settings=api.settings
        )
        return CommentRead.model_validate(comment).model_dump(mode="json")

    return await api.write(work)


@router.get("/incidents/{number}/attachments", response_model=list[AttachmentRead])
async def list_attachments(number: str, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = queries.get_incident_for(session, actor, number)
        return [
            AttachmentRead.model_validate(a).model_dump(mode="json")
            for a in queries.list_attachments(session, actor, incident)
        ]

    return await api.read(work)


@router.post("/incidents/{number}/attachments", status_code=201, response_model=AttachmentRead)
async def upload_attachment(
    number: str,
    api: Api,
    file: Annotated[UploadFile, File()],
    visibility: Annotated[str, Form()] = "public",
) -> dict[str, Any]:
    limit = api.settings.max_attachment_bytes
    data = await file.read(limit + 1)
    filename = file.filename or "attachment"

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        attachment = collaboration.attach_file(
            session,
            actor,
            incident,
            filename=filename,
            data=data,
            visibility=visibility,
            storage_dir=api.settings.storage_dir,
            max_bytes=limit,
        )
        return AttachmentRead.model_validate(attachment).model_dump(mode="json")

    return await api.write(work)


@router.get("/incidents/{number}/attachments/{attachment_id}")
async def download_attachment(number: str, attachment_id: int, api: Api) -> Response:
    found = await api.read(
        lambda s, a: queries.get_attachment_file_for(s, a, number, attachment_id)
    )
    return attachment_response(api.settings.storage_dir, *found)


def attachment_response(
    storage_dir: Path, storage_name: str, filename: str, content_type: str
) -> Response:
    """The stored file as a download that a browser never renders (API and web pages)."""
    path = storage_dir / storage_name
    if not path.is_file():
        raise NotFound("the attachment's file is missing from storage")
    if content_type in ACTIVE_TYPES or content_type.startswith("text/html"):
        content_type = "application/octet-stream"
    disposition = f"attachment; filename=\"{quote(filename)}\"; filename*=UTF-8''{quote(filename)}"
    return FileResponse(
        path,
        media_type=content_type,
        headers={
            "Content-Disposition": disposition,
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/incidents/{number}/links", response_model=list[LinkRead])
async def list_links(number: str, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = queries.get_incident_for(session, actor, number)
        return [
            LinkRead.model_validate(v).model_dump(mode="json")
            for v in queries.list_links(session, actor, incident)
        ]

    return await api.read(work)


@router.post("/incidents/{number}/links", status_code=201, response_model=LinkRead)
async def add_link(number: str, body: LinkCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        other = queries.get_incident_for(session, actor, body.number, for_update=True)
        link = collaboration.link_incidents(session, actor, incident, other, body.kind)
        return LinkRead(
            number=other.number,
            kind=link.kind,
            direction="outgoing",
            short_description=other.short_description,
            state=other.state,
        ).model_dump(mode="json")

    return await api.write(work)


# ------------------------------------------------------------ admin: rules


def _matrix_read(cells: tuple[tuple[int, ...], ...]) -> dict[str, Any]:
    labels = {"1": "highest", str(len(cells)): "lowest"}
    return PriorityMatrixRead(
        levels=len(cells), cells=[list(r) for r in cells], labels=labels
    ).model_dump()


@router.get("/admin/priority-matrix", response_model=PriorityMatrixRead, tags=["admin"])
async def read_priority_matrix(api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        return _matrix_read(rules.get_priority_matrix(session).cells)

    return await api.read(work)


@router.put("/admin/priority-matrix", response_model=PriorityMatrixRead, tags=["admin"])
async def write_priority_matrix(body: PriorityMatrixWrite, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _matrix_read(rules.set_priority_matrix(session, actor, body.cells).cells)

    return await api.write(work)


@router.get("/admin/logging-checklist", response_model=ChecklistRead, tags=["admin"])
async def read_checklist(api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        return {"required": list(rules.get_checklist(session)), "available": list(CHECKLIST_FIELDS)}

    return await api.read(work)


@router.put("/admin/logging-checklist", response_model=ChecklistRead, tags=["admin"])
async def write_checklist(body: ChecklistWrite, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        required = rules.set_checklist(session, actor, body.required)
        return {"required": list(required), "available": list(CHECKLIST_FIELDS)}

    return await api.write(work)
