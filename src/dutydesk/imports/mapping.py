"""A CSV column mapping (YAML): which file column holds each ServiceNow-named field, value
translations (state names, priority labels) and the date format.

```yaml
date_format: "%Y-%m-%d %H:%M"
columns:            # our field: the file's column
  number: Ticket
  incident_state: Status
  opened_at: Created
values:             # our field: {the file's value: our value}
  incident_state: {Open: Active, Done: Closed}
  priority: {High: "2 - High"}
```
The fields are those of a ServiceNow export (``dutydesk.imports.servicenow``), so a mapped CSV
goes through the same checks and writing as a ServiceNow file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import yaml

from dutydesk.imports.servicenow import COLUMNS

# Every ServiceNow field a mapping may name: the export's columns and the two texts.
FIELDS = frozenset([*COLUMNS, "short_description", "description"])


class MappingError(ValueError):
    """The mapping file is not usable; the message says what is wrong."""


@dataclass(frozen=True)
class ColumnMapping:
    columns: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str | None = None

    def check_header(self, header: Iterable[str]) -> None:
        missing = sorted(set(self.columns.values()) - set(header))
        if missing:
            raise MappingError(f"the file has no column {', '.join(map(repr, missing))}")

    def apply(
        self, rows: Iterable[tuple[int, Mapping[str, str]]]
    ) -> Iterator[tuple[int, dict[str, str]]]:
        for line, row in rows:
            out: dict[str, str] = {}
            for ours, theirs in self.columns.items():
                raw = (row.get(theirs) or "").strip()
                out[ours] = self.values.get(ours, {}).get(raw, raw)
            yield line, out


def parse_mapping(text: str) -> ColumnMapping:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"the mapping is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise MappingError("the mapping needs a 'columns:' section (our field: file column)")
    columns = {str(k): str(v) for k, v in data["columns"].items()}
    unknown = sorted(set(columns) - FIELDS)
    if unknown:
        raise MappingError(f"columns: unknown field {', '.join(map(repr, unknown))}")
    for needed in ("number", "incident_state", "opened_at"):
        if needed not in columns:
            raise MappingError(f"columns: {needed!r} must be mapped")
    values = data.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise MappingError("values: must map a field to {file value: our value}")
    fmt = data.get("date_format")
    if fmt is not None and not isinstance(fmt, str):
        raise MappingError("date_format: must be text such as '%Y-%m-%d %H:%M'")
    return ColumnMapping(
        columns=columns,
        values={str(k): {str(a): str(b) for a, b in v.items()} for k, v in values.items()},
        date_format=fmt,
    )
