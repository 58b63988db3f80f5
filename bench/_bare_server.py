"""The baseline for api_create: a bare FastAPI app that validates the same JSON body with the
same Pydantic model as ``POST /api/v1/incidents`` and echoes it back, nothing else.

Served exactly like ``dutydesk serve``: uvicorn, one process, loop/http "auto" (uvloop and
httptools when installed), access log off, proxy headers off.
"""

from __future__ import annotations

from _common import serve_baseline
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from dutydesk.incidents.schemas import IncidentCreate

app = FastAPI(title="bare")


@app.post("/api/v1/incidents", status_code=201)
async def create_incident(body: IncidentCreate) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=201)


@app.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


def main() -> None:
    serve_baseline(app)


if __name__ == "__main__":
    main()
