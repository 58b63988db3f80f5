"""CSV files from anywhere: encodings, delimiters, quoted newlines, empty rows, rare classes;
and `dutydesk triage evaluate|train --csv` (no database needed to evaluate)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dutydesk.cli import app as cli
from dutydesk.triage.csvfile import CsvError, read_csv
from dutydesk.triage.synthetic import tickets

KEYS = {"accuracy", "macro_f1", "top3_accuracy", "baseline_accuracy", "n_train", "n_test"}


def write_tickets(path: Path, n: int, *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        out = csv.writer(f, delimiter=delimiter)
        out.writerow(["Subject", "Body", "Queue"])
        for t in tickets(n):
            out.writerow([t.short_description, t.description, t.label])
    return path


def test_cp1252_semicolons_quoted_newlines_and_empty_rows(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    rows = [
        "Titre;Texte;Catégorie",
        'Imprimante bloquée;"le papier\nest coincé; encore";Impression',
        "Café renversé;clavier mouillé;Matériel",
        ";;Matériel",  # no text: skipped
        "Écran noir;;",  # no label: skipped
        "",
        "VPN lent;latence élevée;Réseau",
    ]
    path.write_bytes("\r\n".join(rows).encode("cp1252"))
    data = read_csv(path, ["titre", "Texte"], "Catégorie")
    assert (data.encoding, data.delimiter) == ("cp1252", ";")
    assert data.examples.labels == ["Impression", "Matériel", "Réseau"]
    assert data.examples.texts[0] == "Imprimante bloquée le papier est coincé; encore"
    assert (data.rows, data.skipped_empty_text, data.skipped_empty_label) == (5, 1, 1)


def test_utf8_with_bom_tabs_and_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_bytes("\ufeffsubject\tqueue\nnaïve printer\tprint\n".encode() + b"x\x81y\tother\n")
    data = read_csv(path, ["subject"], "queue")
    assert data.encoding == "latin-1"  # one byte cp1252 cannot decode: nothing fails
    path.write_bytes("\ufeffsubject\tqueue\nnaïve printer\tprint\n".encode())
    data = read_csv(path, ["subject"], "queue")
    assert (data.encoding, data.delimiter, data.examples.texts) == (
        "utf-8",
        "\t",
        ["naïve printer"],
    )


def test_unknown_columns_and_empty_files_are_named(tmp_path: Path) -> None:
    path = write_tickets(tmp_path / "t.csv", 5)
    with pytest.raises(CsvError, match="no column 'text'; the file's columns are 'Subject'"):
        read_csv(path, ["text"], "Queue")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(CsvError, match="is empty"):
        read_csv(tmp_path / "empty.csv", ["a"], "b")
    with pytest.raises(CsvError, match="cannot read"):
        read_csv(tmp_path / "missing.csv", ["a"], "b")


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_evaluate_csv_prints_one_json_object(tmp_path: Path) -> None:
    path = write_tickets(tmp_path / "t.csv", 400, delimiter=";")
    result = run(
        "triage", "evaluate", "--csv", str(path), "--text-column", "Subject",
        "--text-column", "Body", "--label-column", "Queue", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= KEYS
    assert (report["n_train"], report["n_test"], report["split"]) == (320, 80, "time")
    assert report["accuracy"] > report["baseline_accuracy"] + 0.3


def test_evaluate_csv_random_split_as_a_table(tmp_path: Path) -> None:
    path = write_tickets(tmp_path / "t.csv", 300)
    result = run(
        "triage", "evaluate", "--csv", str(path), "--text-column", "Subject",
        "--label-column", "Queue", "--split", "random", "--holdout", "0.3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "majority baseline" in result.stdout and "macro-F1" in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--label-column", "Queue", "--min-examples", "500"], "at least 500 are needed"),
        (["--label-column", "Nope"], "no column 'Nope'"),
        ([], "--csv needs --text-column and --label-column"),
        (["--label-column", "Queue", "--holdout", "1.5"], "--holdout must be between 0 and 1"),
        (["--label-column", "Queue", "--split", "sideways"], "--split must be time or random"),
    ],
)
def test_refused_input_is_one_error_line_and_exit_2(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    path = write_tickets(tmp_path / "t.csv", 100)
    result = run("triage", "evaluate", "--csv", str(path), "--text-column", "Subject", *extra)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error:") and message in " ".join(result.stderr.split())
