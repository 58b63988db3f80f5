"""The route index picks, for every path the app serves, the route the router's own loop
would pick, or leaves the request to that loop; it never picks another one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Match, compile_path

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel.route_index import SELECTED, RouteIndex, _Direct, direct, literal_prefix

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


# ----------------------------------------------------------------- direct endpoints


def first_context(router: BaseRoute, method: str, path: str) -> Any:
    """What the router's own loop would run: its first route serving method and path."""
    for context in router.effective_route_contexts():  # type: ignore[attr-defined]
        methods = getattr(context.original_route, "methods", None) or set()
        if method in methods and compile_path(context.path_format)[0].match(path):
            return context
    return None


def test_direct_endpoints_are_the_ones_the_loop_would_run(settings: Settings, db: Database) -> None:
    app = create_app(settings, db)
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    paths = [*served_paths(app), "/integrations/alertmanager/a.b-c_d", "/v2/enqueue"]
    direct_hits = 0
    for path in paths:
        for method in METHODS:
            sc = scope(app, method, path)
            _match, child = index.matches(dict(sc))
            entry = child.get(SELECTED)
            if not isinstance(entry, _Direct):
                continue
            direct_hits += 1
            router, _child = index.find(dict(sc))
            assert router is not None, (method, path)
            context = first_context(router, method, path)
            assert context is not None and context.original_route.endpoint is entry.declared
            assert child["route"] is context.original_route
            assert child["endpoint"] is entry.declared
    names = {e.declared.__name__ for es in index._direct.values() for e in es}
    assert names == {"post_events", "alertmanager_webhook", "pagerduty_enqueue", "create_incident"}
    twins = {e.endpoint.__name__ for es in index._direct.values() for e in es} - names
    assert twins == {"_create_direct"}
    assert direct_hits >= 3
    # the path parameters are the route's own (its convertors), never a deeper path
    _m, child = index.matches(scope(app, "POST", "/integrations/alertmanager/tok"))
    assert child["path_params"] == {"token": "tok"}
    _m, child = index.matches(scope(app, "POST", "/integrations/alertmanager/tok/more"))
    assert not isinstance(child.get(SELECTED), _Direct)
    _m, child = index.matches(scope(app, "GET", "/api/v1/events"))
    assert not isinstance(child.get(SELECTED), _Direct)


async def _plain(request: Request) -> Response:
    return PlainTextResponse("plain")


@direct
async def _fast(request: Request) -> Response:
    return PlainTextResponse("fast")


@direct
async def _fast_token(request: Request, token: str) -> Response:
    return PlainTextResponse("fast")


@direct
async def _wrong(request: Request, limit: int) -> Response:
    return PlainTextResponse("never")


def _two_routers(first: Callable[..., Any], second: Callable[..., Any], path: str) -> FastAPI:
    app = FastAPI()
    one, two = APIRouter(), APIRouter()
    one.add_api_route(path, first, methods=["POST"])
    two.add_api_route(path, second, methods=["POST"])
    app.include_router(one)
    app.include_router(two)
    app.router.routes.insert(0, RouteIndex(app.router.routes))
    return app


@pytest.mark.parametrize(("path", "fast"), [("/x", _fast), ("/x/{token}", _fast_token)])
def test_a_direct_endpoint_behind_another_route_is_not_called_directly(
    path: str, fast: Callable[..., Any]
) -> None:
    app = _two_routers(_plain, fast, path)
    with TestClient(app) as client:
        assert client.post(path.replace("{token}", "t")).text == "plain"
    assert app.router.routes[0]._direct == {}  # type: ignore[attr-defined]
    app = _two_routers(fast, _plain, path)
    with TestClient(app) as client:
        assert client.post(path.replace("{token}", "t")).text == "fast"
        assert app.router.routes[0]._direct != {}  # type: ignore[attr-defined]
        assert client.get(path.replace("{token}", "t")).status_code == 405


def test_direct_refuses_an_endpoint_that_needs_fastapi() -> None:
    app = FastAPI()
    router = APIRouter()
    router.add_api_route("/y", _wrong, methods=["POST"])
    app.include_router(router)
    app.router.routes.insert(0, RouteIndex(app.router.routes))
    with pytest.raises(TypeError, match="marked direct"), TestClient(app) as client:
        client.post("/y?limit=1")


