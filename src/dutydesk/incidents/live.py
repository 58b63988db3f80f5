"""Live updates by server-sent events, with no broker: the database is the message bus.

``GET /live`` (``?incident=INC…`` for one incident; without it, every incident the user may
see, which is what the board and the queues need) keeps a ``text/event-stream`` open and,
every ``live_poll_seconds``, asks the database in one indexed query which incidents the user
may see have a newer ``updated_at`` than the last check (``ix_incident_updated_at_id``: a range
scan over the last few seconds' changes, whatever the table's size). It sends

    event: changed
    data: INC0000012 INC0000015

naming them, and pages re-fetch their own block. Every web process polls for itself, so
changes written by any process are seen once committed. ``updated_at`` is stamped before the
(group) commit, so each check looks back ``LOOKBACK`` and remembers the versions it has
already announced. The stream checks the session at every poll and ends with
``event: signedout`` when it is gone; it sends a comment as heartbeat, ends after
``live_max_seconds`` (the browser reconnects) and when the client goes away; a process holds
at most ``live_max_streams`` streams (503 beyond).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, incident_visibility
from dutydesk.kernel import clock
from dutydesk.models import Incident
from dutydesk.people import sessions
from dutydesk.web.context import SignedIn, WebUser

router = APIRouter(include_in_schema=False)
LOOKBACK = timedelta(seconds=10)  # longer than a write transaction takes to commit
BATCH = 200  # changed rows read per check at most
RETRY_MS = 2000  # how soon the browser reconnects after a stream ends


def changed_since(
    session: Session, actor: Actor, since: datetime, number: str | None = None
) -> list[tuple[str, int, datetime]]:
    """(number, version, updated_at) of the incidents the actor may see updated after `since`,
    oldest first (an index range scan on ``updated_at``, then the visibility clause)."""
    query = select(Incident.number, Incident.version, Incident.updated_at).where(
        Incident.updated_at > since, incident_visibility(actor)
    )
    if number is not None:
        query = query.where(Incident.number == number)
    rows = session.execute(query.order_by(Incident.updated_at, Incident.id).limit(BATCH))
    return [(n, v, u) for n, v, u in rows]


@dataclass
class Watch:
    """What one stream has seen: a watermark and the versions announced within the lookback."""

    number: str | None
    since: datetime
    floor: datetime | None = None
    seen: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def absorb(self, rows: list[tuple[str, int, datetime]]) -> list[str]:
        """Remember `rows`; returns the numbers not announced before at this version."""
        fresh = [n for n, v, _ in rows if self.seen.get(n, (None,))[0] != v]
        for number, version, updated in rows:
            self.seen[number] = (version, updated)
            self.since = max(self.since, updated)
        if len(rows) >= BATCH:  # a burst: move on past it rather than reading it again
            self.floor = rows[-1][2]
        low = self.lower_bound()
        self.seen = {n: s for n, s in self.seen.items() if s[1] > low}
        return fresh

    def lower_bound(self) -> datetime:
        low = self.since - LOOKBACK
        return max(low, self.floor) if self.floor is not None else low


def _check(user: WebUser, watch: Watch) -> list[str] | None:
    """One poll: None when the session has ended, else the numbers changed since the last."""
    with user.runtime.db.unit_of_work(write=False) as session:
        if sessions.resume(session, user.settings, user.token) is None:
            return None
        rows = changed_since(session, user.actor, watch.lower_bound(), watch.number)
    return watch.absorb(rows)


def event(name: str, data: str = "") -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


async def stream(request: Request, user: WebUser, watch: Watch) -> AsyncIterator[bytes]:
    settings = user.settings
    state = request.app.state
    state.live_streams = getattr(state, "live_streams", 0) + 1
    try:
        await anyio.to_thread.run_sync(_check, user, watch)  # what is already there
        yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
        started = last_sent = time.monotonic()
        while time.monotonic() - started < settings.live_max_seconds:
            await anyio.sleep(settings.live_poll_seconds)
            if await request.is_disconnected():
                return
            fresh = await anyio.to_thread.run_sync(_check, user, watch)
            if fresh is None:
                yield event("signedout")
                return
            if fresh:
                yield event("changed", " ".join(fresh))
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= settings.live_heartbeat_seconds:
                yield b": heartbeat\n\n"
                last_sent = time.monotonic()
    finally:
        state.live_streams -= 1


@router.get("/live")
async def live(
    request: Request,
    user: SignedIn,
    incident: Annotated[str | None, Query(max_length=20, pattern=r"^[A-Za-z0-9-]+$")] = None,
) -> Response:
    if "text/event-stream" not in request.headers.get("accept", ""):
        return Response(  # a link followed or a page fetch, not an EventSource: no endless body
            "this is an event stream: open it with EventSource (Accept: text/event-stream)",
            status_code=406,
            media_type="text/plain",
        )
    state = request.app.state
    open_streams: int = getattr(state, "live_streams", 0)
    if open_streams >= user.settings.live_max_streams:
        return Response(
            "too many live streams; retry later",
            status_code=503,
            media_type="text/plain",
            headers={"Retry-After": "5"},
        )
    watch = Watch(number=incident, since=clock.now())
    return StreamingResponse(
        stream(request, user, watch),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
