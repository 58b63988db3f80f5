"""Reading labelled tickets from CSV and measuring a classifier on held-out rows (pure).

CSV files come from anywhere: the encoding is sniffed (UTF-8 with or without BOM, else
cp1252, else Latin-1, which never fails), the delimiter too (``,`` ``;`` tab ``|``), quoted
newlines are kept, several text columns are joined, and rows without text or label are
skipped and counted. Row order is taken as time order (the default split holds out the
newest rows, as a model trained today meets tomorrow's tickets).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from dutydesk.triage.features import document
from dutydesk.triage.model import Examples, TextClassifier, ThinData, check_trainable

THRESHOLDS = (0.5, 0.7, 0.9)
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


# ---------------------------------------------------------------------- evaluation


def split(examples: Examples, holdout: float, how: str, seed: int = 0) -> tuple[Examples, Examples]:
    """Train and test parts: the newest `holdout` share (time) or a random, stratified one."""
    if not 0 < holdout < 1:
        raise ThinData("--holdout must be between 0 and 1 (e.g. 0.2)")
    n = len(examples)
    n_test = round(n * holdout)
    if n_test < 1 or n - n_test < 2:
        raise ThinData(f"{n} examples cannot be split with a holdout of {holdout}")
    if how == "time":
        return examples.subset(range(n - n_test)), examples.subset(range(n - n_test, n))
    counts = Counter(examples.labels)
    stratify = examples.labels if min(counts.values()) >= 2 and n_test >= len(counts) else None
    train_idx, test_idx = train_test_split(
        np.arange(n), test_size=n_test, random_state=seed, stratify=stratify
    )
    return examples.subset(np.sort(train_idx)), examples.subset(np.sort(test_idx))


def metrics(model: TextClassifier, train: Examples, test: Examples, k: int = 3) -> dict[str, Any]:
    """Accuracy, macro-F1, top-k accuracy and accuracy/coverage at confidence thresholds,
    next to the majority-class baseline (the most frequent training label, always)."""
    proba = model.predict_proba(test.texts, test.fields)
    classes = np.asarray(model.classes, dtype=object)
    truth = np.asarray(test.labels, dtype=object)
    predicted = classes[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    correct = predicted == truth
    top = classes[np.argsort(-proba, axis=1)[:, :k]]
    majority = Counter(train.labels).most_common(1)[0][0]
    baseline = np.full(len(truth), majority, dtype=object)
    at = []
    for threshold in THRESHOLDS:
        kept = confidence >= threshold
        at.append(
            {
                "threshold": threshold,
                "coverage": round(float(kept.mean()), 4),
                "accuracy": round(float(correct[kept].mean()), 4) if kept.any() else None,
            }
        )
    return {
        "accuracy": round(float(correct.mean()), 4),
        "macro_f1": round(_macro_f1(truth, predicted), 4),
        f"top{k}_accuracy": round(float((top == truth[:, None]).any(axis=1).mean()), 4),
        "baseline_accuracy": round(float((baseline == truth).mean()), 4),
        "baseline_macro_f1": round(_macro_f1(truth, baseline), 4),
        "baseline_label": majority,
        "mean_confidence": round(float(confidence.mean()), 4),
        "calibration_error": round(_ece(confidence, correct), 4),
        "thresholds": at,
        "n_train": len(train),
        "n_test": len(test),
        "n_classes": len(model.classes),
        "unseen_test_labels": int(np.sum(~np.isin(truth, classes))),
    }


def _macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(
        f1_score(truth.astype(str), predicted.astype(str), average="macro", zero_division=0)
    )


def _ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |accuracy − confidence| per confidence bin, weighted."""
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def evaluate(
    examples: Examples,
    *,
    holdout: float = 0.2,
    how: str = "time",
    min_examples: int = 50,
    seed: int = 0,
) -> dict[str, Any]:
    """Train on the older part, measure on the held-out part."""
    check_trainable(examples, min_examples)
    train, test = split(examples, holdout, how, seed)
    model = TextClassifier.fit(train, min_examples=min_examples, seed=seed)
    return {"split": how, "holdout": holdout, **metrics(model, train, test)}
