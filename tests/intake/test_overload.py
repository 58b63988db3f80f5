"""E3, the receivers' negative cases: bodies over 512 KB answer 413 on every receiver, dedup
keys over 255 characters are refused, and a burst far past `intake_max_pending` answers
202 or 429 with Retry-After only (no 5xx), with exactly as many stored alerts as 202s."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake import service
from dutydesk.models import Alert
from tests.intake.helpers import make_integration, payload

EVENTS = "/api/v1/events"
PD = "/v2/enqueue"
BIG = "y" * (512 * 1024 + 1)


def alert_keys(db: Database) -> list[str]:
    with db.unit_of_work(write=False) as s:
        return sorted(s.scalars(select(Alert.dedup_key)).all())


def alert_count(db: Database) -> int:
    with db.unit_of_work(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Alert)) or 0)


@pytest.fixture
def token(db: Database, cast: Any) -> str:
    return make_integration(db)[1]


def test_bodies_over_512_kb_are_413_on_every_receiver(
    client: TestClient, token: str, db: Database
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    event = {"dedup_key": "big", "summary": "x", "labels": {"blob": BIG}}
    r = client.post(EVENTS, json=event, headers=auth)
    assert r.status_code == 413 and r.json()["status"] == 413
    am = payload("alertmanager_firing.json")
    am["commonAnnotations"] = {"blob": BIG}
    assert client.post(f"/integrations/alertmanager/{token}", json=am).status_code == 413
    pd = {**payload("pagerduty_trigger.json"), "routing_key": token}
    pd["payload"] = {**pd["payload"], "custom_details": {"blob": BIG}}
    r = client.post(PD, json=pd)
    assert r.status_code == 413 and r.json()["status"] == "invalid event"
    assert alert_count(db) == 0
    # The batch form is bounded by max_body_bytes (1 MB), not by the per-event limit.
    batch = [{"dedup_key": f"k{n}", "summary": "s" * 1000} for n in range(600)]
    assert client.post(EVENTS, json=batch, headers=auth).status_code == 202
    assert alert_count(db) == 600


def test_keys_over_255_characters_are_refused(client: TestClient, token: str, db: Database) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post(EVENTS, json={"dedup_key": "k" * 256, "summary": "x"}, headers=auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "dedup_key"
    pd = {**payload("pagerduty_trigger.json"), "routing_key": token, "dedup_key": "k" * 256}
    r = client.post(PD, json=pd)
    assert r.status_code == 400 and any("dedup_key" in e for e in r.json()["errors"])
    exact = {"dedup_key": "k" * 255, "summary": "x"}
    assert client.post(EVENTS, json=exact, headers=auth).status_code == 202
    assert alert_keys(db) == ["k" * 255]


def test_a_burst_past_the_limit_is_202_or_429_and_every_202_is_stored(
    client: TestClient,
    token: str,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer is held until every request has been answered or is waiting, so exactly
    `intake_max_pending` requests get in and the other 38 of the burst (20x the limit) are
    429s; then the held ones commit and answer 202."""
    settings.intake_max_pending = 2
    burst = 40
    release = threading.Event()
    entered = threading.Semaphore(0)
    real = service.ingest_many

    def held(*args: Any, **kwargs: Any) -> list[service.Ingested]:
        entered.release()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "ingest_many", held)
    answered = threading.Semaphore(0)

    def send(n: int) -> tuple[int, str | None, str]:
        if n % 2:
            r = client.post(
                EVENTS,
                json={"dedup_key": f"burst-{n}", "summary": "x"},
                headers={"Authorization": f"Bearer {token}"},
            )
        else:
            body = {**payload("pagerduty_trigger.json"), "routing_key": token}
            r = client.post(PD, json={**body, "dedup_key": f"burst-{n}"})
        answered.release()
        return r.status_code, r.headers.get("retry-after"), r.text

    with ThreadPoolExecutor(max_workers=burst) as pool:
        futures = [pool.submit(send, n) for n in range(burst)]
        assert entered.acquire(timeout=30)  # the first request holds the writer
        for _ in range(burst - settings.intake_max_pending):
            assert answered.acquire(timeout=30)
        release.set()
        results = [f.result(timeout=60) for f in futures]
    statuses = sorted(code for code, _, _ in results)
    assert statuses == [202] * 2 + [429] * (burst - 2), statuses
    assert all(after == "1" for code, after, _ in results if code == 429)
    assert not any("Traceback" in text for _, _, text in results)
    accepted = sorted(f"burst-{n}" for n, (code, _, _) in enumerate(results) if code == 202)
    assert alert_keys(db) == accepted
