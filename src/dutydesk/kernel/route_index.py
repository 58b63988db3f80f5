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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

SELECTED = "dutydesk.route"  # scope key: the route the index picked, for `handle`


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


class RouteIndex(BaseRoute):
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = list(routes)
        self._entries: list[tuple[tuple[str, ...] | None, BaseRoute]] | None = None

    def _table(self) -> list[tuple[tuple[str, ...] | None, BaseRoute]]:
        # Built at the first request: the routers' effective routes exist by then.
        if self._entries is None:
            self._entries = [(_prefixes(route), route) for route in self.routes]
        return self._entries

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
        route, child = self.find(scope)
        if route is None:
            return Match.NONE, {}
        return Match.FULL, {**child, SELECTED: route}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(SELECTED)
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)
