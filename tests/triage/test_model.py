"""The classifier on generated tickets of known structure: it learns the structure, a
shuffled-label control learns nothing, confidence means something, thin data is refused,
and a stored model loads only with its signature."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dutydesk.triage.evaluate import evaluate, metrics, split
from dutydesk.triage.model import TextClassifier, dumps, loads
from dutydesk.triage.synthetic import VOCABULARIES, tickets
from dutydesk.triage.text import Examples, TamperedModel, ThinData, document, sign


def generated(n: int, seed: int = 1, **kwargs: float) -> Examples:
    examples = Examples()
    for t in tickets(n, seed=seed, **kwargs):  # type: ignore[arg-type]
        examples.add(document(t.short_description, t.description), {"channel": "phone"}, t.label)
    return examples


@pytest.fixture(scope="module")
def data() -> Examples:
    return generated(1500)


@pytest.fixture(scope="module")
def result(data: Examples) -> dict[str, object]:
    return evaluate(data, holdout=0.3)


def test_the_model_beats_the_majority_baseline_by_a_wide_margin(result: dict) -> None:
    assert result["baseline_accuracy"] < 0.35
    assert result["accuracy"] >= result["baseline_accuracy"] + 0.4
    assert result["macro_f1"] > result["baseline_macro_f1"] + 0.5
    assert result["top3_accuracy"] >= result["accuracy"]
    assert (result["n_train"], result["n_test"], result["n_classes"]) == (1050, 450, 6)


def test_a_shuffled_label_control_does_not_beat_the_baseline(data: Examples) -> None:
    labels = list(data.labels)
    random.Random(7).shuffle(labels)
    shuffled = evaluate(Examples(data.texts, data.fields, labels), holdout=0.3)
    assert shuffled["accuracy"] < shuffled["baseline_accuracy"] + 0.05
    # and it knows it: it is rarely confident
    assert shuffled["thresholds"][1]["coverage"] < 0.05


def test_confidence_tracks_accuracy(result: dict) -> None:
    assert result["calibration_error"] < 0.08
    accuracies = [t["accuracy"] for t in result["thresholds"] if t["accuracy"] is not None]
    coverages = [t["coverage"] for t in result["thresholds"]]
    assert accuracies == sorted(accuracies)  # more confident, more often right
    assert coverages == sorted(coverages, reverse=True)
    assert accuracies[-1] > result["accuracy"]


def test_random_split_is_stratified_and_rare_classes_do_not_crash() -> None:
    examples = generated(300)
    examples.add("a lonely ticket about the coffee machine", {}, "facilities")
    train, test = split(examples, 0.2, "random")
    assert len(train) + len(test) == 301
    model = TextClassifier.fit(train)
    assert metrics(model, train, test)["n_test"] == 60


def test_a_prediction_names_the_words_that_drove_it(data: Examples) -> None:
    model = TextClassifier.fit(data)
    prediction = model.predict("printer toner paper jam please help", {"channel": "phone"})
    assert prediction.label == "printing"
    assert prediction.confidence > 0.7
    assert {"printer", "toner", "paper", "jam"} & set(prediction.words)
    assert not set(prediction.words) & {"please", "help"}
    assert prediction.top[0][0] == "printing"
    assert len(prediction.top) == 3


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        (Examples(), "no usable examples"),
        (Examples(["", " "] * 30, [{}] * 60, ["a", "b"] * 30), "text of all 60 examples is empty"),
        (generated(20), "only 20 usable examples; at least 50"),
        (Examples(["printer jam"] * 60, [{}] * 60, ["printing"] * 60), "same label 'printing'"),
        (Examples(["!!", "??"] * 30, [{}] * 60, ["a", "b"] * 30), "usable word"),
    ],
)
def test_thin_data_is_refused_with_a_reason(examples: Examples, message: str) -> None:
    with pytest.raises(ThinData, match=message):
        TextClassifier.fit(examples, min_examples=50)


def test_save_and_load_need_the_signature() -> None:
    model = TextClassifier.fit(generated(200))
    blob = dumps(model)
    key = b"k" * 32
    loaded = loads(blob, sign(key, blob), key)
    text = " ".join(VOCABULARIES["email"][:3])
    assert loaded.predict(text, {}).label == model.predict(text, {}).label
    assert np.allclose(loaded.predict_proba([text], [{}]), model.predict_proba([text], [{}]))
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(TamperedModel):
        loads(tampered, sign(key, blob), key)
    with pytest.raises(TamperedModel):
        loads(blob, sign(b"x" * 32, blob), key)
