"""`dutydesk import …`: JSON lines from `dutydesk export` (the default), ServiceNow, any CSV.

`dutydesk import FILE` keeps meaning `dutydesk import json FILE`: the group treats a first
argument that is not a subcommand as the file of the JSON import.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer._click import Context
from typer.core import TyperGroup

from dutydesk.cli.common import BAD_INPUT, database, err, fail, out, read_text, settings
from dutydesk.imports.mapping import ColumnMapping, MappingError, parse_mapping
from dutydesk.imports.service import ImportReport, import_file_rows
from dutydesk.imports.servicenow import DEFAULT_DATE_FORMAT, MALFORMED, REQUIRED

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class _JsonByDefault(TyperGroup):
    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["json", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_JsonByDefault,
    help="Import incidents: `import FILE` (a `dutydesk export` file), `import servicenow FILE`, "
    "`import csv FILE --mapping M`.",
    no_args_is_help=True,
)


@app.command("json")
def import_json(
    path: Annotated[Path, typer.Argument(help="A file written by `dutydesk export`")],
) -> None:
    """Import incidents exported by `dutydesk export`; already present numbers are skipped."""
    from dutydesk.incidents.transfer import import_incidents  # cycle: none; only this command

    if not path.is_file():
        raise fail(f"{path} is not a file")
    with open(path, encoding="utf-8") as fh:
        report = import_incidents(database(), fh, storage_dir=settings().storage_dir)
    out.print(report.summary(), markup=False, highlight=False)
    if report.rejected:
        raise typer.Exit(1)


def _read(
    path: Path, required: tuple[str, ...]
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and rows; a row whose cells do not fit the header is kept with a note."""
    try:
        fh = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise fail(f"{path}: cannot read: {exc.strerror}", BAD_INPUT) from exc
    with fh:
        try:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            if not header:
                raise fail(f"{path}: the file is empty", BAD_INPUT)
            missing = [c for c in required if c not in header]
            if missing:
                raise fail(
                    f"{path}: not an incident export: no column {', '.join(missing)} "
                    f"(the header has {', '.join(header[:8])}{'…' if len(header) > 8 else ''})",
                    BAD_INPUT,
                )
            rows: list[tuple[int, dict[str, str]]] = []
            for cells in reader:
                line = reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                row = dict(zip(header, cells, strict=False))
                if len(cells) != len(header):
                    row[MALFORMED] = (
                        f"malformed row: {len(cells)} cells, the header has {len(header)}"
                    )
                rows.append((line, row))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise fail(f"{path}: not a readable CSV file: {exc}", BAD_INPUT) from exc
    return header, rows


def _run(rows: list[tuple[int, dict[str, str]]], date_format: str, source: str) -> None:
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("rows", total=len(rows))
        report = import_file_rows(
            database(),
            rows,
            date_format=date_format,
            source=source,
            progress=lambda n: bar.advance(task, n),
        )
    _finish(report)


def _finish(report: ImportReport) -> None:
    out.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
    if report.rows and report.rejected and not report.imported and not report.skipped:
        raise fail("the file is rejected: no row could be imported (reasons above)")


@app.command("servicenow")
def import_servicenow(
    path: Annotated[Path, typer.Argument(help="A ServiceNow incident export or audit log (CSV)")],
    date_format: Annotated[
        str, typer.Option("--date-format", help="strptime format of the dates (UTC)")
    ] = DEFAULT_DATE_FORMAT,
) -> None:
    """Import a ServiceNow incident export as it comes; an audit log rebuilds each history."""
    _header, rows = _read(path, REQUIRED)
    _run(rows, date_format, "servicenow")


@app.command("csv")
def import_csv(
    path: Annotated[Path, typer.Argument(help="A CSV export of incidents")],
    mapping: Annotated[str, typer.Option("--mapping", help="The column mapping (YAML file)")],
    date_format: Annotated[
        str | None, typer.Option("--date-format", help="Overrides the mapping's date_format")
    ] = None,
) -> None:
    """Import any CSV export of incidents through a column and value mapping."""
    try:
        spec: ColumnMapping = parse_mapping(read_text(mapping, "--mapping"))
    except MappingError as exc:
        raise fail(f"{mapping}: {exc}", BAD_INPUT) from exc
    header, rows = _read(path, ())
    try:
        spec.check_header(header)
    except MappingError as exc:
        raise fail(f"{path}: {exc}", BAD_INPUT) from exc
    mapped = [
        (line, {**mapped_row, **({MALFORMED: row[MALFORMED]} if MALFORMED in row else {})})
        for (line, mapped_row), (_, row) in zip(spec.apply(rows), rows, strict=True)
    ]
    _run(mapped, date_format or spec.date_format or DEFAULT_DATE_FORMAT, "csv")
