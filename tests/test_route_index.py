"""The route index picks, for every path the app serves, the route the router's own loop
would pick, or leaves the request to that loop; it never picks another one."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel.route_index import RouteIndex, literal_prefix

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ODD_PATHS = [
    "/",
    "/nope",
    "/api/v1",
    "/api/v1/",
    "/api/v1/nope",
    "/api/v1/events/",
    "/api/v1/incidents/INC0000001/nope",
    "/static/../../etc/passwd",
    "/integrations/alertmanager/",
    "/v2/enqueue/extra",
    "/healthz",
    "/metrics",
]


def scope(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
        "app": app,
    }


def loop_pick(routes: list[BaseRoute], sc: dict[str, Any]) -> BaseRoute | None:
    """What the router's loop does: the first route that matches fully."""
    for route in routes:
        match, _child = route.matches(dict(sc))
        if match == Match.FULL:
            return route
    return None


def served_paths(app: FastAPI) -> list[str]:
    paths = set(ODD_PATHS)
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        formats = [getattr(c, "path_format", None) for c in contexts()] if contexts else []
        formats.append(getattr(route, "path_format", None))
        for fmt in filter(None, formats):
            paths.add(re.sub(r"\{[^}]+\}", "x1", str(fmt)))
            paths.add(re.sub(r"\{[^}]+\}", "INC0000001", str(fmt)))
    return sorted(paths)


def test_the_index_picks_what_the_loop_picks(settings: Settings, db: Database) -> None:
    app = create_app(settings, db)
    index, *routes = app.router.routes
    assert isinstance(index, RouteIndex)
    picked = deferred = 0
    for path in served_paths(app):
        for method in METHODS:
            sc = scope(app, method, path)
            expected = loop_pick(routes, sc)
            got, _child = index.find(dict(sc))
            if got is None:
                deferred += 1
                # only an app-level route, or no full match at all, is left to the loop
                assert expected is None or not hasattr(expected, "effective_route_contexts")
                continue
            assert got is expected, (method, path)
            picked += 1
    assert picked > 300 and deferred > 50  # both ways were taken


def test_receivers_and_the_api_are_found_by_the_index(settings: Settings, db: Database) -> None:
    app = create_app(settings, db)
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    for method, path in [
        ("POST", "/api/v1/events"),
        ("POST", "/integrations/alertmanager/tok"),
        ("POST", "/v2/enqueue"),
        ("POST", "/api/v1/incidents"),
        ("GET", "/api/v1/incidents/INC0000001"),
    ]:
        route, _child = index.find(scope(app, method, path))
        assert route is not None, path
    # the index is invisible to URL building and to the OpenAPI document
    assert app.url_path_for("healthz") == "/healthz"
    assert "/api/v1/events" in app.openapi()["paths"]


def test_literal_prefix() -> None:
    assert literal_prefix("/api/v1/incidents/{number}/events") == "/api/v1/incidents/"
    assert literal_prefix("/api/v1/events") == "/api/v1/events"
    assert literal_prefix("/static/{path:path}") == "/static/"
