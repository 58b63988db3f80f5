"""`dutydesk triage`: train the triage models, measure them on held-out history, show them.

Without ``--csv`` the examples are the resolved and closed incidents of the database (oldest
first). With ``--csv FILE --text-column COL [--text-column COL …] --label-column COL`` they
come from the file alone: ``evaluate`` then needs no database, and ``train`` stores the model
under the target ``csv:<label column>`` (kept and listed, not applied to new incidents), or,
with ``--target category|group``, under that target with each label matched to a category or
support group by name (or id), so that it is applied at creation like a model trained on
the incidents. Refused input — thin data, unknown columns, unknown labels — is one ``error:``
line and exit code 2, and nothing is stored.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dutydesk.catalog import queries as catalog
from dutydesk.cli.common import (
    BAD_INPUT,
    JsonOption,
    database,
    fail,
    handled,
    print_json,
    print_table,
    say,
    settings,
)
from dutydesk.db import Database
from dutydesk.kernel.errors import NotFound
from dutydesk.people import queries as people
from dutydesk.triage import queries, service
from dutydesk.triage.csvfile import CsvError, Dataset, read_csv
from dutydesk.triage.text import Examples, ThinData

app = typer.Typer(
    help="Learned triage: train, evaluate and inspect the models.", no_args_is_help=True
)

CsvOption = Annotated[
    Path | None, typer.Option("--csv", help="Learn from this CSV file instead of the incidents")
]
TextColumns = Annotated[
    list[str] | None,
    typer.Option("--text-column", help="CSV column holding text (repeat to join several)"),
]
LabelColumn = Annotated[
    str | None, typer.Option("--label-column", help="CSV column holding the label")
]
FieldColumns = Annotated[
    list[str] | None,
    typer.Option("--field-column", help="CSV column used as a categorical feature (repeatable)"),
]
MinExamples = Annotated[
    int | None,
    typer.Option(
        "--min-examples", min=2, help="Fewest usable examples (default DUTYDESK_TRIAGE_MIN_…)"
    ),
]


def _dataset(
    csv: Path, text_columns: list[str] | None, label_column: str | None, fields: list[str] | None
) -> Dataset:
    if not text_columns or not label_column:
        raise fail("--csv needs --text-column and --label-column", BAD_INPUT)
    try:
        return read_csv(csv, text_columns, label_column, fields or ())
    except CsvError as exc:
        raise fail(str(exc), BAD_INPUT) from exc


def _csv_report(data: Dataset) -> dict[str, Any]:
    return {
        "rows": data.rows,
        "skipped_empty_text": data.skipped_empty_text,
        "skipped_empty_label": data.skipped_empty_label,
        "encoding": data.encoding,
        "delimiter": data.delimiter,
    }


def _min(min_examples: int | None) -> int:
    return settings().triage_min_examples if min_examples is None else min_examples


def _db_examples(db: Database, target: str) -> Examples:
    with handled():
        spec = service.check_target(target)
    try:
        with db.unit_of_work(write=False) as session:
            examples, _read = queries.training_examples(
                session, spec, settings().triage_max_training_incidents
            )
    except SQLAlchemyError as exc:
        raise _not_ready(exc) from exc
    return examples


def _not_ready(exc: SQLAlchemyError) -> typer.Exit:
    first = str(exc).splitlines()[0][:200]
    return fail(f"the database cannot be used ({first}); run `dutydesk migrate` first", 1)


# ----------------------------------------------------------------------------- evaluate


@app.command("evaluate")
def evaluate_command(
    csv: CsvOption = None,
    text_column: TextColumns = None,
    label_column: LabelColumn = None,
    field_column: FieldColumns = None,
    target: Annotated[
        str, typer.Option(help="Without --csv: category, group or request")
    ] = "group",
    holdout: Annotated[float, typer.Option(help="Share of examples held out")] = 0.2,
    split: Annotated[
        str, typer.Option(help="time (the newest rows are held out) or random (stratified)")
    ] = "time",
    min_examples: MinExamples = None,
    as_json: JsonOption = False,
) -> None:
    """Train on the older part of the history, report accuracy on the held-out part."""
    # cycle: none; deferred: scikit-learn loads only for the commands that learn
    from dutydesk.triage.evaluate import evaluate

    if split not in ("time", "random"):
        raise fail(f"--split must be time or random, not {split!r}", BAD_INPUT)
    source: dict[str, Any]
    if csv is not None:
        data = _dataset(csv, text_column, label_column, field_column)
        examples, source = data.examples, {"source": str(csv), **_csv_report(data)}
    else:
        examples, source = _db_examples(database(), target), {"source": "incidents"}
        source["target"] = target
    started = time.perf_counter()
    try:
        result = evaluate(examples, holdout=holdout, how=split, min_examples=_min(min_examples))
    except ThinData as exc:
        raise fail(str(exc), BAD_INPUT) from exc
    result = {**source, **result, "seconds": round(time.perf_counter() - started, 2)}
    if as_json:
        print_json(result)
        return
    _print_evaluation(result)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f} %"


def _print_evaluation(result: dict[str, Any]) -> None:
    say(
        f"{result['n_train']} training and {result['n_test']} held-out examples "
        f"({result['split']} split), {result['n_classes']} classes, {result['seconds']} s"
    )
    if "rows" in result:
        say(
            f"{result['rows']} rows read ({result['encoding']}, delimiter "
            f"{result['delimiter']!r}): {result['skipped_empty_text']} without text and "
            f"{result['skipped_empty_label']} without label skipped"
        )
    if result["unseen_test_labels"]:
        say(f"{result['unseen_test_labels']} held-out examples have a label never seen in training")
    print_table(
        ("measure", "model", "majority baseline"),
        [
            ("accuracy", _pct(result["accuracy"]), _pct(result["baseline_accuracy"])),
            ("macro-F1", _pct(result["macro_f1"]), _pct(result["baseline_macro_f1"])),
            ("top-3 accuracy", _pct(result["top3_accuracy"]), ""),
            ("calibration error", _pct(result["calibration_error"]), ""),
        ],
    )
    print_table(
        ("confidence ≥", "coverage", "accuracy"),
        [(t["threshold"], _pct(t["coverage"]), _pct(t["accuracy"])) for t in result["thresholds"]],
    )


# ----------------------------------------------------------------------------- train


@app.command("train")
def train_command(
    csv: CsvOption = None,
    text_column: TextColumns = None,
    label_column: LabelColumn = None,
    field_column: FieldColumns = None,
    target: Annotated[
        list[str] | None,
        typer.Option(help="category, group or request (repeatable; default: all three)"),
    ] = None,
    min_examples: MinExamples = None,
    as_json: JsonOption = False,
) -> None:
    """Train and store new model versions (from the incidents, or from a CSV file)."""
    # cycle: none; deferred: scikit-learn loads only for the commands that learn
    from dutydesk.triage import training

    db = database()
    if csv is not None:
        result = _train_csv(db, csv, text_column, label_column, field_column, target, min_examples)
        if as_json:
            print_json(result)
        else:
            say(
                f"stored model v{result['version']} for {result['target']}: "
                f"{result['n_examples']} examples, {result['n_classes']} classes "
                f"({result['seconds']} s; {result['skipped_empty_text']} rows without text, "
                f"{result['skipped_empty_label']} without label skipped)"
            )
        return
    with handled():
        names = [service.check_target(t).name for t in (target or list(queries.TARGETS))]
    try:
        outcomes = training.train_from_incidents(db, settings(), names, min_examples=min_examples)
    except SQLAlchemyError as exc:
        raise _not_ready(exc) from exc
    if as_json:
        print_json({"models": [o.as_dict() for o in outcomes]})
    else:
        print_table(
            ("target", "version", "examples", "classes", "seconds", "not trained because"),
            [
                (o.target, o.version, o.n_examples, o.n_classes, round(o.seconds, 1), o.skipped)
                for o in outcomes
            ],
        )
    if not any(o.version for o in outcomes):
        reasons = "; ".join(f"{o.target}: {o.skipped}" for o in outcomes)
        raise fail(f"no model stored ({reasons})", BAD_INPUT)


def _train_csv(
    db: Database,
    csv: Path,
    text_column: list[str] | None,
    label_column: str | None,
    field_column: list[str] | None,
    target: list[str] | None,
    min_examples: int | None,
) -> dict[str, Any]:
    if target and (len(target) > 1 or target[0] not in ("category", "group")):
        raise fail("with --csv, --target is one of category or group", BAD_INPUT)
    data = _dataset(csv, text_column, label_column, field_column)
    name = target[0] if target else f"csv:{label_column}"
    try:
        with db.unit_of_work(write=False) as session:
            examples = _mapped(session, data.examples, name)
    except SQLAlchemyError as exc:
        raise _not_ready(exc) from exc
    # cycle: none; deferred: scikit-learn loads only for the commands that learn
    from dutydesk.triage.model import TextClassifier

    started = time.perf_counter()
    try:
        model = TextClassifier.fit(examples, min_examples=_min(min_examples))
    except ThinData as exc:
        raise fail(str(exc), BAD_INPUT) from exc
    seconds = round(time.perf_counter() - started, 2)
    with db.unit_of_work() as session:
        row = service.store_model(
            session, settings(), name, model, source="csv", metrics={"file": csv.name}
        )
        version = row.version
    return {
        "target": name,
        "version": version,
        "n_examples": model.n_examples,
        "n_classes": len(model.classes),
        "seconds": seconds,
        **_csv_report(data),
    }


def _mapped(session: Session, examples: Examples, target: str) -> Examples:
    """CSV labels as category or group ids (by name, case-insensitive, or by id)."""
    if target not in ("category", "group"):
        return examples
    if target == "category":
        known = {
            c.name.casefold(): c.id for c in catalog.list_categories(session) if not c.parent_id
        }
    else:
        known = {g.name.casefold(): g.id for g in people.list_groups(session)}
    ids = set(known.values())
    unknown: set[str] = set()
    labels = []
    for label in examples.labels:
        ident = known.get(label.casefold())
        if ident is None and label.isdigit() and int(label) in ids:
            ident = int(label)
        if ident is None:
            unknown.add(label)
        labels.append(str(ident))
    if unknown:
        shown = ", ".join(repr(u) for u in sorted(unknown)[:10])
        what = "top-level category" if target == "category" else "support group"
        raise fail(f"{len(unknown)} labels name no {what}: {shown}", BAD_INPUT)
    return Examples(examples.texts, examples.fields, labels)


# ----------------------------------------------------------------------------- status


@app.command("status")
def status_command(as_json: JsonOption = False) -> None:
    """The stored models (newest first), which are active, and whether they load."""
    db = database()
    config = settings()
    rows: list[dict[str, Any]] = []
    try:
        with db.unit_of_work(write=False) as session:
            for m in queries.list_models(session):
                rows.append(
                    {
                        "version": m.version,
                        "target": m.target,
                        "active": m.active,
                        "source": m.source,
                        "trained_at": m.trained_at.isoformat(),
                        "n_examples": m.n_examples,
                        "n_classes": m.n_classes,
                        "size_bytes": m.size_bytes,
                        "loads": _loads(session, m.version) if m.active else None,
                    }
                )
    except SQLAlchemyError as exc:
        raise _not_ready(exc) from exc
    if as_json:
        print_json({"auto_apply_confidence": config.triage_auto_apply_confidence, "models": rows})
        return
    say(f"auto-apply at confidence ≥ {config.triage_auto_apply_confidence}")
    print_table(
        ("version", "target", "active", "source", "trained at", "examples", "classes", "loads"),
        [
            (
                r["version"],
                r["target"],
                r["active"],
                r["source"],
                r["trained_at"],
                r["n_examples"],
                r["n_classes"],
                r["loads"],
            )
            for r in rows
        ],
    )


def _loads(session: Session, version: int) -> str:
    try:
        service.load_model(session, settings(), version)
    except (NotFound, ValueError) as exc:
        return f"no: {exc}"
    return "yes"
