"""The structured calendar form ↔ the JSON config the SLA API takes (pure; the service
validates the result with `sla.calendar_config.calendar_from_config`, and its messages, which start
with the config key they are about, are placed next to the matching field here)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import field_validator

from dutydesk.kernel.errors import InvalidInput
from dutydesk.kernel.schemas import Input, Name, Short, Text
from dutydesk.sla.calendar import WEEKDAYS

DAY_NAMES = dict(
    zip(
        WEEKDAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


class CalendarForm(Input):
    """What the calendar form posts: one text field per part of the config."""

    name: Name
    timezone: Short
    hours_mon: Short = ""
    hours_tue: Short = ""
    hours_wed: Short = ""
    hours_thu: Short = ""
    hours_fri: Short = ""
    hours_sat: Short = ""
    hours_sun: Short = ""
    holiday_country: Short = ""
    holiday_subdivision: Short = ""
    closed_days: Text = ""
    open_days: Text = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an IANA time zone such as Europe/Berlin is required")
        return value.strip()


def _ranges(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def config_of(form: CalendarForm) -> dict[str, Any]:
    """The API's JSON config of the form's values; a line that is not `date ranges` in the
    open days is refused here, everything else by the service."""
    opened: dict[str, list[str]] = {}
    for n, line in enumerate(form.open_days.splitlines(), start=1):
        if not line.strip():
            continue
        day, _, ranges = line.strip().partition(" ")
        if not ranges.strip():
            message = f"line {n}: write a date and its hours, e.g. 2026-12-27 09:00-13:00"
            raise InvalidInput(
                "the calendar is not valid", errors=[{"field": "open_days", "msg": message}]
            )
        opened[day] = _ranges(ranges)
    country = form.holiday_country.strip().upper()
    subdivision = form.holiday_subdivision.strip().upper() or None
    return {
        "timezone": form.timezone,
        "hours": {day: _ranges(getattr(form, f"hours_{day}")) for day in WEEKDAYS},
        "holidays": {"country": country, "subdivision": subdivision} if country else None,
        "closed_days": [line.strip() for line in form.closed_days.splitlines() if line.strip()],
        "open_days": opened,
    }


def values_of(name: str, config: Mapping[str, Any]) -> dict[str, object]:
    """The form's values of a stored calendar."""
    hours: Mapping[str, Sequence[str]] = config.get("hours", {})
    holidays = config.get("holidays") or {}
    opened: Mapping[str, Sequence[str]] = config.get("open_days", {})
    return {
        "name": name,
        "timezone": config.get("timezone", ""),
        **{f"hours_{day}": ", ".join(hours.get(day, [])) for day in WEEKDAYS},
        "holiday_country": holidays.get("country") or "",
        "holiday_subdivision": holidays.get("subdivision") or "",
        "closed_days": "\n".join(config.get("closed_days", [])),
        "open_days": "\n".join(f"{day} {', '.join(r)}" for day, r in opened.items()),
    }


def placed(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The service's `config` errors moved to the form field their message names."""
    found = []
    for error in errors:
        message, field = str(error.get("msg", "")), str(error.get("field", ""))
        found.append({"field": _field_of(message) if field == "config" else field, "msg": message})
    return found


def _field_of(message: str) -> str:
    for day in WEEKDAYS:
        if message.startswith(f"hours.{day}"):
            return f"hours_{day}"
    for prefix, name in (
        ("timezone", "timezone"),
        ("holidays.subdivision", "holiday_subdivision"),
        ("holidays", "holiday_country"),
        ("closed_days", "closed_days"),
        ("open_days", "open_days"),
    ):
        if message.startswith(prefix):
            return name
    return "config"
