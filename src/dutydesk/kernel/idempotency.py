"""Idempotency-Key on POST: the first response is stored and replayed for the same key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.kernel import clock
from dutydesk.kernel.errors import InvalidInput
from dutydesk.models import IdempotencyRecord

MAX_KEY = 255


class KeyInUse(Exception):
    """Another transaction holds the same key; retry to replay its response."""


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


def request_hash(method: str, path: str, payload: Any) -> str:
    canonical = json.dumps(
        [method, path, payload], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1–{MAX_KEY} printable characters",
            errors=[{"field": "Idempotency-Key", "msg": "invalid"}],
        )
    return key


def begin(
    session: Session, user_id: int, key: str, digest: str, *, retention: timedelta
) -> Replay | IdempotencyRecord:
    """Replay a finished request, refuse a different body, or reserve the key.

    A key older than the retention period is forgotten: reusing it makes a new request.
    """
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )
    if record is not None and record.created_at < clock.now() - retention:
        session.delete(record)
        session.flush()
        record = None
    if record is not None:
        if record.request_hash != digest:
            raise InvalidInput(
                "this Idempotency-Key was used with a different request body",
                errors=[{"field": "Idempotency-Key", "msg": "reused with another body"}],
            )
        return Replay(record.status_code, json.loads(record.response_body))
    record = IdempotencyRecord(
        user_id=user_id,
        key=key,
        request_hash=digest,
        status_code=0,
        response_body="null",
        created_at=clock.now(),
    )
    session.add(record)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise KeyInUse(key) from exc
    return record


def finish(record: IdempotencyRecord, status_code: int, body: Any) -> None:
    record.status_code = status_code
    record.response_body = json.dumps(body, default=str)
