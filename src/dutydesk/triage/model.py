"""One learned classifier (pure, no DB): fitting with the thin-data checks, calibrated
probabilities, explanations from the linear weights, and signed serialisation.

The classifier is a multinomial logistic regression over ``features.Featurizer``; its
probabilities are calibrated by temperature scaling (one scalar fitted by likelihood on a
held-out fifth of the training data, then the model is refitted on all of it unless the
history is large), which keeps
the ranking and the linear weights an explanation reads. An explanation names the words and
fields that contributed most to the predicted class: feature value × (class weight − mean
weight over classes), the part of the logit that sets this class apart.
"""

from __future__ import annotations

import hmac
import io
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import joblib
import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from dutydesk.triage.features import EmptyVocabulary, Featurizer
from dutydesk.triage.text import (
    Examples,
    Prediction,
    TamperedModel,
    ThinData,
    check_trainable,
    sign,
)

FORMAT = 1  # bumped when the stored object's shape changes; older rows are refused
CALIBRATION_SHARE = 0.2
MIN_CALIBRATION = 30  # held-out examples below which the temperature stays 1
NO_REFIT_FROM = 20_000  # examples from which the calibrated model is kept, not refitted
SAGA_BUDGET = 2_000_000  # examples x classes above which fewer epochs are run
EXPLAIN_TERMS = 5
EXPLAIN_FLOOR = 0.25  # of the strongest term's contribution


@dataclass
class TextClassifier:
    """A fitted featurizer + logistic regression + temperature for one label."""

    featurizer: Featurizer
    estimator: LogisticRegression
    temperature: float
    classes: list[str]
    n_examples: int
    format: int = FORMAT

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(cls, examples: Examples, *, min_examples: int = 50, seed: int = 0) -> TextClassifier:
        check_trainable(examples, min_examples)
        if int(len(examples) * CALIBRATION_SHARE) < MIN_CALIBRATION:
            return cls._fit_plain(examples, seed)
        fit_idx, cal_idx = _calibration_split(examples.labels, seed)
        first = cls._fit_plain(examples.subset(fit_idx), seed)
        temperature = first._fit_temperature(examples.subset(cal_idx))
        # four fifths of a large history teach as much, at half the cost of a refit
        large = len(examples) >= NO_REFIT_FROM
        model = first if large else cls._fit_plain(examples, seed)
        model.temperature = temperature
        model.n_examples = len(examples)
        return model

    @classmethod
    def _fit_plain(cls, examples: Examples, seed: int) -> TextClassifier:
        classes = sorted(set(examples.labels))
        featurizer = Featurizer(n_classes=len(classes))
        try:
            x = featurizer.fit_transform(examples.texts, examples.fields)
        except EmptyVocabulary as exc:
            raise ThinData("no example's text contains a usable word") from exc
        epochs = 100 if len(examples) * len(classes) <= SAGA_BUDGET else 30
        estimator = LogisticRegression(
            C=8.0, solver="saga", max_iter=epochs, tol=1e-3, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the epochs are a cost cap
            estimator.fit(x, examples.labels)
        estimator.coef_ = estimator.coef_.astype(np.float32)
        return cls(featurizer, estimator, 1.0, [str(c) for c in estimator.classes_], len(examples))

    def _fit_temperature(self, held_out: Examples) -> float:
        """The temperature that maximises the likelihood of held-out labels (scalar search)."""
        logits = self._logits(held_out.texts, held_out.fields)
        index = {c: i for i, c in enumerate(self.classes)}
        known = [i for i, label in enumerate(held_out.labels) if label in index]
        if len(known) < MIN_CALIBRATION:
            return 1.0
        target = np.array([index[held_out.labels[i]] for i in known])
        z = logits[known]

        def nll(log_t: float) -> float:
            logp = log_softmax(z / np.exp(log_t), axis=1)
            return float(-logp[np.arange(len(target)), target].mean())

        found = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
        return float(np.exp(found.x))

    # ------------------------------------------------------------------ predicting

    def _logits(self, texts: Sequence[str], fields: Sequence[Mapping[str, str]]) -> np.ndarray:
        x = self.featurizer.transform(texts, fields)
        return self._logits_of(x)

    def _logits_of(self, x: sp.csr_matrix) -> np.ndarray:
        coef, intercept = self.estimator.coef_, self.estimator.intercept_
        scores: np.ndarray = np.asarray(x @ coef.T, dtype=np.float64) + intercept
        if coef.shape[0] == 1:  # binary: one logit, for the second class
            scores = np.column_stack([np.zeros(len(scores)), scores[:, 0]])
        return scores

    def predict_proba(
        self, texts: Sequence[str], fields: Sequence[Mapping[str, str]]
    ) -> np.ndarray:
        """Calibrated probabilities, one column per entry of ``classes``."""
        return np.asarray(softmax(self._logits(texts, fields) / self.temperature, axis=1))

    def predict(self, text: str, fields: Mapping[str, str], k: int = 3) -> Prediction:
        x = self.featurizer.transform([text], [fields])
        proba = softmax(self._logits_of(x)[0] / self.temperature)
        order = np.argsort(-proba)[:k]
        best = int(order[0])
        return Prediction(
            label=self.classes[best],
            confidence=float(proba[best]),
            top=[(self.classes[i], float(proba[i])) for i in order],
            words=self.explain(x, best),
        )

    def explain(self, x: sp.csr_matrix, class_index: int) -> list[str]:
        """The readable features that pushed the document towards the class, strongest first."""
        coef = self.estimator.coef_
        row = x.getrow(0)
        columns = row.indices
        if coef.shape[0] == 1:  # binary: the weight favours class 1, its opposite class 0
            weights = coef[0, columns] * (1.0 if class_index == 1 else -1.0)
        else:
            sub = coef[:, columns]
            weights = sub[class_index] - sub.mean(axis=0)
        named = [
            (float(v * w), self.featurizer.name_of(int(c)))
            for c, v, w in zip(columns, row.data, weights, strict=True)
        ]
        ranked = sorted(((w, n) for w, n in named if n is not None and w > 0), reverse=True)
        if not ranked:
            return []
        floor = ranked[0][0] * EXPLAIN_FLOOR  # a word that barely mattered is noise
        return [name for w, name in ranked[:EXPLAIN_TERMS] if w >= floor]


def _calibration_split(labels: Sequence[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(len(labels))
    counts = Counter(labels)
    stratify = list(labels) if min(counts.values()) >= 2 else None
    n_cal = int(len(labels) * CALIBRATION_SHARE)
    if stratify is not None and n_cal < len(counts):
        stratify = None
    fit_idx, cal_idx = train_test_split(
        index, test_size=CALIBRATION_SHARE, random_state=seed, stratify=stratify
    )
    return np.sort(fit_idx), np.sort(cal_idx)


# ---------------------------------------------------------------------- storage


def dumps(model: TextClassifier) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def loads(blob: bytes, signature: str, key: bytes) -> TextClassifier:
    """Unpickle only bytes this installation signed: unpickling runs code, so a model that
    was not written by DutyDesk itself (or was altered since) is refused before loading."""
    if not hmac.compare_digest(sign(key, blob), signature):
        raise TamperedModel("the stored model's signature does not match; refusing to load it")
    model = joblib.load(io.BytesIO(blob))
    if not isinstance(model, TextClassifier) or model.format != FORMAT:
        raise TamperedModel("the stored model has an unknown format; train a new one")
    return model
