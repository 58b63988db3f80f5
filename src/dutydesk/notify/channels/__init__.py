"""Delivery channels: each turns one outbox row into a message and says how sending went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Outcome:
    """How one delivery attempt ended: sent, worth retrying, or never going to work."""

    result: Literal["sent", "retry", "dead", "cancelled"]
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait (429)

    @classmethod
    def sent(cls) -> Outcome:
        return cls("sent")

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> Outcome:
        return cls("retry", error[:2000], retry_after)

    @classmethod
    def dead(cls, error: str) -> Outcome:
        return cls("dead", error[:2000])

    @classmethod
    def cancelled(cls, error: str) -> Outcome:
        return cls("cancelled", error[:2000])
