"""Prometheus metrics: gauges read from the database at scrape time, request latencies.

Each gauge family is one grouped query (incidents by state and priority, breached clocks by
kind, the outbox by state, due clocks and the oldest due instant), so a scrape costs four
index-friendly queries whatever the size of the database. Each app has its own registry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import Incident, Notification, SlaClock


class DatabaseCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = clock.now()
        with self.db.unit_of_work(write=False) as s:
            incidents = s.execute(
                select(Incident.state, Incident.priority, func.count()).group_by(
                    Incident.state, Incident.priority
                )
            ).all()
            breaches = s.execute(
                select(SlaClock.kind, func.count())
                .where(SlaClock.breached_at.is_not(None))
                .group_by(SlaClock.kind)
            ).all()
            outbox = s.execute(
                select(Notification.state, func.count()).group_by(Notification.state)
            ).all()
            due_count, oldest = s.execute(
                select(func.count(), func.min(SlaClock.next_check_at)).where(
                    SlaClock.next_check_at.is_not(None), SlaClock.next_check_at <= now
                )
            ).one()
        family = GaugeMetricFamily(
            "dutydesk_incidents", "Incidents by state and priority", labels=["state", "priority"]
        )
        for state, priority, n in incidents:
            family.add_metric([state, str(priority)], n)
        yield family
        family = GaugeMetricFamily(
            "dutydesk_sla_breached_clocks", "SLA/OLA clocks that breached", labels=["kind"]
        )
        for kind, n in breaches:
            family.add_metric([kind], n)
        yield family
        family = GaugeMetricFamily(
            "dutydesk_notifications", "Notification outbox rows by state", labels=["state"]
        )
        for state, n in outbox:
            family.add_metric([state], n)
        yield family
        yield GaugeMetricFamily(
            "dutydesk_sla_clocks_due",
            "SLA clocks the worker should have looked at",
            value=due_count,
        )
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "dutydesk_worker_lag_seconds", "Age of the oldest due SLA clock", value=lag
        )


class Metrics:
    """The registry of one app, and the ASGI middleware timing its requests."""

    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DatabaseCollector(db))
        self.latency = Histogram(
            "dutydesk_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class TimingMiddleware:
    """Observes every HTTP request's latency by method, route template and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app, self.latency = app, metrics.latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.latency.labels(scope["method"], path, str(status["code"])).observe(
                time.perf_counter() - start
            )
