"""Keyset (cursor) pagination: cursors are opaque, sort-aware, and never count."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from dutydesk.kernel.errors import InvalidInput
from dutydesk.kernel.types import UTCDateTime


def encode_cursor(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, columns: list[tuple[InstrumentedAttribute[Any], bool]]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong length")
        decoded: list[Any] = []
        for value, (column, _desc) in zip(values, columns, strict=True):
            column_type = column.property.columns[0].type
            python_type = (
                datetime if isinstance(column_type, UTCDateTime) else column_type.python_type
            )
            if python_type is datetime and value is not None:
                decoded.append(datetime.fromisoformat(value))
            elif value is not None and not isinstance(value, python_type):
                raise ValueError("wrong type")
            else:
                decoded.append(value)
        return decoded
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "the cursor is not valid for this sort; start again without it",
            errors=[{"field": "cursor", "msg": "invalid cursor"}],
        ) from exc


def after_clause(
    columns: list[tuple[InstrumentedAttribute[Any], bool]], values: list[Any]
) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order given by (column, descending) pairs."""
    terms: list[ColumnElement[bool]] = []
    for i, (column, desc) in enumerate(columns):
        equal = [col == val for (col, _), val in zip(columns[:i], values[:i], strict=True)]
        beyond = column < values[i] if desc else column > values[i]
        terms.append(and_(*equal, beyond))
    return or_(*terms)
