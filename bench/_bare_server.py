"""The baseline for api_create: a bare FastAPI app that validates the same JSON body with the
same Pydantic model as ``POST /api/v1/incidents`` and echoes it back, nothing else.

Served exactly like ``dutydesk serve``: uvicorn, one process, loop/http "auto" (uvloop and
httptools when installed), access log off, proxy headers off.
"""

from __future__ import annotations

import argparse

import uvicorn
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        log_level=args.log_level,
        proxy_headers=False,
        access_log=args.log_level == "debug",
    )


if __name__ == "__main__":
    main()