def test_direct_refuses_an_endpoint_whose_router_adds_dependencies() -> None:
    app = FastAPI()
    router = APIRouter()
    router.add_api_route("/z", _fast, methods=["POST"])
    app.include_router(router, dependencies=[Depends(lambda: None)])
    app.router.routes.insert(0, RouteIndex(app.router.routes))
    with pytest.raises(TypeError, match="adds dependencies"), TestClient(app) as client:
        client.post("/z")


def test_a_direct_receiver_is_timed_and_its_errors_are_problems(
    client: TestClient,
) -> None:
    r = client.post("/api/v1/events", json={"dedup_key": "k", "summary": "s"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["x-request-id"] and r.headers["x-frame-options"] == "DENY"
    metrics = client.get("/metrics").text
    assert 'route="/api/v1/events",status="401"' in metrics


def _index(app: FastAPI, *, direct: bool) -> FastAPI:
    """The app with its index built now, calling its direct endpoints or not (then every
    request goes through FastAPI's request handler)."""
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    index._table()
    assert index._direct
    if not direct:
        index._direct = {}
    return app


BAD_CREATES: list[tuple[str, dict[str, str], bytes]] = [
    ("valid", {"content-type": "application/json"}, b'{"short_description": "ok"}'),
    ("no content type", {}, b'{"short_description": "no type"}'),
    ("json with charset", {"content-type": "application/json; charset=utf-8"}, b'{"x": 1}'),
    ("a +json type", {"content-type": "application/merge-patch+json"}, b"{}"),
    ("malformed", {"content-type": "application/json"}, b'{"short_description": '),
    ("not utf-8", {"content-type": "application/json"}, b'{"short_description": "\xff"}'),
    ("empty", {"content-type": "application/json"}, b""),
    ("null", {"content-type": "application/json"}, b"null"),
    ("a list", {"content-type": "application/json"}, b"[1, 2]"),
    ("text", {"content-type": "text/plain"}, b'{"short_description": "as text"}'),
    ("form", {"content-type": "application/x-www-form-urlencoded"}, b"short_description=x"),
    ("wrong types", {}, b'{"short_description": 5, "impact": "high", "caller_id": []}'),
    ("unknown fields", {}, b'{"short_description": "x", "number": "INC1", "state": "closed"}'),
    ("bad enum", {}, b'{"short_description": "x", "channel": "pigeon"}'),
    (
        "nul and long",
        {},
        b'{"short_description": "a\\u0000b", "description": "' + b"y" * 5000 + b'"}',
    ),
    ("idempotency key", {"idempotency-key": "k-1"}, b'{"short_description": "keyed"}'),
    ("oversized", {}, b'{"description": "' + b"z" * 3_000_000 + b'"}'),
]


@pytest.mark.parametrize(("what", "headers", "body"), BAD_CREATES, ids=[c[0] for c in BAD_CREATES])
def test_the_direct_create_answers_as_fastapi_does(
    settings: Settings, db: Database, cast: Any, what: str, headers: dict[str, str], body: bytes
) -> None:
    """POST /api/v1/incidents through its direct twin and through FastAPI's handler: the
    same status and the same problem (or, for a valid body, the same kind of incident)."""
    answers = []
    apps = [_index(create_app(settings, db), direct=d) for d in (True, False)]
    for app in apps:
        with TestClient(app, raise_server_exceptions=False) as client:
            sent = {**cast.alice.headers, **headers}
            r = client.post("/api/v1/incidents", content=body, headers=sent)
        data = r.json()
        if r.status_code == 201:  # two incidents: compare what does not differ between them
            data = {k: data[k] for k in ("state", "priority", "channel", "short_description")}
        else:
            data = {k: data.get(k) for k in ("status", "title", "detail", "errors")}
        answers.append((r.status_code, r.headers["content-type"], data))
    assert answers[0] == answers[1], what


def test_the_first_request_may_go_direct(settings: Settings, db: Database) -> None:
    """The index (and its direct table) is built at the first request, for that request."""
    app = create_app(settings, db)
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    _match, child = index.matches(scope(app, "POST", "/api/v1/incidents"))
    assert isinstance(child.get(SELECTED), _Direct)
