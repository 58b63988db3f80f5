"""The parsers, on real payloads of each source: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dutydesk.intake.schemas import EventCreate
from dutydesk.intake.signals import EventAction, SignalError, normalize_severity, raw_text
from dutydesk.intake.sources import alertmanager, generic, pagerduty
from tests.intake.helpers import payload


def test_alertmanager_firing_group_becomes_one_signal_per_alert() -> None:
    signals = alertmanager.parse(payload("alertmanager_firing.json"))
    assert [s.dedup_key for s in signals] == ["c3a1b2d4e5f60718", "9f8e7d6c5b4a3921"]
    first = signals[0]
    assert first.action == EventAction.trigger
    assert first.summary == "High error rate on db01"
    assert first.severity == "critical"
    assert first.service == "Payments"
    assert first.ci == "db01:9100"
    assert first.occurred_at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert first.links[0]["href"].startswith("http://prometheus.example:9090/")
    assert signals[1].severity == "warning"


def test_alertmanager_resolved_uses_ends_at() -> None:
    signals = alertmanager.parse(payload("alertmanager_resolved.json"))
    assert {s.action for s in signals} == {EventAction.resolve}
    assert signals[0].occurred_at == datetime(2026, 11, 22, 10, 20, tzinfo=UTC)


def test_alertmanager_without_fingerprint_keys_on_the_labels() -> None:
    body = payload("alertmanager_firing.json")
    for alert in body["alerts"]:
        del alert["fingerprint"]
    again = payload("alertmanager_firing.json")
    for alert in again["alerts"]:
        del alert["fingerprint"]
    keys = [s.dedup_key for s in alertmanager.parse(body)]
    assert keys == [s.dedup_key for s in alertmanager.parse(again)]
    assert len(set(keys)) == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(version="3"), "version"),
        (lambda b: b.update(alerts="x"), "alerts"),
        (lambda b: b["alerts"][1].update(status="pending"), "alerts.1.status"),
        (lambda b: b["alerts"][0].update(labels=["a"]), "alerts.0.labels"),
        (lambda b: b["alerts"][0].update(fingerprint="x" * 256), "alerts.0.fingerprint"),
    ],
)
def test_alertmanager_bad_payloads_name_the_field(mutate: object, field: str) -> None:
    body = payload("alertmanager_firing.json")
    mutate(body)  # type: ignore[operator]
    with pytest.raises(SignalError) as caught:
        alertmanager.parse(body)
    assert field in [e["field"] for e in caught.value.errors]


def test_pagerduty_trigger_from_the_documentation() -> None:
    signal = pagerduty.parse(payload("pagerduty_trigger.json"))
    assert signal.dedup_key == "samplekeyhere"
    assert signal.action == EventAction.trigger
    assert signal.severity == "critical"
    assert signal.source == "prod-datapipe03.example.com"
    assert signal.service == "prod-datapipe" and signal.ci == "mysql"
    assert signal.labels["free space"] == "1%" and signal.labels["class"] == "disk"
    assert signal.links == [{"href": "https://example.com/", "text": "Link text"}]
    assert signal.occurred_at is not None and signal.occurred_at.tzinfo is not None
    assert "routing_key" not in signal.raw


def test_pagerduty_resolve_and_generated_key() -> None:
    assert pagerduty.parse(payload("pagerduty_resolve.json")).action == EventAction.resolve
    body = payload("pagerduty_trigger.json")
    del body["dedup_key"]
    first, second = pagerduty.parse(body), pagerduty.parse(body)
    assert first.dedup_key != second.dedup_key  # PagerDuty: a trigger without key is new


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(event_action="explode"), "event_action"),
        (lambda b: b.update(dedup_key="k" * 256), "dedup_key"),
        (lambda b: b.pop("routing_key"), "routing_key"),
        (lambda b: b["payload"].pop("summary"), "payload.summary"),
        (lambda b: b["payload"].update(summary="s" * 1025), "payload.summary"),
        (lambda b: b["payload"].update(severity="urgent"), "payload.severity"),
        (lambda b: b["payload"].pop("source"), "payload.source"),
        (lambda b: b.update(payload=None), "payload"),
    ],
)
def test_pagerduty_invalid_events(mutate: object, field: str) -> None:
    body = payload("pagerduty_trigger.json")
    mutate(body)  # type: ignore[operator]
    with pytest.raises(SignalError) as caught:
        pagerduty.parse(body)
    assert field in [e["field"] for e in caught.value.errors]


def test_pagerduty_acknowledge_needs_a_key() -> None:
    with pytest.raises(SignalError):
        pagerduty.parse({"routing_key": "x", "event_action": "acknowledge"})
    assert pagerduty.parse({"routing_key": "x", "event_action": "acknowledge", "dedup_key": "k"})


def test_generic_event() -> None:
    signal = generic.parse(EventCreate.model_validate(payload("generic_event.json")))
    assert signal.dedup_key == "web01/http_5xx"
    assert signal.service == "Payments" and signal.ci == "web01"
    assert signal.labels == {"check": "http_5xx", "site": "fra1"}
    assert generic.parse(EventCreate(dedup_key="k", status="resolved")).action == "resolve"


def test_severity_words_and_raw_limit() -> None:
    assert [normalize_severity(w) for w in ("P1", "warn", "major", "debug", None)] == [
        "critical",
        "warning",
        "error",
        "info",
        "error",
    ]
    assert raw_text({"a": "x" * 100}, 20).endswith("…[cut]")
    assert len(raw_text({"a": "x" * 100}, 20)) == 26
