"""The signal: what every monitoring source's payload becomes before ingest (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

MAX_KEY = 255  # PagerDuty's dedup_key limit
MAX_SUMMARY = 1024
SEVERITIES = ("critical", "error", "warning", "info")


class EventAction(StrEnum):
    trigger = "trigger"
    acknowledge = "acknowledge"
    resolve = "resolve"


class Outcome(StrEnum):
    """What ingest did with one signal."""

    created = "created"  # a new alert and a new incident
    deduplicated = "deduplicated"  # the same open alert again
    correlated = "correlated"  # a new alert attached to an open incident
    resolved = "resolved"  # the alert resolved (and maybe its incident)
    acknowledged = "acknowledged"
    suppressed = "suppressed"  # recorded under maintenance: no incident, no notification
    ignored = "ignored"  # acknowledge/resolve of an unknown or resolved key


class SignalError(ValueError):
    """A payload that cannot become signals; `errors` name each bad field."""

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class Signal:
    dedup_key: str
    action: EventAction
    summary: str = ""
    severity: str = "error"
    source: str = ""
    service: str | None = None
    ci: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    occurred_at: datetime | None = None
    raw: Any = None  # the payload part it came from (dict, str or validated model), size-limited


def normalize_severity(value: object) -> str:
    """Map common severity words onto critical/error/warning/info."""
    word = str(value or "").strip().lower()
    if word in SEVERITIES:
        return word
    if word in ("fatal", "page", "disaster", "high", "emergency", "alert", "crit", "p1"):
        return "critical"
    if word in ("major", "err", "p2"):
        return "error"
    if word in ("minor", "warn", "average", "medium", "p3"):
        return "warning"
    return "info" if word in ("low", "none", "ok", "informational", "notice", "debug") else "error"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def raw_text(raw: Any, limit: int) -> str:
    """The raw payload as JSON, cut at `limit` characters (marked as cut)."""
    if raw is None:
        return ""
    if isinstance(raw, BaseModel):  # a validated event, dumped only when an alert keeps it
        raw = raw.model_dump(mode="json", exclude_none=True)
    text = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit] + "…[cut]"
