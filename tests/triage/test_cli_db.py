"""`dutydesk triage train|evaluate|status` against a real database, and the worker's
scheduled retraining."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from dutydesk.cli import app as cli
from dutydesk.config import Settings, get_settings
from dutydesk.db import Database
from dutydesk.models import TriageModel, TriageSchedule
from dutydesk.triage import jobs
from dutydesk.triage.synthetic import tickets
from tests.factories import make_cast
from tests.triage.conftest import GROUP_OF, seed_history


@pytest.fixture
def run(fresh_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("DUTYDESK_DATABASE_URL", fresh_db.engine.url.render_as_string(False))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, list(args))
    get_settings.cache_clear()


def models(db: Database) -> int:
    with db.unit_of_work(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(TriageModel)) or 0)


def test_thin_history_stores_nothing_and_exits_2(run, fresh_db: Database) -> None:  # type: ignore[no-untyped-def]
    cast = make_cast(fresh_db)
    seed_history(fresh_db, cast, 30)
    result = run("triage", "train")
    assert result.exit_code == 2, result.output
    assert "only 30 usable examples; at least 50" in " ".join(result.stderr.split())
    assert "no incident was cancelled as a service request" in " ".join(result.stderr.split())
    assert models(fresh_db) == 0
    result = run("triage", "evaluate", "--target", "group", "--json")
    assert result.exit_code == 2 and result.stdout == ""


def test_train_evaluate_and_status_from_the_incidents(run, fresh_db: Database) -> None:  # type: ignore[no-untyped-def]
    cast = make_cast(fresh_db)
    seed_history(fresh_db, cast, 200)
    trained = run("triage", "train", "--json")
    assert trained.exit_code == 0, trained.output
    by_target = {m["target"]: m for m in json.loads(trained.stdout)["models"]}
    assert by_target["group"]["version"] == 1 and by_target["group"]["n_classes"] == 4
    assert by_target["category"]["version"] is None  # the history has no categories
    assert (
        "same label" in by_target["category"]["skipped"]
        or "no usable" in by_target["category"]["skipped"]
    )
    report = run("triage", "evaluate", "--target", "group", "--json")
    assert report.exit_code == 0, report.output
    figures = json.loads(report.stdout)
    assert figures["accuracy"] > figures["baseline_accuracy"] + 0.15  # 160 examples only
    assert (figures["n_train"], figures["n_test"]) == (160, 40)
    status = json.loads(run("triage", "status", "--json").stdout)
    assert [(m["version"], m["target"], m["active"], m["loads"]) for m in status["models"]] == [
        (1, "group", True, "yes")
    ]
    assert run("triage", "status").exit_code == 0


def test_train_csv_maps_labels_to_groups_or_keeps_them(
    run, fresh_db: Database, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cast = make_cast(fresh_db)
    path = tmp_path / "tickets.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["text", "team"])
        for t in tickets(150, classes=4):
            out.writerow([t.short_description, getattr(cast, GROUP_OF[t.label]).name.upper()])
    args = (
        "triage",
        "train",
        "--csv",
        str(path),
        "--text-column",
        "text",
        "--label-column",
        "team",
    )
    stored = run(*args, "--target", "group", "--json")
    assert stored.exit_code == 0, stored.output
    assert json.loads(stored.stdout)["target"] == "group"
    kept = run(*args, "--json")
    assert json.loads(kept.stdout)["target"] == "csv:team"
    path.write_text(path.read_text() + "vpn down,Nobody Team\n")
    refused = run(*args, "--target", "group")
    assert refused.exit_code == 2
    assert "1 labels name no support group: 'Nobody Team'" in refused.stderr
    assert run(*args, "--target", "request").exit_code == 2
    assert models(fresh_db) == 2


def test_the_worker_retrains_on_schedule_once(db: Database, cast, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    seed_history(db, cast, 120)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    run_once = jobs.retrain_due(db, settings, now)
    assert run_once.done == 1
    with db.unit_of_work(write=False) as s:
        row = s.get(TriageSchedule, 1)
        assert row is not None and row.retrain_at == now + timedelta(hours=24)
        assert row.last_result is not None and "group: v1 (120 examples)" in row.last_result
        assert "category:" in row.last_result  # and why that one was not trained
    assert models(db) == 1
    assert jobs.retrain_due(db, settings, now + timedelta(hours=23)).done == 0
    settings.triage_retrain_hours = 0
    assert jobs.retrain_due(db, settings, now + timedelta(days=2)).done == 0
    settings.triage_retrain_hours = 24
    assert jobs.retrain_due(db, settings, now + timedelta(days=2)).done == 1
    assert models(db) == 2


def test_a_worker_on_a_real_database_trains_in_a_child_process(
    fresh_db: Database, tmp_path: Path
) -> None:
    """The serving process keeps its GIL: the training runs in a spawned process, which
    reads and writes the same database (here: it stores the group model it learned)."""
    seed_history(fresh_db, make_cast(fresh_db), 120)
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, storage_dir=tmp_path / "files")
    assert not fresh_db.bound
    outcomes = jobs._train(fresh_db, settings, ["group"])
    assert [(o.target, o.version, o.n_examples) for o in outcomes] == [("group", 1, 120)]
    assert models(fresh_db) == 1
