"""Measuring a classifier on held-out examples (pure): the split (time-ordered by default:
the newest rows are held out, as a model trained today meets tomorrow's tickets) and the
figures beside the majority-class baseline."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from dutydesk.triage.model import TextClassifier
from dutydesk.triage.text import Examples, ThinData, check_trainable

THRESHOLDS = (0.5, 0.7, 0.9)


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
