"""The permission matrix, generated from the route table.

Every API route under /api/v1 (except sign-in) is called by every member of the cast,
against an incident of Acme (caller dave, assigned to the Service Desk) and an incident of
Globex (caller carol, assigned to Application Support), with real ids in the path and a
minimal valid body. The outcome must match EXPECTED below; a route without an entry fails,
so a route added later cannot slip through untested.

Invariants checked on every case, whatever the table says:
- no response is ever 5xx;
- an incident the caller cannot see is 404 on every incident route (never 403 or 200);
- /admin routes answer 403 to non-admins (except the documented exceptions);
- a refused write (any 4xx) leaves the database exactly as it was.

Speed: the cast and the incidents are built once per module inside one outer transaction;
each case runs inside a SAVEPOINT that is rolled back afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.dialects import postgresql, sqlite

import dutydesk.models  # noqa: F401 - registers every table on Base.metadata
from dutydesk.access.policy import system_actor
from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Base, Database
from dutydesk.intake.mail import service as mail_service
from dutydesk.models import Incident, MailMessage, TriageSuggestion
from dutydesk.notify import service as notify
from tests.factories import Person, make_cast

API = "/api/v1"
EXCLUDED_PATHS = {
    f"{API}/auth/login",
    f"{API}/docs",
    f"{API}/openapi.json",
    # the requester's e-mailed links: the signed token in the body is the credential
    # (tests/incidents/test_confirmation.py covers forged, expired and reused tokens)
    f"{API}/links/confirmation",
    f"{API}/links/survey",
}

ROLES = ("bob", "ivy", "alice", "eve", "dave", "erin", "carol")
TARGETS = ("acme", "globex")
ADMIN = "bob"
STAFF = frozenset({"bob", "ivy", "alice", "eve"})
REQUESTERS = frozenset({"dave", "erin", "carol"})
# Who may see the target incident (and so the helper incident next to it).
SEES = {
    "acme": frozenset({"bob", "ivy", "alice", "dave"}),  # alice: Service Desk member, serves Acme
    "globex": frozenset({"bob", "ivy", "eve", "carol"}),  # eve: Application Support member
}
CALLER = {"acme": "dave", "globex": "carol"}
# Routes under /admin that non-admins may use on purpose.
ADMIN_EXCEPTIONS = {("GET", f"{API}/admin/groups"), ("GET", f"{API}/admin/closure-checks")}
# Staff read the escalation matrix and the hierarchic levels; admins write them.
ADMIN_EXCEPTIONS |= {
    ("GET", f"{API}/admin/escalation/paths"),
    ("GET", f"{API}/admin/escalation/paths/{{path_id}}"),
    ("GET", f"{API}/admin/escalation/levels"),
    ("GET", f"{API}/admin/escalation/levels/{{level_id}}"),
}
# Staff read the routing rules and a group's strategy; admins write them.
ADMIN_EXCEPTIONS |= {
    ("GET", f"{API}/admin/routing/rules"),
    ("GET", f"{API}/admin/routing/rules/{{rule_id}}"),
    ("GET", f"{API}/admin/routing/groups/{{group_id}}"),
}

Rule = Callable[[str, str], int]


# ----------------------------------------------------------------- the route table


def _flatten(routes: list[Any]) -> Iterator[tuple[str, set[str], Any]]:
    """(path, methods, route) for every route, including those of included routers."""
    try:  # FastAPI ≥ 0.13x keeps included routers as wrappers in app.routes
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes holds the APIRoute objects themselves
        for route in routes:
            yield getattr(route, "path", ""), set(getattr(route, "methods", None) or ()), route
        return
    for ctx in iter_route_contexts(routes):
        yield ctx.path or "", set(ctx.methods or ()), ctx.original_route


def api_routes() -> list[tuple[str, str]]:
    """(method, path) of every API route the matrix covers, from the real app."""
    app = create_app(Settings(database_url="sqlite://"))
    found: set[tuple[str, str]] = set()
    for path, methods, route in _flatten(list(app.routes)):
        if not isinstance(route, APIRoute) or not path.startswith(API + "/"):
            continue
        if path in EXCLUDED_PATHS:
            continue
        for method in methods - {"HEAD", "OPTIONS"}:
            found.add((method, path))
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


ROUTES = api_routes()


# ----------------------------------------------------------------- expectations


def everyone(status: int) -> Rule:
    return lambda who, target: status


def admin_only(status: int) -> Rule:
    return lambda who, target: status if who == ADMIN else 403


def staff_only(status: int) -> Rule:
    return lambda who, target: status if who in STAFF else 403


def on_incident(rule: Rule) -> Rule:
    """Incident routes: 404 for whoever cannot see the incident, otherwise `rule`."""
    return lambda who, target: rule(who, target) if who in SEES[target] else 404


def create_incident_rule(who: str, target: str) -> int:
    # The body names the target's caller: staff must be able to see the caller's customer
    # (404 names caller_id otherwise); requesters may only log incidents for themselves.
    if who in ("bob", "ivy"):
        return 201
    if who == "alice":
        return 201 if target == "acme" else 404
    if who == "eve":
        return 404
    return 201 if who == CALLER[target] else 422


def token_rule(who: str, target: str) -> int:
    # The token belongs to the target's caller: the owner and admins revoke it; for anybody
    # else it does not exist.
    return 200 if who in (ADMIN, CALLER[target]) else 404


@dataclass(frozen=True)
class Expect:
    status: Rule
    body: Callable[[World, str], Any] | None = None
    upload: bool = False
    if_match: bool = False
    query: dict[str, Any] | None = None
    # path parameter values that differ from World.params (e.g. {number} of a request)
    path: Callable[[World, str], dict[str, Any]] | None = None


def seen(rule: Rule) -> Rule:
    """Service requests are seen like incidents: 404 for whoever cannot see the target's."""
    return lambda who, target: rule(who, target) if who in SEES[target] else 404


