"""The "plain ORM insert" baseline for api_create: a FastAPI endpoint that validates the same
JSON body with the same Pydantic model as ``POST /api/v1/incidents`` and inserts it as ONE
row of the real ``Incident`` model (same table, same indexes) with SQLAlchemy's ORM, one
commit per request, and answers 201 with the body plus the new id and number.

Deliberately nothing else: no token, no logging checklist, no priority matrix (a trivial
formula), no number counter row (a process counter), no history, no SLA clocks. The endpoint
is ``async def`` and uses a synchronous ``Session`` on the event loop, so it runs without the
thread pool, one request at a time. The engine comes from ``dutydesk.db.make_engine`` (on
SQLite: WAL, synchronous FULL, foreign keys on; on PostgreSQL: psycopg 3 and its pool), on
the database ``DUTYDESK_DATABASE_URL`` names; the benchmark gives it a database of its own.

Served exactly like ``dutydesk serve`` and ``_bare_server.py``: uvicorn, one process,
loop/http "auto" (uvloop and httptools when installed), access log off, proxy headers off.
"""

from __future__ import annotations

import itertools

from _common import serve_baseline
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dutydesk.db import make_engine
from dutydesk.incidents.schemas import IncidentCreate
from dutydesk.kernel import clock
from dutydesk.models import Incident

app = FastAPI(title="plain")

_engine: Engine | None = None
_numbers: itertools.count[int] = itertools.count(1)


def _setup(database_url: str) -> None:
    """The engine, and the number counter started past the highest incident id."""
    global _engine, _numbers
    _engine = make_engine(database_url)
    with _engine.connect() as conn:
        highest = conn.execute(select(func.max(Incident.id))).scalar_one_or_none() or 0
    _numbers = itertools.count(highest + 1)


@app.post("/api/v1/incidents", status_code=201)
async def create_incident(body: IncidentCreate) -> JSONResponse:
    assert _engine is not None
    impact = body.impact or 3
    urgency = body.urgency or 3
    now = clock.now()
    incident = Incident(
        number=f"PLN{next(_numbers):09d}",
        short_description=body.short_description,
        description=body.description,
        channel=str(body.channel or "api"),
        caller_id=body.caller_id,
        customer_id=body.customer_id,
        service_id=body.service_id,
        ci_id=body.ci_id,
        category_id=body.category_id,
        subcategory_id=body.subcategory_id,
        impact=impact,
        urgency=urgency,
        priority=max(1, min(5, impact + urgency - 1)),
        assignment_group_id=body.assignment_group_id,
        assignee_id=body.assignee_id,
        state="new",
        escalation_level=1,
        reopen_count=0,
        reassignment_count=0,
        opened_at=now,
        updated_at=now,
        version=1,
        history_count=0,
        history_head="",
        is_service_request=False,
    )
    # expire_on_commit=False: the id set by the INSERT is read back without a second query.
    with Session(_engine, expire_on_commit=False) as session:
        session.add(incident)
        session.commit()
    out = body.model_dump(mode="json")
    out["id"] = incident.id
    out["number"] = incident.number
    return JSONResponse(out, status_code=201)


@app.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


def main() -> None:
    serve_baseline(app, _setup)


if __name__ == "__main__":
    main()
