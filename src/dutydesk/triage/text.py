"""The plain pieces of triage that need no numerical library: a document's text, labelled
examples, a prediction, the errors, and the model signature. Importing this (as the incident
service does on every creation) does not load scikit-learn.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MAX_CHARS = 3000  # of a document's text: long mail threads add cost, not signal
TOKEN_PATTERN = r"(?u)\b\w[\w.@-]*\w\b|\b\w\b"


def document(*parts: str | None) -> str:
    """The text of one example: its parts joined, whitespace collapsed, capped."""
    text = " \n".join(p for p in parts if p)
    return " ".join(text.split())[:MAX_CHARS]


class ThinData(ValueError):
    """Training data that cannot give a useful model; the message says why."""


class TamperedModel(ValueError):
    """A stored model whose signature does not match its bytes."""


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    top: list[tuple[str, float]]  # the k best labels with their probabilities
    words: list[str]  # what drove the prediction, strongest first


@dataclass
class Examples:
    """Training or evaluation rows: text, categorical fields and the label."""

    texts: list[str] = field(default_factory=list)
    fields: list[dict[str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def add(self, text: str, fields: Mapping[str, str], label: str) -> None:
        self.texts.append(text)
        self.fields.append(dict(fields))
        self.labels.append(label)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Iterable[int]) -> Examples:
        rows = list(index)
        return Examples(
            [self.texts[i] for i in rows],
            [self.fields[i] for i in rows],
            [self.labels[i] for i in rows],
        )


def check_trainable(examples: Examples, min_examples: int) -> None:
    """Refuse data a model cannot learn from, with a message naming the problem."""
    n = len(examples)
    if n == 0:
        raise ThinData("no usable examples (every row lacks a text or a label)")
    if not any(t.strip() for t in examples.texts):
        raise ThinData(f"the text of all {n} examples is empty")
    if n < min_examples:
        raise ThinData(f"only {n} usable examples; at least {min_examples} are needed")
    counts = Counter(examples.labels)
    if len(counts) < 2:
        raise ThinData(f"all {n} examples have the same label {examples.labels[0]!r}")


def sign(key: bytes, blob: bytes) -> str:
    return hmac.new(key, blob, hashlib.sha256).hexdigest()
