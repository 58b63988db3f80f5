"""PagerDuty Events API v2 (`POST /v2/enqueue`) → a signal, with PagerDuty's validation."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from dutydesk.intake.signals import (
    MAX_KEY,
    MAX_SUMMARY,
    SEVERITIES,
    EventAction,
    Signal,
    SignalError,
)

MAX_BYTES = 512 * 1024  # PagerDuty refuses larger events


def routing_key(body: Any) -> str | None:
    value = body.get("routing_key") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def parse(body: Any) -> Signal:
    """The event as a signal; SignalError lists PagerDuty-style messages as `msg`s."""
    errors: list[dict[str, str]] = []

    def bad(name: str, msg: str) -> None:
        errors.append({"field": name, "msg": msg})

    if not isinstance(body, dict):
        raise SignalError(
            "Event object is invalid", [{"field": "body", "msg": "must be an object"}]
        )
    if routing_key(body) is None:
        bad("routing_key", "'routing_key' is missing or blank")
    try:
        action = EventAction(str(body.get("event_action", "")))
    except ValueError:
        bad("event_action", "'event_action' must be one of trigger, acknowledge, resolve")
        action = EventAction.trigger
    key = body.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY):
        bad("dedup_key", f"'dedup_key' must be a string of 1 to {MAX_KEY} characters")
    if key is None and action != EventAction.trigger:
        bad("dedup_key", "'dedup_key' is required to acknowledge or resolve")
    payload = body.get("payload")
    summary, severity, source = "", "error", ""
    service = ci = None
    labels: dict[str, str] = {}
    occurred: datetime | None = None
    if action == EventAction.trigger:
        if not isinstance(payload, dict):
            bad("payload", "'payload' is missing or not an object")
            payload = {}
        summary = _text(payload.get("summary")) or ""
        if not summary:
            bad("payload.summary", "'payload.summary' is missing or blank")
        elif len(summary) > MAX_SUMMARY:
            bad("payload.summary", f"'payload.summary' is longer than {MAX_SUMMARY} characters")
        source = _text(payload.get("source")) or ""
        if not source:
            bad("payload.source", "'payload.source' is missing or blank")
        severity = str(payload.get("severity", ""))
        if severity not in SEVERITIES:
            bad("payload.severity", f"'payload.severity' must be one of {', '.join(SEVERITIES)}")
        stamp = payload.get("timestamp")
        if stamp is not None:
            try:
                occurred = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            except ValueError:
                bad("payload.timestamp", "'payload.timestamp' is not an ISO 8601 date-time")
            if occurred is not None and occurred.tzinfo is None:
                occurred = None
        service = _text(payload.get("group"))
        ci = _text(payload.get("component"))
        for name in ("component", "group", "class"):
            if _text(payload.get(name)):
                labels[name] = str(payload[name])[:255]
        details = payload.get("custom_details")
        if isinstance(details, dict):
            labels.update({str(k)[:100]: str(v)[:1000] for k, v in list(details.items())[:50]})
    links = (
        [
            {"href": str(link.get("href")), "text": str(link.get("text", ""))}
            for link in (body.get("links") or [])[:10]
            if isinstance(link, dict) and isinstance(link.get("href"), str)
        ]
        if isinstance(body.get("links"), list)
        else []
    )
    if errors:
        raise SignalError("Event object is invalid", errors)
    return Signal(
        dedup_key=key if isinstance(key, str) else secrets.token_hex(16),
        action=action,
        summary=summary,
        severity=severity if severity in SEVERITIES else "error",
        source=source[:255],
        service=service[:120] if service else None,
        ci=ci[:120] if ci else None,
        labels=labels,
        links=links,
        occurred_at=occurred,
        raw={k: v for k, v in body.items() if k != "routing_key"},
    )
