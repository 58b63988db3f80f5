"""Request and response bodies of the triage and similar-incident endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dutydesk.kernel.schemas import Input, Output, Short


class SuggestionRead(Output):
    id: int
    target: str
    field: str | None
    value: str
    label: str
    confidence: float
    words: list[str]
    status: str
    model_version: int
    created_at: datetime
    decided_at: datetime | None
    decided_by_id: int | None
    note: str | None


class SuggestionDecision(Input):
    note: Short | None = None


class SimilarRead(Output):
    number: str
    short_description: str
    state: str
    resolution_code: str | None
    resolution_notes: str | None
    resolved_at: datetime | None
    score: float


class ModelRead(Output):
    version: int
    target: str
    source: str
    trained_at: datetime
    n_examples: int
    n_classes: int
    size_bytes: int
    active: bool
    metrics: dict[str, Any]
