"""The import's fast path for the default date format agrees with strptime."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dutydesk.imports.servicenow import DEFAULT_DATE_FORMAT, RowError, parse_date


@given(st.datetimes(min_value=datetime(1000, 1, 1)), st.booleans())
def test_the_default_format_parses_like_strptime(at: datetime, padded: bool) -> None:
    text = (
        at.strftime("%d/%m/%Y %H:%M")
        if padded
        else f"{at.day}/{at.month}/{at.year} {at.hour}:{at.minute}"
    )
    expected = datetime.strptime(text, DEFAULT_DATE_FORMAT).replace(tzinfo=UTC)
    assert parse_date(text, "opened_at", DEFAULT_DATE_FORMAT) == expected


@pytest.mark.parametrize(
    "text",
    ["30/02/2016 01:16", "1/13/2020 1:00", "1/1/2020 24:00", "2016-02-29 01:16", "1/1/20 1:00"],
)
def test_bad_dates_are_refused_with_the_format(text: str) -> None:
    with pytest.raises(RowError, match="does not match the date format"):
        parse_date(text, "opened_at", DEFAULT_DATE_FORMAT)
