"""Calendars as the admin API, the CLI and the database store them: a JSON object of
time zone, weekly hours, a holiday country, closed and open days.
:func:`calendar_from_config` checks every part and names the first one that is wrong;
:func:`calendar_to_config` is its inverse. The arithmetic is in :mod:`dutydesk.sla.calendar`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from dutydesk.sla.calendar import (
    WEEKDAYS,
    Calendar,
    CalendarError,
    Interval,
    check_holidays,
    zone_info,
)

_CONFIG_KEYS = ("timezone", "hours", "holidays", "closed_days", "open_days")


def _expect(value: Any, kind: type | tuple[type, ...], where: str, expected: str) -> None:
    if not isinstance(value, kind):
        raise CalendarError(f"{where}: expected {expected}, got {value!r}")


def _parse_day(text: Any, where: str) -> date:
    _expect(text, str, where, 'a date "YYYY-MM-DD"')
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise CalendarError(f'{where}: {text!r} is not a date "YYYY-MM-DD"')
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CalendarError(f'{where}: {text!r} is not a date "YYYY-MM-DD" ({exc})') from None


def _parse_ranges(value: Any, where: str) -> tuple[Interval, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise CalendarError(f'{where}: expected a list of "HH:MM-HH:MM" strings, got {value!r}')
    found: list[Interval] = []
    for n, text in enumerate(value):
        try:
            found.append(Interval.parse(text))
        except CalendarError as exc:
            raise CalendarError(f"{where}[{n}]: {exc}") from None
    return tuple(found)


def calendar_from_config(data: Mapping[str, Any]) -> Calendar:
    """Build a calendar from the admin API's JSON shape (see :func:`calendar_to_config`).

    ``timezone`` and ``hours`` are required; a weekday missing from ``hours`` has no working
    hours; ``holidays`` (``{"country": ..., "subdivision": ...}`` or null), ``closed_days`` and
    ``open_days`` are optional. Unknown keys are refused.
    """
    _expect(data, Mapping, "calendar", "an object")
    unknown = [key for key in data if key not in _CONFIG_KEYS]
    if unknown:
        raise CalendarError(f"unknown key {unknown[0]!r} (allowed: {', '.join(_CONFIG_KEYS)})")
    if "timezone" not in data:
        raise CalendarError("timezone: missing (an IANA name such as 'Europe/Berlin')")
    tz = data["timezone"]
    _expect(tz, str, "timezone", "an IANA time zone name")
    try:
        zone_info(tz)
    except CalendarError as exc:
        raise CalendarError(f"timezone: {exc}") from None

    if "hours" not in data:
        raise CalendarError('hours: missing (e.g. {"mon": ["08:00-17:00"], ...})')
    hours = data["hours"]
    _expect(hours, Mapping, "hours", "an object keyed by mon, tue, wed, thu, fri, sat, sun")
    for key in hours:
        if key not in WEEKDAYS:
            raise CalendarError(f"hours: unknown weekday key {key!r} (use {', '.join(WEEKDAYS)})")
    weekly = tuple(_parse_ranges(hours.get(name, []), f"hours.{name}") for name in WEEKDAYS)

    country: str | None = None
    subdivision: str | None = None
    rules = data.get("holidays")
    if rules is not None:
        _expect(rules, Mapping, "holidays", 'null or {"country": ..., "subdivision": ...}')
        extra = [key for key in rules if key not in ("country", "subdivision")]
        if extra:
            raise CalendarError(
                f"holidays: unknown key {extra[0]!r} (allowed: country, subdivision)"
            )
        if "country" not in rules:
            raise CalendarError("holidays.country: missing (e.g. 'DE')")
        country = rules["country"]
        _expect(country, str, "holidays.country", "a country code such as 'DE'")
        subdivision = rules.get("subdivision")
        if subdivision is not None:
            _expect(subdivision, str, "holidays.subdivision", "a subdivision code or null")
        try:
            check_holidays(country, subdivision)
        except CalendarError as exc:
            raise CalendarError(f"holidays: {exc}") from None

    closed_raw = data.get("closed_days", [])
    if isinstance(closed_raw, str) or not isinstance(closed_raw, Sequence):
        raise CalendarError(f'closed_days: expected a list of "YYYY-MM-DD", got {closed_raw!r}')
    closed = frozenset(_parse_day(text, f"closed_days[{n}]") for n, text in enumerate(closed_raw))

    open_raw = data.get("open_days", {})
    _expect(open_raw, Mapping, "open_days", 'an object {"YYYY-MM-DD": ["HH:MM-HH:MM", ...]}')
    opened = tuple(
        (_parse_day(key, "open_days"), _parse_ranges(value, f"open_days.{key}"))
        for key, value in open_raw.items()
    )

    return Calendar(
        tz,
        weekly,
        holiday_country=country,
        holiday_subdivision=subdivision,
        closed_days=closed,
        open_days=opened,
    )


def calendar_to_config(cal: Calendar) -> dict[str, Any]:
    """The JSON shape :func:`calendar_from_config` reads; round-trips to an equal calendar."""
    return {
        "timezone": cal.tz,
        "hours": {
            name: [str(iv) for iv in day] for name, day in zip(WEEKDAYS, cal.weekly, strict=True)
        },
        "holidays": None
        if cal.holiday_country is None
        else {"country": cal.holiday_country, "subdivision": cal.holiday_subdivision},
        "closed_days": sorted(day.isoformat() for day in cal.closed_days),
        "open_days": {day.isoformat(): [str(iv) for iv in ivs] for day, ivs in cal.open_days},
    }
