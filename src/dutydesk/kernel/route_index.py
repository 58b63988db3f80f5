"""A prefix index in front of the app's routes, so a request does not try every route.

FastAPI 0.165 routes a request by asking each included router in turn whether one of its
routes matches, at about 2 µs per route (scope bookkeeping around each regex); a request
for a route near the end of the table (`POST /api/v1/events`, 14th router) paid 150-300 µs
before its endpoint ran, more than a bare FastAPI endpoint spends on a whole request.

`RouteIndex` is put first in the app's routes. For a request it asks only the routes whose
literal path prefix (the path up to its first `{parameter}`) the request's path starts
with, in table order, and answers with the first that matches fully, which is the route
the router's own loop would have picked, since a route whose literal prefix the path does
not start with cannot match it. When it cannot be sure it answers "no match" and the
router goes on with its own loop over every route, as before:

* nothing matches fully (a 404, a 405 from a partial match, a slash redirect, a
  low-priority route);
* a route that is not an included router (an app-level route, a mount) could match first:
  the router's loop also reports such a route to telemetry, which this index does not do;
* the app runs under a `root_path`, or the request is not HTTP.

It takes no part in URL building or the OpenAPI document (both skip routes of other kinds).

**Direct endpoints.** Even once found, a request to an included router's route went
through FastAPI's matching of that router again (scope bookkeeping per candidate, route
versions, telemetry lookups) and its request handler (dependency solving, exit stacks,
exception wrappers): ~40 µs of a monitoring event's ~95 µs in the app, more than the
receiver's own work. An endpoint marked with :func:`direct` takes only the request (and
its path parameters, as strings) and returns a response itself, so none of that does
anything for it: the index matches such a route with the route's own path pattern, sets
the scope keys FastAPI would (``endpoint``, ``route``, ``path_params``) and calls the
endpoint. What is outside the router is unchanged: the middlewares run and an exception
goes to the app's exception handlers as before. The route stays registered as usual, so
the OpenAPI document, URL building and the router's own loop (when the index defers) keep
serving it; only FastAPI's per-route telemetry does not see these requests.

An endpoint whose signature FastAPI needs (a body model, headers, dependencies: for its
OpenAPI document, say) can name a *direct twin* with :func:`direct_via`: a function that
takes only the request (and the path parameters) and does the same, reading the body with
:func:`read_body`, which parses and validates it as FastAPI's request handler does and
fails with the same errors. The index calls the twin; the route, its documentation and the
router's own loop keep the declared endpoint.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi._body_limit import get_body_limit_error  # what FastAPI's handler uses
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.convertors import Convertor
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound, compile_path
from starlette.types import Receive, Scope, Send

SELECTED = "dutydesk.route"  # scope key: the route the index picked, for `handle`
DIRECT = "__dutydesk_direct__"  # attribute of an endpoint the index may call directly
DIRECT_VIA = "__dutydesk_direct_via__"  # attribute of an endpoint: its direct twin
E = TypeVar("E", bound=Callable[..., Awaitable[Response]])
M = TypeVar("M", bound=BaseModel)


def direct(endpoint: E) -> E:
    """Mark an endpoint `async def f(request: Request, **path params: str) -> Response` as
    one the index calls itself (see the module's docstring). Checked when the index is
    built: any other parameter would need FastAPI's dependency solving."""
    setattr(endpoint, DIRECT, True)
    return endpoint


def direct_via(twin: Callable[..., Awaitable[Response]]) -> Callable[[E], E]:
    """Mark an endpoint as served by `twin` when the index calls it directly (see the
    module's docstring); `twin` takes what a :func:`direct` endpoint takes."""

    def mark(endpoint: E) -> E:
        setattr(endpoint, DIRECT_VIA, twin)
        return endpoint

    return mark


_NO_BODY = object()  # an empty body (JSON null is a value, and invalid)


def _strict(request: Request) -> bool:
    """The route's ``strict_content_type`` (FastAPI's default: True)."""
    value = getattr(request.scope.get("route"), "strict_content_type", True)
    return bool(getattr(value, "value", value))  # unset: a DefaultPlaceholder


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = kind.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def read_body(request: Request, model: type[M]) -> M:
    """The request's body as `model`, read the way FastAPI's request handler (0.165) reads
    a required body parameter: JSON when the content type is JSON (a missing one counts as
    JSON only on a route with ``strict_content_type=False``), the raw bytes otherwise; the
    same errors for malformed JSON, an unreadable or oversized body, a missing one and
    invalid fields (``RequestValidationError`` with ``body`` first in each location), so
    the app's handlers answer both paths alike (a test compares them)."""
    data: Any = _NO_BODY
    try:
        raw = await request.body()
        if raw:
            data = raw
            content_type = request.headers.get("content-type")
            if _is_json(content_type) if content_type else not _strict(request):
                data = json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        context = {"input": {}, "ctx": {"error": exc.msg}}
        raise RequestValidationError([{**error, **context}]) from None
    except HTTPException:
        raise
    except Exception as exc:
        if MAX_BODY_SIZE_SCOPE_KEY in request.scope and (limit := get_body_limit_error(exc)):
            raise limit from exc
        raise HTTPException(400, "There was an error parsing the body") from exc
    if data is _NO_BODY:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


@dataclass(frozen=True)
class _Direct:
    """A route whose endpoint the index calls itself."""

    route: BaseRoute
    endpoint: Callable[..., Awaitable[Response]]  # what the index calls
    declared: Any  # the route's own endpoint (the same, or the one `endpoint` is a twin of)
    methods: frozenset[str]
    prefix: str  # the literal part of the path, before its first parameter
    pattern: re.Pattern[str] | None  # None: the path is the literal prefix alone
    convertors: dict[str, Convertor[Any]]

    def match(self, scope: Scope) -> dict[str, Any] | None:
        """The path parameters when the request is for this route (path and method)."""
        if scope["method"] not in self.methods:
            return None
        if self.pattern is None:
            return {} if scope["path"] == self.prefix else None
        found = self.pattern.match(scope["path"])
        if found is None:
            return None
        return {k: self.convertors[k].convert(v) for k, v in found.groupdict().items()}


def _direct_of(context: Any) -> _Direct | None:
    route = getattr(context, "original_route", None)
    declared = getattr(route, "endpoint", None)
    endpoint = getattr(declared, DIRECT_VIA, None)
    if endpoint is None and getattr(declared, DIRECT, False):
        endpoint = declared
    if route is None or endpoint is None:
        return None
    path = str(context.path_format)
    pattern, _format, convertors = compile_path(path)
    parameters = list(inspect.signature(endpoint).parameters.values())
    if getattr(context, "dependencies", None) or getattr(context, "max_body_size", None):
        raise TypeError(
            f"{endpoint.__qualname__} is marked direct but its router adds dependencies or "
            "a body limit, which only FastAPI's request handler applies"
        )
    if (
        not parameters
        or parameters[0].annotation not in (Request, "Request")
        or {p.name for p in parameters[1:]} != set(convertors)
        or any(p.annotation not in (str, "str") for p in parameters[1:])
    ):
        raise TypeError(
            f"{endpoint.__qualname__} is marked direct but does not take just the request "
            f"and the path's parameters {sorted(convertors)} as str"
        )
    return _Direct(
        route=route,
        endpoint=endpoint,
        declared=declared,
        methods=frozenset(getattr(route, "methods", None) or ()),
        prefix=literal_prefix(path),
        pattern=pattern if convertors else None,
        convertors=convertors,
    )


def literal_prefix(path_format: str) -> str:
    """The part of a route's path before its first parameter."""
    return path_format.split("{", 1)[0]


def _prefixes(route: BaseRoute) -> tuple[str, ...] | None:
    """Literal prefixes of every path an included router serves; None for other routes."""
    contexts = getattr(route, "effective_route_contexts", None)
    if contexts is None:
        return None
    found = {literal_prefix(str(getattr(c, "path_format", "") or "")) for c in contexts()}
    return tuple(sorted(found))


def _contexts(route: BaseRoute) -> list[Any]:
    """What a route serves, in the order its loop tries it: an included router's effective
    routes, or the route itself."""
    contexts = getattr(route, "effective_route_contexts", None)
    return list(contexts()) if contexts is not None else [route]


def _may_take(rival: Any, entry: _Direct) -> bool:
    """Whether `rival` (tried before `entry`) could match a request `entry` matches: by its
    path pattern for an entry without parameters, by overlapping literal prefixes
    otherwise (a cautious answer: the entry is then simply not called directly)."""
    path = getattr(rival, "path_format", None)
    methods = getattr(getattr(rival, "original_route", rival), "methods", None)
    if path is None:  # a route of another kind (a host, say): maybe
        return True
    if isinstance(rival, Mount):  # it takes every path below its own
        return str(path).startswith(entry.prefix) or entry.prefix.startswith(str(path))
    if methods is not None and not entry.methods & set(methods):
        return False
    prefix = literal_prefix(str(path))
    if entry.pattern is None:
        return compile_path(str(path))[0].match(entry.prefix) is not None
    return prefix.startswith(entry.prefix) or entry.prefix.startswith(prefix)


def _direct_table(routes: Sequence[BaseRoute]) -> dict[str, list[_Direct]]:
    """The direct endpoints by literal prefix, each only if nothing tried before it (in
    the router's order) could match a request it matches."""
    table: dict[str, list[_Direct]] = {}
    before: list[Any] = []
    for route in routes:
        for context in _contexts(route):
            entry = _direct_of(context)
            if entry is not None and not any(_may_take(rival, entry) for rival in before):
                table.setdefault(entry.prefix, []).append(entry)
            before.append(context)
    return table


class RouteIndex(BaseRoute):
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = list(routes)
        self._entries: list[tuple[tuple[str, ...] | None, BaseRoute]] | None = None
        self._direct: dict[str, list[_Direct]] = {}

    def _table(self) -> list[tuple[tuple[str, ...] | None, BaseRoute]]:
        # Built at the first request: the routers' effective routes exist by then.
        if self._entries is None:
            self._direct = _direct_table(self.routes)
            self._entries = [(_prefixes(route), route) for route in self.routes]
        return self._entries

    def _find_direct(self, scope: Scope) -> tuple[_Direct, dict[str, Any]] | None:
        path = scope["path"]
        entries = self._direct.get(path)  # a path without parameters: the common case
        if entries is None:
            entries = [
                e for prefix, es in self._direct.items() if path.startswith(prefix) for e in es
            ]
        for entry in entries:
            params = entry.match(scope)
            if params is not None:
                return entry, params
        return None

    def find(self, scope: Scope) -> tuple[BaseRoute | None, Scope]:
        """The route the router's loop would pick with a full match, or None when the
        index cannot tell (see the module's docstring)."""
        if scope["type"] != "http" or scope.get("root_path"):
            return None, {}
        path = scope["path"]
        for prefixes, route in self._table():
            if prefixes is None:
                if getattr(route, "path_format", None) is None or path.startswith(
                    literal_prefix(route.path_format)  # type: ignore[attr-defined]
                ):
                    return None, {}  # it might match: leave it to the router's loop
                continue
            if not path.startswith(prefixes):
                continue
            match, child = route.matches(scope)
            if match == Match.FULL:
                return route, child
        return None, {}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self._entries is None:
            self._table()  # the direct table too, so the first request may go direct
        if self._direct and scope["type"] == "http" and not scope.get("root_path"):
            found = self._find_direct(scope)
            if found is not None:
                entry, params = found
                picked = {"endpoint": entry.declared, "route": entry.route, "path_params": params}
                return Match.FULL, {**picked, SELECTED: entry}
        route, child = self.find(scope)
        if route is None:
            return Match.NONE, {}
        return Match.FULL, {**child, SELECTED: route}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute | _Direct = scope.pop(SELECTED)
        if isinstance(route, _Direct):
            request = Request(scope, receive, send)
            response = await route.endpoint(request, **scope["path_params"])
            await response(scope, receive, send)
            return
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)
