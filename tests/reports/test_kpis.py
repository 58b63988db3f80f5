"""KPI definitions (docs/kpis.md) on hand-built histories with known answers, via the API.

Three incidents of Acme, built through the real actions under a frozen clock:
- A (E-mail service, business-hours SLA Mon–Fri 09–17 UTC): opened Friday 16:00, assigned
  16:30, resolved Monday 10:00 → 66 h wall-clock, 2 h business;
- B: opened Monday 09:00, assigned 09:10, resolved 11:00, reopened 12:00, resolved 13:00;
- C: opened Monday 09:00, assigned to three groups in turn, resolved 15:00, rated 4 after
  closure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dutydesk.kernel import clock
from tests.factories import Cast, act, new_incident

API = "/api/v1"
H = 3600
FRI = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
MON = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def kpis(client: TestClient, who: Any, **params: Any) -> Any:
    return ok(client.get(f"{API}/reports/kpis", params=params, headers=who.headers))


@pytest.fixture
def world(client: TestClient, cast: Cast) -> dict[str, str]:
    bob = cast.bob.headers
    calendar = ok(
        client.post(
            f"{API}/admin/sla/calendars",
            json={
                "name": "Office hours",
                "config": {
                    "timezone": "UTC",
                    "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                },
            },
            headers=bob,
        ),
        201,
    )
    ok(
        client.post(
            f"{API}/admin/sla/policies",
            json={
                "name": "E-mail office hours",
                "service_id": cast.email_service.id,
                "calendar_id": calendar["id"],
                "response_seconds": 4 * H,
                "resolution_seconds": 8 * H,
            },
            headers=bob,
        ),
        201,
    )
    fields = {"caller_id": cast.dave.id, "category_id": cast.hardware.id}
    numbers: dict[str, str] = {}
    with clock.frozen(FRI) as move:
        a = new_incident(client, cast.bob, service_id=cast.email_service.id, **fields)
        numbers["A"] = a["number"]
        move(timedelta(minutes=30))
        ok(act(client, cast.alice, a["number"], "assign", group_id=cast.desk.id))
        move(MON - clock.now())  # Monday 09:00
        b = new_incident(client, cast.bob, **fields)["number"]
        c = new_incident(client, cast.bob, **fields)["number"]
        numbers.update(B=b, C=c)
        move(timedelta(minutes=10))
        ok(act(client, cast.alice, b, "assign", group_id=cast.desk.id))
        ok(act(client, cast.alice, c, "assign", group_id=cast.desk.id))
        move(timedelta(minutes=50))  # 10:00
        resolve = {"resolution_code": "fixed", "resolution_notes": "done", "is_workaround": False}
        ok(act(client, cast.alice, a["number"], "resolve", **resolve))
        ok(act(client, cast.bob, c, "assign", group_id=cast.apps.id))
        ok(act(client, cast.bob, c, "assign", group_id=cast.infra.id))
        move(timedelta(hours=1))  # 11:00
        ok(act(client, cast.alice, b, "resolve", **resolve))
        move(timedelta(hours=1))  # 12:00
        ok(act(client, cast.dave, b, "reopen", reason="broken again"))
        move(timedelta(hours=1))  # 13:00
        ok(act(client, cast.alice, b, "resolve", **resolve))
        move(timedelta(hours=2))  # 15:00
        ok(act(client, cast.bob, c, "resolve", **resolve))
        ok(act(client, cast.bob, c, "close"))
        ok(
            client.post(
                f"{API}/incidents/{c}/survey", json={"rating": 4}, headers=cast.dave.headers
            )
        )
    return numbers


def test_the_totals_match_the_definitions(client: TestClient, cast: Cast, world: Any) -> None:
    total = kpis(client, cast.bob)["total"]
    assert total["count"] == 3
    # acknowledged after 30 min, 10 min and 10 min
    assert total["mtta_seconds"] == pytest.approx((1800 + 600 + 600) / 3)
    # A: 66 h; B: 09:00 → final resolution 13:00 = 4 h; C: 09:00 → 15:00 = 6 h
    assert total["mttr_seconds"] == pytest.approx((66 + 4 + 6) * H / 3)
    assert total["mttr_median_seconds"] == pytest.approx(6 * H)
    # first contact: only A (B was reopened, C reassigned twice)
    assert total["fcr_rate"] == pytest.approx(1 / 3)
    assert total["reopen_rate"] == pytest.approx(1 / 3)
    assert total["reassignment_mean"] == pytest.approx(2 / 3)
    assert total["csat_mean"] == pytest.approx(4.0)
    assert total["csat_response_rate"] == pytest.approx(1.0)  # one closed, one rated
    assert total["sla_response_met_rate"] == pytest.approx(1.0)
    assert total["sla_resolution_met_rate"] == pytest.approx(1.0)


def test_business_time_counts_the_office_hours_only(
    client: TestClient, cast: Cast, world: Any
) -> None:
    rows = kpis(client, cast.bob, group_by="service", business="true")["groups"]
    email = next(r for r in rows if r["key"] == "E-mail")
    # Friday 16:00-17:00 and Monday 09:00-10:00: the weekend does not count
    assert email["mttr_seconds"] == pytest.approx(2 * H)
    assert email["mtta_seconds"] == pytest.approx(1800)
    wall = kpis(client, cast.bob, group_by="service")["groups"]
    assert next(r for r in wall if r["key"] == "E-mail")["mttr_seconds"] == pytest.approx(66 * H)


def test_a_reopened_incident_counts_to_its_final_resolution(
    client: TestClient, cast: Cast, world: Any
) -> None:
    day = kpis(
        client,
        cast.bob,
        opened_from=MON.isoformat(),
        opened_to=(MON + timedelta(days=1)).isoformat(),
        group_by="day",
    )
    assert [g["key"] for g in day["groups"]] == ["2026-03-09"]
    g = day["groups"][0]
    assert g["count"] == 2
    assert g["reopen_rate"] == pytest.approx(0.5)
    assert g["mttr_seconds"] == pytest.approx((4 + 6) * H / 2)
    assert g["mttr_median_seconds"] == pytest.approx(5 * H)


def test_grouping_by_week_and_group(client: TestClient, cast: Cast, world: Any) -> None:
    weeks = kpis(client, cast.bob, group_by="week")["groups"]
    assert [(w["key"], w["count"]) for w in weeks] == [("2026-03-02", 1), ("2026-03-09", 2)]
    groups = kpis(client, cast.bob, group_by="group")["groups"]
    by_name = {g["key"]: g for g in groups}
    assert by_name["Service Desk"]["count"] == 2
    assert by_name["Infrastructure"]["reassignment_mean"] == pytest.approx(2.0)
    months = kpis(client, cast.bob, group_by="month")["groups"]
    assert [m["key"] for m in months] == ["2026-03"]


def test_a_kpi_without_data_is_null_not_zero(client: TestClient, cast: Cast, world: Any) -> None:
    rows = kpis(client, cast.bob, group_by="priority")["groups"]
    assert all(r["csat_mean"] is None or r["csat_mean"] > 0 for r in rows)
    empty = kpis(client, cast.bob, opened_from="2030-01-01T00:00:00Z")
    assert empty["groups"] == []
    assert empty["total"]["count"] == 0
    for key in ("mtta_seconds", "mttr_seconds", "mttr_median_seconds", "fcr_rate", "csat_mean"):
        assert empty["total"][key] is None
    a_only = kpis(client, cast.bob, opened_to=(FRI + timedelta(hours=1)).isoformat())["total"]
    assert a_only["csat_mean"] is None and a_only["csat_response_rate"] is None
    assert a_only["reopen_rate"] == 0.0  # A was resolved and not reopened: a real 0


def test_filters(client: TestClient, cast: Cast, world: Any) -> None:
    assert kpis(client, cast.bob, service_id=cast.email_service.id)["total"]["count"] == 1
    assert kpis(client, cast.bob, group_id=cast.infra.id)["total"]["count"] == 1
    assert kpis(client, cast.bob, customer_id=cast.globex.id)["total"]["count"] == 0
    assert kpis(client, cast.bob, category_id=cast.hardware.id)["total"]["count"] == 3
    assert kpis(client, cast.bob, priority=3)["total"]["count"] == 3
    assert kpis(client, cast.bob, priority=1)["total"]["count"] == 0


def test_permissions_and_visibility(client: TestClient, cast: Cast, world: Any) -> None:
    assert client.get(f"{API}/reports/kpis", headers=cast.dave.headers).status_code == 403
    # alice is in the Service Desk and serves Acme: all three; eve sees none of Acme's
    assert kpis(client, cast.alice)["total"]["count"] == 3
    assert kpis(client, cast.eve)["total"]["count"] == 0
    bad = client.get(f"{API}/reports/kpis?group_by=colour", headers=cast.bob.headers)
    assert bad.status_code == 422
    backwards = client.get(
        f"{API}/reports/kpis",
        params={"opened_from": "2026-03-10T00:00:00Z", "opened_to": "2026-03-01T00:00:00Z"},
        headers=cast.bob.headers,
    )
    assert backwards.status_code == 422


def test_csv_and_the_other_tables(client: TestClient, cast: Cast, world: Any) -> None:
    r = client.get(f"{API}/reports/kpis?group_by=week&format=csv", headers=cast.bob.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("key,count,mtta_seconds")
    assert lines[-1].startswith("TOTAL,3,")
    dist = ok(client.get(f"{API}/reports/reassignments", headers=cast.bob.headers))["groups"]
    assert dist[0]["0"] == 2 and dist[0]["2"] == 1
    vol = ok(client.get(f"{API}/reports/volume?period=day", headers=cast.bob.headers))
    assert vol["periods"] == [
        {"period": "2026-03-06", "opened": 1, "resolved": 0},
        {"period": "2026-03-09", "opened": 2, "resolved": 3},
    ]
    backlog = ok(client.get(f"{API}/reports/backlog", headers=cast.bob.headers))
    assert backlog["groups"] == []  # everything is resolved
    csv_backlog = client.get(f"{API}/reports/backlog?format=csv", headers=cast.bob.headers)
    assert csv_backlog.status_code == 200
