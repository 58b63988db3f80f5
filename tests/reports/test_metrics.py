"""/metrics: the gauges read from the database and the request latencies."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Cast, new_incident


def test_metrics_report_incidents_outbox_and_latency(client: TestClient, cast: Cast) -> None:
    new_incident(client, cast.dave)
    new_incident(client, cast.dave, impact=1, urgency=1)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'dutydesk_incidents{priority="3",state="new"} 1.0' in text
    assert 'dutydesk_incidents{priority="1",state="new"} 1.0' in text
    assert "dutydesk_sla_clocks_due 0.0" in text
    assert "dutydesk_worker_lag_seconds 0.0" in text
    assert "# TYPE dutydesk_notifications gauge" in text
    assert (
        'dutydesk_request_seconds_count{method="POST",route="/api/v1/incidents",status="201"}'
        in text
    )