def _request(w: World, t: str) -> dict[str, Any]:
    return {"number": w.params[t]["request_number"]}


def _converted(w: World, t: str) -> dict[str, Any]:
    return {"number": w.params[t]["converted_number"]}


def _all_rules_reversed(w: World, t: str) -> dict[str, Any]:
    ids = w.conn.execute(text("SELECT id FROM routing_rule ORDER BY position, id")).scalars()
    return {"ids": list(ids)[::-1]}


def _incident_body(w: World, t: str) -> dict[str, Any]:
    return {
        "short_description": "Matrix",
        "impact": 2,
        "urgency": 2,
        "caller_id": w.person[CALLER[t]].id,
    }


EXPECTED: dict[tuple[str, str], Expect] = {
    # incidents
    ("POST", f"{API}/incidents"): Expect(create_incident_rule, body=_incident_body),
    ("GET", f"{API}/incidents"): Expect(everyone(200)),
    ("GET", f"{API}/incidents/{{number}}"): Expect(on_incident(everyone(200))),
    ("PATCH", f"{API}/incidents/{{number}}"): Expect(
        on_incident(staff_only(200)), body=lambda w, t: {"urgency": 1}, if_match=True
    ),
    # "start" is an agent's action: the caller may act on the incident but not this way.
    ("POST", f"{API}/incidents/{{number}}/actions/{{action}}"): Expect(
        on_incident(lambda who, t: 200 if who in STAFF else 409),
        body=lambda w, t: {},
        if_match=True,
    ),
    ("GET", f"{API}/incidents/{{number}}/events"): Expect(on_incident(everyone(200))),
    ("GET", f"{API}/incidents/{{number}}/comments"): Expect(on_incident(everyone(200))),
    ("POST", f"{API}/incidents/{{number}}/comments"): Expect(
        on_incident(everyone(201)), body=lambda w, t: {"body": "hello"}
    ),
    ("GET", f"{API}/incidents/{{number}}/attachments"): Expect(on_incident(everyone(200))),
    ("POST", f"{API}/incidents/{{number}}/attachments"): Expect(
        on_incident(everyone(201)), upload=True
    ),
    ("GET", f"{API}/incidents/{{number}}/attachments/{{attachment_id}}"): Expect(
        on_incident(everyone(200))
    ),
    ("GET", f"{API}/incidents/{{number}}/links"): Expect(on_incident(everyone(200))),
    ("POST", f"{API}/incidents/{{number}}/links"): Expect(
        on_incident(staff_only(201)), body=lambda w, t: {"number": w.helper[t], "kind": "related"}
    ),
    # incident rules (admin)
    ("GET", f"{API}/incidents/{{number}}/closure-checklist"): Expect(on_incident(everyone(200))),
    # the survey comes after closure: the open incident refuses it for everyone who sees it
    ("POST", f"{API}/incidents/{{number}}/survey"): Expect(
        on_incident(everyone(409)), body=lambda w, t: {"rating": 5}
    ),
    ("GET", f"{API}/admin/closure-checks"): Expect(staff_only(200)),
    ("POST", f"{API}/admin/closure-checks"): Expect(
        admin_only(201), body=lambda w, t: {"key": "matrix", "label": "Matrix", "kind": "manual"}
    ),
    ("PATCH", f"{API}/admin/closure-checks/{{check_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"label": "Told the caller"}
    ),
    ("DELETE", f"{API}/admin/closure-checks/{{check_id}}"): Expect(admin_only(204)),
    ("GET", f"{API}/admin/priority-matrix"): Expect(admin_only(200)),
    ("PUT", f"{API}/admin/priority-matrix"): Expect(
        admin_only(200), body=lambda w, t: {"cells": [[1, 2, 3], [2, 3, 4], [3, 4, 5]]}
    ),
    ("GET", f"{API}/admin/logging-checklist"): Expect(admin_only(200)),
    ("PUT", f"{API}/admin/logging-checklist"): Expect(
        admin_only(200), body=lambda w, t: {"required": ["caller", "channel", "impact", "urgency"]}
    ),
    # people
    ("GET", f"{API}/me"): Expect(everyone(200)),
    ("GET", f"{API}/admin/users"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/users"): Expect(
        admin_only(201),
        body=lambda w, t: {"username": "matrix", "email": "matrix@example.com", "role": "agent"},
    ),
    ("PATCH", f"{API}/admin/users/{{user_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"is_available": True}
    ),
    ("GET", f"{API}/tokens"): Expect(everyone(200)),
    ("POST", f"{API}/tokens"): Expect(everyone(201), body=lambda w, t: {"name": "matrix"}),
    ("DELETE", f"{API}/tokens/{{token_id}}"): Expect(token_rule),
    ("GET", f"{API}/admin/groups"): Expect(staff_only(200)),
    ("POST", f"{API}/admin/groups"): Expect(
        admin_only(201), body=lambda w, t: {"name": "Matrix", "tier": "l2"}
    ),
    ("PATCH", f"{API}/admin/groups/{{group_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"description": "x"}
    ),
    ("PUT", f"{API}/admin/groups/{{group_id}}/members/{{user_id}}"): Expect(admin_only(200)),
    ("DELETE", f"{API}/admin/groups/{{group_id}}/members/{{user_id}}"): Expect(admin_only(200)),
    ("GET", f"{API}/admin/customers"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/customers"): Expect(
        admin_only(201), body=lambda w, t: {"name": "Initech"}
    ),
    ("PATCH", f"{API}/admin/customers/{{customer_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"description": "x"}
    ),
    ("PUT", f"{API}/admin/users/{{user_id}}/customers/{{customer_id}}"): Expect(admin_only(204)),
    # catalog
    ("GET", f"{API}/services"): Expect(everyone(200)),
    ("GET", f"{API}/cis"): Expect(everyone(200)),
    ("GET", f"{API}/categories"): Expect(everyone(200)),
    ("POST", f"{API}/admin/services"): Expect(
        admin_only(201), body=lambda w, t: {"name": "Matrix service"}
    ),
    ("POST", f"{API}/admin/cis"): Expect(
        admin_only(201), body=lambda w, t: {"name": "matrix01", "ci_class": "server"}
    ),
    ("POST", f"{API}/admin/categories"): Expect(
        admin_only(201), body=lambda w, t: {"name": "Matrix"}
    ),
    ("PATCH", f"{API}/admin/services/{{service_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"description": "x"}
    ),
    ("PATCH", f"{API}/admin/cis/{{ci_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"criticality": "low"}
    ),
    # SLA
    ("GET", f"{API}/incidents/{{number}}/sla"): Expect(on_incident(everyone(200))),
    ("GET", f"{API}/admin/sla/calendars"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/sla/calendars"): Expect(
        admin_only(201),
        body=lambda w, t: {
            "name": "Matrix hours",
            "config": {"timezone": "Europe/Berlin", "hours": {"mon": ["08:00-17:00"]}},
        },
    ),
    ("PATCH", f"{API}/admin/sla/calendars/{{calendar_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"name": "Round the clock"}
    ),
    ("GET", f"{API}/admin/sla/calendars/{{calendar_id}}/deadline"): Expect(
        admin_only(200), query={"start": "2026-11-20T10:00:00Z", "seconds": 3600}
    ),
    ("GET", f"{API}/admin/sla/policies"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/sla/policies"): Expect(
        admin_only(201), body=lambda w, t: {"name": "Matrix SLA", "resolution_seconds": 3600}
    ),
    ("PATCH", f"{API}/admin/sla/policies/{{policy_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"warn_percents": [60]}
    ),
    # calendar 1 is the seeded 24x7 one every default policy uses: refused, with a reason
    ("DELETE", f"{API}/admin/sla/calendars/{{calendar_id}}"): Expect(admin_only(409)),
    ("DELETE", f"{API}/admin/sla/policies/{{policy_id}}"): Expect(admin_only(204)),
    ("DELETE", f"{API}/admin/sla/olas/{{ola_id}}"): Expect(admin_only(204)),
    ("GET", f"{API}/admin/sla/olas"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/sla/olas"): Expect(
        admin_only(201),
        body=lambda w, t: {"group_id": w.params[t]["group_id"], "resolution_seconds": 7200},
    ),
    ("PATCH", f"{API}/admin/sla/olas/{{ola_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"resolution_seconds": 5400}
    ),
    # escalation
    ("GET", f"{API}/incidents/{{number}}/escalations"): Expect(on_incident(staff_only(200))),
    ("POST", f"{API}/incidents/{{number}}/escalations"): Expect(
        on_incident(staff_only(201)), body=lambda w, t: {"kind": "hierarchic", "reason": "matrix"}
    ),
    ("GET", f"{API}/admin/escalation/paths"): Expect(staff_only(200)),
    ("POST", f"{API}/admin/escalation/paths"): Expect(
        admin_only(201),
        body=lambda w, t: {
            "name": "Matrix path",
            "service_id": w.params[t]["service_id"],
            "steps": [{"level": 1, "group_id": w.params[t]["group_id"]}],
        },
    ),
    ("GET", f"{API}/admin/escalation/paths/{{path_id}}"): Expect(staff_only(200)),
    ("PATCH", f"{API}/admin/escalation/paths/{{path_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"name": "Renamed path"}
    ),
    ("DELETE", f"{API}/admin/escalation/paths/{{path_id}}"): Expect(admin_only(204)),
    ("GET", f"{API}/admin/escalation/levels"): Expect(staff_only(200)),
    ("POST", f"{API}/admin/escalation/levels"): Expect(
        admin_only(201),
        body=lambda w, t: {"name": "Matrix delay", "trigger": "delay", "delay_seconds": 3600},
    ),
    ("GET", f"{API}/admin/escalation/levels/{{level_id}}"): Expect(staff_only(200)),
    ("PATCH", f"{API}/admin/escalation/levels/{{level_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"percent": 80}
    ),
    ("DELETE", f"{API}/admin/escalation/levels/{{level_id}}"): Expect(admin_only(204)),
    # monitoring intake: user API tokens are not integration tokens (the receivers outside
    # /api/v1 are covered by tests/intake/test_api.py)
    ("POST", f"{API}/events"): Expect(
        everyone(401), body=lambda w, t: {"dedup_key": "matrix", "summary": "Matrix"}
    ),
    ("GET", f"{API}/alerts"): Expect(staff_only(200)),
    ("GET", f"{API}/admin/integrations"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/integrations"): Expect(
        admin_only(201), body=lambda w, t: {"name": "Matrix integration"}
    ),
    ("GET", f"{API}/admin/integrations/{{integration_id}}"): Expect(admin_only(200)),
    ("PATCH", f"{API}/admin/integrations/{{integration_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"correlation_seconds": 60}
    ),
    ("POST", f"{API}/admin/integrations/{{integration_id}}/token"): Expect(admin_only(201)),
    ("DELETE", f"{API}/admin/integrations/{{integration_id}}/token"): Expect(admin_only(200)),
    ("GET", f"{API}/admin/maintenance-windows"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/maintenance-windows"): Expect(
        admin_only(201),
        body=lambda w, t: {
            "name": "Matrix window",
            "starts_at": "2026-11-23T22:00:00Z",
            "ends_at": "2026-11-24T02:00:00Z",
            "service_id": w.params[t]["service_id"],
        },
    ),
    ("PATCH", f"{API}/admin/maintenance-windows/{{window_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"reason": "matrix"}
    ),
    ("DELETE", f"{API}/admin/maintenance-windows/{{window_id}}"): Expect(admin_only(204)),
    # notifications
    ("GET", f"{API}/admin/notify/endpoints"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/notify/endpoints"): Expect(
        admin_only(201), body=lambda w, t: {"name": "Matrix hook", "url": "https://h.example/"}
    ),
    ("PATCH", f"{API}/admin/notify/endpoints/{{endpoint_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"active": False}
    ),
    ("GET", f"{API}/admin/notify/templates"): Expect(admin_only(200)),
    ("PUT", f"{API}/admin/notify/templates/{{event}}/{{channel}}"): Expect(
        admin_only(200), body=lambda w, t: {"subject": "{{ incident.number }}", "body": "x"}
    ),
    ("DELETE", f"{API}/admin/notify/templates/{{event}}/{{channel}}"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/notify/templates/{{event}}/{{channel}}/preview"): Expect(
        admin_only(200), body=lambda w, t: {}
    ),
    ("GET", f"{API}/admin/notify/outbox"): Expect(admin_only(200)),
    ("GET", f"{API}/admin/notify/outbox/{{notification_id}}"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/notify/outbox/{{notification_id}}/retry"): Expect(admin_only(200)),
    # email in: the quarantine (admins only)
    ("GET", f"{API}/admin/mail/quarantine"): Expect(admin_only(200)),
    ("GET", f"{API}/admin/mail/quarantine/{{quarantine_id}}/raw"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/mail/quarantine/{{quarantine_id}}/retry"): Expect(admin_only(200)),
    ("POST", f"{API}/admin/mail/quarantine/{{quarantine_id}}/discard"): Expect(admin_only(200)),
    # reports: staff only (agents see the incidents incident_visibility lets them)
    ("GET", f"{API}/reports/kpis"): Expect(staff_only(200), query={"group_by": "week"}),
    ("GET", f"{API}/reports/backlog"): Expect(staff_only(200)),
    ("GET", f"{API}/reports/volume"): Expect(staff_only(200)),
    ("GET", f"{API}/reports/reassignments"): Expect(staff_only(200)),
    ("GET", f"{API}/me/notify/preferences"): Expect(everyone(200)),
    ("PUT", f"{API}/me/notify/preferences"): Expect(
        everyone(200), body=lambda w, t: [{"event": "closed", "channel": "email", "enabled": False}]
    ),
    # routing rules and group strategies: staff read, admins write
    ("GET", f"{API}/admin/routing/rules"): Expect(staff_only(200)),
    ("POST", f"{API}/admin/routing/rules"): Expect(
        admin_only(201),
        body=lambda w, t: {
            "name": "Matrix rule 2",
            "actions": [{"type": "mark_request"}],
            "is_active": False,
        },
    ),
    ("POST", f"{API}/admin/routing/rules/reorder"): Expect(
        admin_only(200), body=_all_rules_reversed
    ),
    ("GET", f"{API}/admin/routing/rules/{{rule_id}}"): Expect(staff_only(200)),
    ("PATCH", f"{API}/admin/routing/rules/{{rule_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"description": "x"}
    ),
    ("DELETE", f"{API}/admin/routing/rules/{{rule_id}}"): Expect(admin_only(204)),
    ("GET", f"{API}/admin/routing/groups/{{group_id}}"): Expect(staff_only(200)),
    ("PUT", f"{API}/admin/routing/groups/{{group_id}}"): Expect(
        admin_only(200), body=lambda w, t: {"strategy": "round_robin"}
    ),
    # service requests: agents flag and convert; requests are seen like incidents, and
    # "approve" is the desk's action (the requester may act on the request, not this way)
    ("PUT", f"{API}/incidents/{{number}}/request-flag"): Expect(
        on_incident(staff_only(200)),
        body=lambda w, t: {"is_service_request": True},
        if_match=True,
    ),
    ("POST", f"{API}/incidents/{{number}}/convert-to-request"): Expect(
        on_incident(staff_only(201)), body=lambda w, t: {"reason": "matrix"}, if_match=True
    ),
    ("GET", f"{API}/incidents/{{number}}/request"): Expect(
        on_incident(everyone(200)), path=_converted
    ),
    ("GET", f"{API}/requests"): Expect(everyone(200)),
    ("GET", f"{API}/requests/{{number}}"): Expect(seen(everyone(200)), path=_request),
    ("GET", f"{API}/requests/{{number}}/events"): Expect(seen(everyone(200)), path=_request),
    ("POST", f"{API}/requests/{{number}}/actions/{{action}}"): Expect(
        seen(lambda who, t: 200 if who in STAFF else 409),
        body=lambda w, t: {},
        path=lambda w, t: {**_request(w, t), "action": "approve"},
    ),
    # triage: suggestions and models are for staff; similar incidents are filtered by what
    # the caller may see
    ("GET", f"{API}/triage/models"): Expect(staff_only(200)),
    ("GET", f"{API}/similar"): Expect(staff_only(200), query={"text": "mail"}),
    ("GET", f"{API}/incidents/{{number}}/similar"): Expect(on_incident(everyone(200))),
    ("GET", f"{API}/incidents/{{number}}/suggestions"): Expect(on_incident(staff_only(200))),
    ("POST", f"{API}/incidents/{{number}}/suggestions/{{ident}}/{{decision}}"): Expect(
        on_incident(staff_only(200)), body=lambda w, t: {}, if_match=True
    ),
}


# ----------------------------------------------------------------- the world


@dataclass
class World:
    conn: Connection
    db: Database
    client: TestClient
    settings: Settings
    person: dict[str, Person]
    reader: dict[str, Person]  # the same people with a read-scope token
    number: dict[str, str]  # target → incident number
    helper: dict[str, str]  # target → a second incident with the same visibility
    params: dict[str, dict[str, Any]]  # target → path parameter values
    own: dict[str, set[str]] = field(default_factory=dict)  # requester → incidents they log/call
    baseline: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # keep failure reports short
        return f"<World {self.number}>"

    def etag(self, target: str) -> str:
        version = self.conn.execute(
            text("SELECT version FROM incident WHERE number = :n"), {"n": self.number[target]}
        ).scalar_one()
        return f'"{version}"'


VOLATILE_COLUMNS = {("api_token", "last_used_at")}  # touched by every authenticated request


def fingerprint(conn: Connection) -> dict[str, Any]:
    """Every row of every table (minus token touch times), in primary-key order. This runs
    after every refused write, about a thousand times per run: on PostgreSQL as one query
    (each table's rows as a JSON array), on SQLite one plain query per table."""
    tables = _table_dumps(conn.dialect.name)
    if conn.dialect.name == "postgresql":
        row = conn.exec_driver_sql("SELECT " + ", ".join(f"({sql})" for _, sql in tables)).one()
        return {name: dump for (name, _), dump in zip(tables, row, strict=True)}
    return {name: [tuple(r) for r in conn.exec_driver_sql(sql).all()] for name, sql in tables}


@cache
def _table_dumps(dialect: str) -> list[tuple[str, str]]:
    """(table, SQL text of all its rows in primary-key order), compiled once."""
    engine_dialect = (postgresql if dialect == "postgresql" else sqlite).dialect()
    dumps = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
        query = select(*columns).order_by(*table.primary_key.columns)
        sql = str(query.compile(dialect=engine_dialect))
        if dialect == "postgresql":
            order = ", ".join(f"t.{c.name}" for c in table.primary_key.columns)
            sql = f"SELECT coalesce(json_agg(t ORDER BY {order}), '[]') FROM ({sql}) AS t"
        dumps.append((table.name, sql))
    return dumps


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _dead_letter(db: Database, settings: Settings, number: str) -> int:
    """A notification that failed for good, for the outbox routes."""
    with db.unit_of_work() as s:
        incident = s.scalars(select(Incident).where(Incident.number == number)).one()
        row = notify.announce(
            s,
            settings,
            incident,
            "closed",
            actor=system_actor(),
            occurrence="matrix",
            extra={"survey_url": "https://desk.example/s"},
            recipients=[incident.caller_id or 0],
        )[0]
        row.state, row.next_attempt_at, row.last_error = "dead", None, "HTTP 404"
        s.flush()
        return row.id


def _quarantined(db: Database, settings: Settings) -> int:
    """A broken mail held in the quarantine, for the mail admin routes."""
    with db.unit_of_work() as s:
        result = mail_service.ingest_mail(s, settings, "matrix", b"\x00\x01 not a mail")
        entry = s.get(MailMessage, result.record_id)
        assert entry is not None and entry.quarantine_id is not None
        return entry.quarantine_id


def _suggestion(db: Database, number: str) -> int:
    """A pending triage suggestion on the incident, for the suggestion routes."""
    with db.unit_of_work() as s:
        incident = s.scalars(select(Incident).where(Incident.number == number)).one()
        row = TriageSuggestion(
            incident_id=incident.id,
            model_version=1,
            target="category",
            field="category_id",
            value="1",
            label="Matrix",
            confidence=0.9,
            words=["matrix"],
            status="pending",
            created_at=incident.opened_at,
        )
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture(scope="module")
def world(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        db = Database(engine, bind=conn)
        cast = make_cast(db)
        settings = Settings(
            database_url="sqlite://",
            storage_dir=Path(tmp_path_factory.mktemp("matrix")) / "files",
            require_if_match=True,
        )
        with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
            person = {name: getattr(cast, name) for name in ROLES}
            bob = person["bob"].headers

            def token_for(name: str, scope: str) -> tuple[int, str]:
                body = {"name": f"{name}-{scope}", "scope": scope, "user_id": person[name].id}
                made = _ok(client.post(f"{API}/tokens", json=body, headers=bob))
                return made["id"], made["token"]

            reader = {n: Person(person[n].user, token_for(n, "read")[1]) for n in ROLES}
            spare_token = {t: token_for(CALLER[t], "write")[0] for t in TARGETS}

            def incident(caller: str, group_id: int) -> str:
                body = {
                    "short_description": f"{caller}'s problem",
                    "impact": 2,
                    "urgency": 2,
                    "caller_id": person[caller].id,
                    "assignment_group_id": group_id,
                }
                return str(_ok(client.post(f"{API}/incidents", json=body, headers=bob))["number"])

            group = {"acme": cast.desk.id, "globex": cast.apps.id}
            number = {t: incident(CALLER[t], group[t]) for t in TARGETS}
            helper = {t: incident(CALLER[t], group[t]) for t in TARGETS}
            erins = incident("erin", cast.desk.id)
            # a third incident per target, converted to a service request (same visibility)
            converted = {t: incident(CALLER[t], group[t]) for t in TARGETS}
            request_number = {}
            for t in TARGETS:
                url = f"{API}/incidents/{converted[t]}"
                etag = client.get(url, headers=bob).headers["ETag"]
                request_number[t] = _ok(
                    client.post(
                        f"{url}/convert-to-request", headers={**bob, "If-Match": etag}, json={}
                    )
                )["number"]
            rule = _ok(
                client.post(
                    f"{API}/admin/routing/rules",
                    json={
                        "name": "Matrix rule",
                        "actions": [{"type": "mark_request"}],
                        "is_active": False,
                    },
                    headers=bob,
                )
            )
            suggestion = {t: _suggestion(db, number[t]) for t in TARGETS}
            attachment = {}
            for t in TARGETS:
                url = f"{API}/incidents/{number[t]}"
                _ok(client.post(f"{url}/comments", json={"body": "looking"}, headers=bob))
                files = {"file": ("log.txt", b"some log lines\n", "text/plain")}
                attachment[t] = _ok(client.post(f"{url}/attachments", files=files, headers=bob))[
                    "id"
                ]
            portal = _ok(
                client.post(
                    f"{API}/admin/services",
                    json={"name": "Globex portal", "customer_id": cast.globex.id},
                    headers=bob,
                )
            )
            globex01 = _ok(
                client.post(
                    f"{API}/admin/cis",
                    json={"name": "globex01", "ci_class": "server", "service_id": portal["id"]},
                    headers=bob,
                )
            )
            ola = _ok(
                client.post(
                    f"{API}/admin/sla/olas",
                    json={"group_id": cast.infra.id, "resolution_seconds": 3600},
                    headers=bob,
                )
            )
            sla = {"calendar_id": 1, "policy_id": 1, "ola_id": ola["id"], "check_id": 2}
            escalation_path = _ok(
                client.post(
                    f"{API}/admin/escalation/paths",
                    json={
                        "name": "Matrix default",
                        "steps": [
                            {"level": 1, "group_id": cast.desk.id},
                            {"level": 2, "group_id": cast.apps.id},
                        ],
                    },
                    headers=bob,
                )
            )
            escalation_level = _ok(
                client.post(
                    f"{API}/admin/escalation/levels",
                    json={"name": "Matrix level", "trigger": "percent", "percent": 90},
                    headers=bob,
                )
            )
            sla.update(path_id=escalation_path["id"], level_id=escalation_level["id"])
            integration = _ok(
                client.post(f"{API}/admin/integrations", json={"name": "Matrix probe"}, headers=bob)
            )
            window = _ok(
                client.post(
                    f"{API}/admin/maintenance-windows",
                    json={
                        "name": "Matrix patching",
                        "starts_at": "2026-11-23T22:00:00Z",
                        "ends_at": "2026-11-24T02:00:00Z",
                        "ci_id": cast.mail_server.id,
                    },
                    headers=bob,
                )
            )
            sla.update(integration_id=integration["id"], window_id=window["id"])
            sla.update(rule_id=rule["id"], decision="dismiss")
            hook = _ok(
                client.post(
                    f"{API}/admin/notify/endpoints",
                    json={"name": "matrix", "url": "https://hooks.example/"},
                    headers=bob,
                )
            )
            outbox = {
                "endpoint_id": hook["id"],
                "event": "assigned",
                "channel": "email",
                "notification_id": _dead_letter(db, settings, number["acme"]),
                "quarantine_id": _quarantined(db, settings),
            }
            params = {
                "acme": {
                    **sla,
                    **outbox,
                    "number": number["acme"],
                    "action": "start",
                    "request_number": request_number["acme"],
                    "converted_number": converted["acme"],
                    "ident": suggestion["acme"],
                    "attachment_id": attachment["acme"],
                    "user_id": cast.alice.id,
                    "group_id": cast.desk.id,
                    "customer_id": cast.acme.id,
                    "token_id": spare_token["acme"],
                    "service_id": cast.email_service.id,
                    "ci_id": cast.mail_server.id,
                },
                "globex": {
                    **sla,
                    **outbox,
                    "number": number["globex"],
                    "action": "start",
                    "request_number": request_number["globex"],
                    "converted_number": converted["globex"],
                    "ident": suggestion["globex"],
                    "attachment_id": attachment["globex"],
                    "user_id": cast.eve.id,
                    "group_id": cast.apps.id,
                    "customer_id": cast.globex.id,
                    "token_id": spare_token["globex"],
                    "service_id": portal["id"],
                    "ci_id": globex01["id"],
                },
            }
            w = World(conn, db, client, settings, person, reader, number, helper, params)
            w.own = {
                "dave": {number["acme"], helper["acme"], converted["acme"]},
                "carol": {number["globex"], helper["globex"], converted["globex"]},
                "erin": {erins},
            }
            w.baseline = fingerprint(conn)
            yield w
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def w(world: World) -> Iterator[World]:
    """The world, with everything a test does rolled back afterwards."""
    savepoint = world.conn.begin_nested()
    try:
        yield world
    finally:
        savepoint.rollback()


# ----------------------------------------------------------------- requests


PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def fill(path: str, values: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            pytest.fail(
                f"{path}: no value for the path parameter {{{name}}}; add it to World.params"
            )
        return str(values[name])

    return PARAM.sub(one, path)


def call(
    w: World,
    method: str,
    path: str,
    target: str,
    headers: dict[str, str],
    *,
    number: str | None = None,
) -> Any:
    expect = EXPECTED[(method, path)]
    values = path_values(w, method, path, target)
    if number is not None:
        values["number"] = number
    kwargs: dict[str, Any] = {}
    headers = dict(headers)
    if expect.upload:
        kwargs["files"] = {"file": ("note.txt", b"matrix attachment\n", "text/plain")}
    elif expect.body is not None:
        kwargs["json"] = expect.body(w, target)
    if expect.if_match:
        headers["If-Match"] = w.etag(target)
    if expect.query is not None:
        kwargs["params"] = expect.query
    return w.client.request(method, fill(path, values), headers=headers, **kwargs)


def path_values(w: World, method: str, path: str, target: str) -> dict[str, Any]:
    expect = EXPECTED[(method, path)]
    values = dict(w.params[target])
    if expect.path is not None:
        values.update(expect.path(w, target))
    return values


def assert_unchanged(w: World, what: str) -> None:
    after = fingerprint(w.conn)
    assert after == w.baseline, f"{what} changed the database: {changed_tables(w.baseline, after)}"


def is_incident_route(path: str) -> bool:
    return path.startswith(f"{API}/incidents/{{number}}")


def is_admin_route(method: str, path: str) -> bool:
    return path.startswith(f"{API}/admin/") and (method, path) not in ADMIN_EXCEPTIONS


def _cases(roles: tuple[str, ...], routes: list[tuple[str, str]]) -> list[Any]:
    return [
        pytest.param(method, path, who, target, id=f"{method} {path} as {who} on {target}")
        for method, path in routes
        for who in roles
        for target in TARGETS
    ]


def _write_successes() -> list[Any]:
    """Every write (route, role, target) that succeeds with a write token."""
    return [
        pytest.param(method, path, who, target, id=f"{method} {path} as {who} on {target}")
        for method, path in ROUTES
        if method != "GET" and (method, path) in EXPECTED
        for who in ROLES
        for target in TARGETS
        if 200 <= EXPECTED[(method, path)].status(who, target) < 300
    ]


# ----------------------------------------------------------------- the tests


def test_every_route_has_an_expectation() -> None:
    missing = sorted(set(ROUTES) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(ROUTES))
    assert not missing, f"routes without an entry in EXPECTED (add one): {missing}"
    assert not stale, f"EXPECTED names routes that no longer exist: {stale}"


def test_the_route_table_is_read_from_the_app() -> None:
    assert ("GET", f"{API}/incidents/{{number}}") in ROUTES
    assert ("POST", f"{API}/auth/login") not in ROUTES
    assert len(ROUTES) >= 40


@pytest.mark.parametrize(("method", "path", "who", "target"), _cases(ROLES, ROUTES))
def test_permission_matrix(w: World, method: str, path: str, who: str, target: str) -> None:
    if (method, path) not in EXPECTED:
        pytest.fail(f"no expectation for {method} {path}: add it to EXPECTED")
    expected = EXPECTED[(method, path)].status(who, target)
    response = call(w, method, path, target, w.person[who].headers)
    got = response.status_code
    assert got < 500, f"{method} {path} as {who}: {got} {response.text}"
    if is_incident_route(path) and who not in SEES[target]:
        assert got == 404, f"{who} cannot see {target}'s incident, yet got {got}: {response.text}"
    if is_admin_route(method, path) and who != ADMIN:
        assert got == 403, f"{who} is no admin, yet got {got} on {method} {path}: {response.text}"
    assert got == expected, (
        f"{method} {path} as {who} on {target}: expected {expected}, got {got}: {response.text}"
    )
    if got >= 400 and method != "GET":  # reads run in transactions that are rolled back
        assert_unchanged(w, f"{method} {path} as {who} ({got})")


@pytest.mark.parametrize(("method", "path", "who", "target"), _write_successes())
def test_read_scope_token_cannot_write(
    w: World, method: str, path: str, who: str, target: str
) -> None:
    """Where a write token succeeds, the same person's read-only token gets 403 and
    changes nothing."""
    response = call(w, method, path, target, w.reader[who].headers)
    got = response.status_code
    assert got == 403, (
        f"read-only token of {who}: {method} {path} answered {got}, not 403: {response.text}"
    )
    assert_unchanged(w, f"{method} {path} with {who}'s read-only token ({got})")


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_needs_a_valid_token(w: World, method: str, path: str) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer ddt_not-a-real-token"},
        {"Authorization": "Basic Ym9iOmJvYg=="},
    ):
        response = call(w, method, path, "acme", headers)
        assert response.status_code == 401, (
            f"{method} {path} with {headers}: {response.status_code} {response.text}"
        )
    assert_unchanged(w, f"{method} {path} without a valid token")


INCIDENT_ROUTES = [(m, p) for m, p in ROUTES if is_incident_route(p)]


@pytest.mark.parametrize(
    ("method", "path"), INCIDENT_ROUTES, ids=[f"{m} {p}" for m, p in INCIDENT_ROUTES]
)
def test_an_invisible_incident_looks_like_a_missing_one(w: World, method: str, path: str) -> None:
    carol = w.person["carol"].headers
    hidden = call(w, method, path, "acme", carol)
    missing_number = "INC9999999"
    missing = call(w, method, path, "acme", carol, number=missing_number)
    assert hidden.status_code == missing.status_code == 404
    a, b = hidden.json(), missing.json()
    assert a["title"] == b["title"]
    hidden_number = path_values(w, method, path, "acme")["number"]
    assert a["detail"].replace(hidden_number, "X") == b["detail"].replace(missing_number, "X")


def _listed(w: World, who: Person) -> set[str]:
    response = w.client.get(f"{API}/incidents?limit=200", headers=who.headers)
    assert response.status_code == 200, response.text
    return {item["number"] for item in response.json()["items"]}


def test_requesters_list_only_their_own_incidents(w: World) -> None:
    for name in ("dave", "erin", "carol"):
        assert _listed(w, w.person[name]) == w.own[name], name
    # Agents list what their groups and customers give them.
    assert _listed(w, w.person["eve"]) == w.own["carol"]
    assert _listed(w, w.person["alice"]) == w.own["dave"] | w.own["erin"]
    everything = w.own["dave"] | w.own["carol"] | w.own["erin"]
    assert _listed(w, w.person["ivy"]) == everything
    # Filters cannot widen the view.
    carol_id = w.person["carol"].id
    r = w.client.get(f"{API}/incidents?caller={carol_id}", headers=w.person["dave"].headers)
    assert r.status_code == 200 and r.json()["items"] == []


def test_requesters_see_only_the_catalog_offered_to_them(w: World) -> None:
    """The Globex portal service and its server are Globex's business, not Acme's."""
    portal, globex01 = w.params["globex"]["service_id"], w.params["globex"]["ci_id"]
    for name, sees in (
        ("dave", False),
        ("erin", False),
        ("carol", True),
        ("alice", True),
        ("bob", True),
    ):
        headers = w.person[name].headers
        services = {s["id"] for s in w.client.get(f"{API}/services", headers=headers).json()}
        cis = {c["id"] for c in w.client.get(f"{API}/cis", headers=headers).json()}
        assert (portal in services) is sees, f"{name} and the Globex portal service"
        assert (globex01 in cis) is sees, f"{name} and the Globex portal's configuration item"
        r = w.client.get(f"{API}/cis?service_id={portal}", headers=headers)
        assert r.status_code in (200, 404) and (r.status_code == 404 or bool(r.json()) is sees), (
            name
        )


def test_a_customer_that_shares_lets_its_requesters_see_each_other(w: World) -> None:
    erin, carol, bob = w.person["erin"], w.person["carol"], w.person["bob"]
    daves = f"{API}/incidents/{w.number['acme']}"
    assert w.client.get(daves, headers=erin.headers).status_code == 404
    acme_id = w.params["acme"]["customer_id"]
    r = w.client.patch(
        f"{API}/admin/customers/{acme_id}", json={"share_incidents": True}, headers=bob.headers
    )
    assert r.status_code == 200 and r.json()["share_incidents"] is True
    assert w.client.get(daves, headers=erin.headers).status_code == 200
    assert w.own["dave"] <= _listed(w, erin)
    assert w.client.get(f"{daves}/comments", headers=erin.headers).status_code == 200
    # Seeing is not owning: only the caller acts on the incident.
    act = w.client.post(
        f"{daves}/actions/confirm", json={}, headers={**erin.headers, "If-Match": w.etag("acme")}
    )
    assert act.status_code == 403, act.text
    # Sharing stays within the customer.
    assert w.client.get(daves, headers=carol.headers).status_code == 404
    assert w.own["carol"] == _listed(w, carol)
    r = w.client.patch(
        f"{API}/admin/customers/{acme_id}", json={"share_incidents": False}, headers=bob.headers
    )
    assert r.status_code == 200
    assert w.client.get(daves, headers=erin.headers).status_code == 404


def test_a_read_scope_token_reads_but_gets_403_on_writes(w: World) -> None:
    alice = w.reader["alice"]
    url = f"{API}/incidents/{w.number['acme']}"
    assert w.client.get(url, headers=alice.headers).status_code == 200
    assert w.client.get(f"{API}/incidents", headers=alice.headers).status_code == 200
    writes = [
        ("POST", f"{API}/incidents", {"json": _incident_body(w, "acme")}),
        ("PATCH", url, {"json": {"urgency": 1}}),
        ("POST", f"{url}/actions/start", {"json": {}}),
        ("POST", f"{url}/comments", {"json": {"body": "hi"}}),
        ("POST", f"{url}/attachments", {"files": {"file": ("a.txt", b"a", "text/plain")}}),
        ("POST", f"{url}/links", {"json": {"number": w.helper["acme"]}}),
        ("POST", f"{API}/tokens", {"json": {"name": "escalate"}}),
    ]
    for method, path, kwargs in writes:
        r = w.client.request(
            method, path, headers={**alice.headers, "If-Match": w.etag("acme")}, **kwargs
        )
        assert r.status_code == 403, f"{method} {path}: {r.status_code} {r.text}"
    assert_unchanged(w, "writes with a read-only token")


def test_a_revoked_token_gets_401(w: World) -> None:
    dave, bob = w.person["dave"], w.person["bob"]
    made = _ok(w.client.post(f"{API}/tokens", json={"name": "laptop"}, headers=dave.headers))
    own = {"Authorization": f"Bearer {made['token']}"}
    assert w.client.get(f"{API}/me", headers=own).status_code == 200
    r = w.client.delete(f"{API}/tokens/{made['id']}", headers=own)  # revoking itself works once
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    for path in (f"{API}/me", f"{API}/incidents", f"{API}/incidents/{w.number['acme']}"):
        assert w.client.get(path, headers=own).status_code == 401, path
    assert (
        w.client.post(
            f"{API}/incidents",
            json={"short_description": "x", "impact": 1, "urgency": 1},
            headers=own,
        ).status_code
        == 401
    )
    # Revoked by an admin.
    spare = w.params["acme"]["token_id"]
    assert w.client.delete(f"{API}/tokens/{spare}", headers=bob.headers).status_code == 200
    # dave's other token is unaffected.
    assert w.client.get(f"{API}/me", headers=dave.headers).status_code == 200


def test_a_disabled_user_gets_401(w: World) -> None:
    erin, bob = w.person["erin"], w.person["bob"]
    assert w.client.get(f"{API}/me", headers=erin.headers).status_code == 200
    r = w.client.patch(
        f"{API}/admin/users/{erin.id}", json={"is_active": False}, headers=bob.headers
    )
    assert r.status_code == 200 and r.json()["is_active"] is False
    for headers in (erin.headers, w.reader["erin"].headers):
        assert w.client.get(f"{API}/me", headers=headers).status_code == 401
        assert w.client.get(f"{API}/incidents", headers=headers).status_code == 401
        r = w.client.post(
            f"{API}/incidents",
            json={"short_description": "x", "impact": 1, "urgency": 1},
            headers=headers,
        )
        assert r.status_code == 401


def test_a_deactivated_user_gets_401_even_with_unrevoked_tokens(w: World) -> None:
    # A user deactivated behind the API's back (tokens not revoked) is still locked out.
    carol = w.person["carol"]
    w.conn.execute(
        text("UPDATE user_account SET is_active = :no WHERE id = :id"),
        {"no": False, "id": carol.id},
    )
    assert w.client.get(f"{API}/me", headers=carol.headers).status_code == 401
    assert (
        w.client.get(f"{API}/incidents/{w.number['globex']}", headers=carol.headers).status_code
        == 401
    )


def test_routing_rule_writes_refuse_non_admins_before_reading_the_body(w: World) -> None:
    """A non-admin learns nothing from a rule write: 403, never 404 (missing rule) or the 422
    of a body the schema accepts but the rule refuses (FastAPI's own body validation runs
    first on every route, as elsewhere)."""
    rules = f"{API}/admin/routing/rules"
    for name in ("alice", "dave"):
        headers = w.person[name].headers
        rule = w.params["acme"]["rule_id"]
        r = w.client.patch(f"{rules}/{rule}", json={"name": None}, headers=headers)
        assert r.status_code == 403, r.text
        assert w.client.patch(f"{rules}/999999", json={}, headers=headers).status_code == 403
        assert w.client.delete(f"{rules}/999999", headers=headers).status_code == 403
    assert_unchanged(w, "refused rule writes")
