"""Reading labelled tickets from CSV files from anywhere (standard library only).

The encoding is sniffed (UTF-8 with or without BOM, tolerating a few stray bytes; else
cp1252; else Latin-1, which never fails), the delimiter too (``,`` ``;`` tab ``|``), quoted
newlines are kept, column names match exactly or else case-insensitively, several text
columns are joined, and rows without text or label are skipped and counted. Row order is
kept: it is taken as time order.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dutydesk.triage.text import Examples, document

ENCODINGS = ("cp1252", "latin-1")
DELIMITERS = ",;\t|"


class CsvError(ValueError):
    """The file cannot be read as the columns asked for; the message says why."""


@dataclass
class Dataset:
    examples: Examples
    rows: int = 0
    skipped_empty_text: int = 0
    skipped_empty_label: int = 0
    encoding: str = "utf-8"
    delimiter: str = ","
    notes: list[str] = field(default_factory=list)


def decode(raw: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (a BOM dropped; a few stray bytes in an otherwise UTF-8 file
    replaced), else cp1252, else Latin-1, which decodes anything."""
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - raw.count("\ufffd".encode())
    multibyte = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    if multibyte >= 10 * bad:
        return text, "utf-8"
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _column(header: Sequence[str], wanted: str) -> int:
    names = [h.strip() for h in header]
    if wanted in names:
        return names.index(wanted)
    folded = [n.casefold() for n in names]
    if wanted.strip().casefold() in folded:
        return folded.index(wanted.strip().casefold())
    shown = ", ".join(repr(n) for n in names[:30])
    raise CsvError(f"no column {wanted!r}; the file's columns are {shown}")


def read_csv(
    path: Path,
    text_columns: Sequence[str],
    label_column: str,
    field_columns: Sequence[str] = (),
) -> Dataset:
    """Labelled examples from a CSV file (see the module docstring for what is tolerated)."""
    if not text_columns:
        raise CsvError("name at least one --text-column")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CsvError(f"cannot read {path}: {exc.strerror or exc}") from exc
    text, encoding = decode(raw)
    if not text.strip():
        raise CsvError(f"{path} is empty")
    delimiter = sniff_delimiter(text)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        texts = [_column(header, c) for c in text_columns]
        label = _column(header, label_column)
        fields = [(c, _column(header, c)) for c in field_columns]
        data = Dataset(Examples(), encoding=encoding, delimiter=delimiter)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            data.rows += 1
            value = row[label].strip() if label < len(row) else ""
            body = document(*(row[i] for i in texts if i < len(row)))
            if not body:
                data.skipped_empty_text += 1
            elif not value:
                data.skipped_empty_label += 1
            else:
                extra = {name: row[i].strip() for name, i in fields if i < len(row)}
                data.examples.add(body, extra, value)
    except csv.Error as exc:
        raise CsvError(f"{path}: line {reader.line_num}: {exc}") from exc
    except StopIteration as exc:
        raise CsvError(f"{path} has no header row") from exc
    return data
