"""Request plumbing for the API: who is calling, and running their work in one transaction."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, TypeVar

import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_write_scope
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Unauthorized
from dutydesk.people import queries as people
from dutydesk.people import service as people_service
from dutydesk.people.secrets import hash_token

T = TypeVar("T")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


@dataclass
class Runtime:
    """What every request needs, built once per app."""

    settings: Settings
    db: Database
    write_gate: asyncio.Semaphore | None = None

    def gate(self) -> asyncio.Semaphore:
        if self.write_gate is None:
            n = self.settings.write_concurrency or (
                1 if self.db.engine.dialect.name == "sqlite" else 8
            )
            self.write_gate = asyncio.Semaphore(n)
        return self.write_gate


def request_id_of(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID_RE.match(given) else secrets.token_hex(8)


@dataclass
class ApiContext:
    runtime: Runtime
    token: str | None
    request_id: str
    touch_later: int | None = None

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def _authenticate(self, session: Session, *, write: bool) -> Actor:
        if not self.token:
            raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
        found = people.find_active_token(session, hash_token(self.token))
        if found is None:
            raise Unauthorized("the API token is unknown, revoked, or its user is disabled")
        token, user = found
        stale = token.last_used_at is None or clock.now() - token.last_used_at > timedelta(
            seconds=self.settings.token_touch_seconds
        )
        if stale and write:
            people_service.touch_token(session, token.id)
        self.touch_later = token.id if stale and not write else None
        return people.build_actor(
            session, user, scope=token.scope, channel="api", request_id=self.request_id
        )

    def _run(self, fn: Callable[[Session, Actor], T], write: bool) -> T:
        with self.runtime.db.unit_of_work(write=write) as session:
            actor = self._authenticate(session, write=write)
            if write:
                require_write_scope(actor)  # every writing endpoint, whatever it does
            result = fn(session, actor)
        touch = self.touch_later
        if touch is not None:
            with self.runtime.db.unit_of_work(write=True) as session:
                people_service.touch_token(session, touch)
        return result

    async def read(self, fn: Callable[[Session, Actor], T]) -> T:
        return await anyio.to_thread.run_sync(self._run, fn, False)

    async def write(self, fn: Callable[[Session, Actor], T]) -> T:
        async with self.runtime.gate():
            return await anyio.to_thread.run_sync(self._run, fn, True)

    async def anonymous_write(self, fn: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.runtime.db.unit_of_work(write=True) as session:
                return fn(session)

        async with self.runtime.gate():
            return await anyio.to_thread.run_sync(run)


async def api_context(request: Request) -> ApiContext:
    runtime: Runtime = request.app.state.runtime
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else None
    rid = getattr(request.state, "request_id", None) or request_id_of(request)
    return ApiContext(runtime=runtime, token=token, request_id=rid)


Api = Annotated[ApiContext, Depends(api_context)]
