"""Request plumbing for the API: who is calling, and running their work in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated, TypeVar

import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from dutydesk.access.policy import Actor, require_write_scope
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Unauthorized
from dutydesk.kernel.group_commit import GroupCommit
from dutydesk.kernel.problems import REQUEST_ID_RE, new_request_id
from dutydesk.people import queries as people
from dutydesk.people import service as people_service
from dutydesk.people.secrets import hash_token

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741  # an item of merged writes
ACTORS = "dutydesk.actors"  # session.info key: actors authenticated in this transaction


@dataclass
class Runtime:
    """What every request needs, built once per app."""

    settings: Settings
    db: Database
    committer: GroupCommit | None = None

    def writes(self) -> GroupCommit:
        if self.committer is None:
            self.committer = GroupCommit(
                self.db, writers=self.settings.write_concurrency or self.db.writers
            )
        return self.committer

    def close(self) -> None:
        if self.committer is not None:
            self.committer.close()


def request_id_of(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID_RE.match(given) else new_request_id()


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
        token_hash = hash_token(self.token)
        known: dict[str, Actor] = session.info.setdefault(ACTORS, {})
        if token_hash in known:  # the same token earlier in this transaction (group commit)
            return replace(known[token_hash], request_id=self.request_id)
        found = people.find_active_token(session, token_hash)
        if found is None:
            raise Unauthorized("the API token is unknown, revoked, or its user is disabled")
        token, user = found
        stale = token.last_used_at is None or clock.now() - token.last_used_at > timedelta(
            seconds=self.settings.token_touch_seconds
        )
        if stale and write:
            people_service.touch_token(session, token.id)
        self.touch_later = token.id if stale and not write else None
        actor = people.build_actor(
            session, user, scope=token.scope, channel="api", request_id=self.request_id
        )
        session.info.setdefault(ACTORS, {})[token_hash] = actor
        return actor

    def writer(self, session: Session) -> Actor:
        """The caller, authenticated in a write transaction; every writing endpoint needs
        the token's write scope, whatever it does."""
        actor = self._authenticate(session, write=True)
        require_write_scope(actor)
        return actor

    def _job(self, fn: Callable[[Session, Actor], T]) -> Callable[[Session], T]:
        def job(session: Session) -> T:
            return fn(session, self.writer(session))

        return job

    def _read(self, fn: Callable[[Session, Actor], T]) -> T:
        with self.runtime.db.unit_of_work(write=False) as session:
            result = fn(session, self._authenticate(session, write=False))
        touch = self.touch_later
        if touch is not None:
            with self.runtime.db.unit_of_work(write=True) as session:
                people_service.touch_token(session, touch)
        return result

    async def read(self, fn: Callable[[Session, Actor], T]) -> T:
        return await anyio.to_thread.run_sync(self._read, fn)

    async def write(self, fn: Callable[[Session, Actor], T]) -> T:
        """Run a write in the group commit: one transaction, shared with concurrent writes."""
        return await self.runtime.writes().run(self._job(fn))

    async def anonymous_write(self, fn: Callable[[Session], T]) -> T:
        return await self.runtime.writes().run(fn)

    async def merged_write(
        self, key: Hashable, item: I, many: Callable[[Session, list[I]], list[T]]
    ) -> T:
        """An anonymous write that may run in one call with its queued neighbours of the same
        key (`GroupCommit.run_merged`)."""
        return await self.runtime.writes().run_merged(key, item, many)


# What an actor is made of: a change to any of these rows in a transaction forgets the actors
# authenticated earlier in it, so a job queued behind "disable user" or "revoke token" in the
# same group commit is authenticated afresh.
AUTH_TABLES = frozenset({"user_account", "api_token", "group_member", "agent_customer", "customer"})


def _touches_auth(instances: Iterable[object]) -> bool:
    return any(
        getattr(getattr(obj, "__table__", None), "name", None) in AUTH_TABLES for obj in instances
    )


@event.listens_for(Session, "after_flush")
def _forget_actors_after_flush(session: Session, _context: object) -> None:
    if ACTORS in session.info and _touches_auth([*session.new, *session.dirty, *session.deleted]):
        session.info.pop(ACTORS, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_actors_on_statement(state: ORMExecuteState) -> None:
    if ACTORS not in state.session.info or not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in AUTH_TABLES:
        state.session.info.pop(ACTORS, None)


async def api_context(request: Request) -> ApiContext:
    runtime: Runtime = request.app.state.runtime
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else None
    rid = getattr(request.state, "request_id", None) or request_id_of(request)
    return ApiContext(runtime=runtime, token=token, request_id=rid)


Api = Annotated[ApiContext, Depends(api_context)]
