"""Prometheus Alertmanager webhook (payload version 4) → one signal per alert."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from dutydesk.intake.signals import (
    MAX_KEY,
    MAX_SUMMARY,
    EventAction,
    Signal,
    SignalError,
    clip,
    normalize_severity,
)

MAX_ALERTS = 1000


def _labels(value: Any, where: str, errors: list[dict[str, str]]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append({"field": where, "msg": "must be an object of strings"})
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or value.startswith("0001-"):  # Go's zero time
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse(body: Any) -> list[Signal]:
    """Each alert of the group becomes a signal keyed on its fingerprint."""
    if not isinstance(body, dict):
        raise SignalError(
            "the body is not an Alertmanager webhook",
            [{"field": "body", "msg": "must be an object"}],
        )
    errors: list[dict[str, str]] = []
    version = str(body.get("version", "4"))
    if version != "4":
        errors.append({"field": "version", "msg": "only webhook payload version 4 is understood"})
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        errors.append({"field": "alerts", "msg": "must be a list"})
        raise SignalError("the Alertmanager payload is not valid", errors)
    if len(alerts) > MAX_ALERTS:
        errors.append({"field": "alerts", "msg": f"at most {MAX_ALERTS} alerts"})
    common = _labels(body.get("commonLabels"), "commonLabels", errors)
    signals = []
    for n, alert in enumerate(alerts):
        where = f"alerts.{n}"
        if not isinstance(alert, dict):
            errors.append({"field": where, "msg": "must be an object"})
            continue
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            errors.append({"field": f"{where}.status", "msg": "must be 'firing' or 'resolved'"})
            continue
        labels = {**common, **_labels(alert.get("labels"), f"{where}.labels", errors)}
        notes = _labels(alert.get("annotations"), f"{where}.annotations", errors)
        key = alert.get("fingerprint")
        if not isinstance(key, str) or not key:
            key = hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:32]
        if len(key) > MAX_KEY:
            errors.append({"field": f"{where}.fingerprint", "msg": f"at most {MAX_KEY} characters"})
            continue
        summary = notes.get("summary") or notes.get("description") or labels.get("alertname") or key
        links = []
        if isinstance(alert.get("generatorURL"), str) and alert["generatorURL"]:
            links.append({"href": alert["generatorURL"], "text": "Source"})
        signals.append(
            Signal(
                dedup_key=key,
                action=EventAction.trigger if status == "firing" else EventAction.resolve,
                summary=clip(summary, MAX_SUMMARY),
                severity=normalize_severity(labels.get("severity")),
                source=clip(labels.get("instance") or labels.get("job") or "alertmanager", 255),
                service=labels.get("service") or None,
                ci=labels.get("ci") or labels.get("instance") or None,
                labels=labels,
                links=links,
                occurred_at=_time(
                    alert.get("endsAt") if status == "resolved" else alert.get("startsAt")
                ),
                raw=alert,
            )
        )
    if errors:
        raise SignalError("the Alertmanager payload is not valid", errors)
    return signals
