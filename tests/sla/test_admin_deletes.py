"""Deleting calendars, SLA policies and OLAs through the admin API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Cast

API = "/api/v1/admin/sla"


def test_a_calendar_in_use_stays_and_an_unused_one_goes(client: TestClient, cast: Cast) -> None:
    bob = cast.bob.headers
    used = client.delete(f"{API}/calendars/1", headers=bob)
    assert used.status_code == 409 and "SLA policies" in used.json()["detail"]
    config = {"timezone": "Asia/Kolkata", "hours": {"mon": ["09:30-18:00"]}}
    made = client.post(f"{API}/calendars", json={"name": "Pune", "config": config}, headers=bob)
    assert made.status_code == 201, made.text
    url = f"{API}/calendars/{made.json()['id']}"
    assert client.delete(url, headers=bob).status_code == 204
    assert client.delete(url, headers=bob).status_code == 404


def test_the_last_catch_all_policy_cannot_be_deleted(client: TestClient, cast: Cast) -> None:
    bob = cast.bob.headers
    policies = client.get(f"{API}/policies", headers=bob).json()
    default = next(p for p in policies if p["name"] == "Default")
    r = client.delete(f"{API}/policies/{default['id']}", headers=bob)
    assert r.status_code == 409 and "last catch-all" in r.json()["detail"]
    # a policy created without a calendar gets the 24x7 one
    made = client.post(
        f"{API}/policies",
        json={"name": "Catch-all 2", "resolution_seconds": 3600},
        headers=bob,
    )
    assert made.status_code == 201 and made.json()["calendar_id"] == 1
    assert client.delete(f"{API}/policies/{default['id']}", headers=bob).status_code == 204
    names = {p["name"] for p in client.get(f"{API}/policies", headers=bob).json()}
    assert "Default" not in names and "Catch-all 2" in names


def test_olas_can_be_deleted(client: TestClient, cast: Cast) -> None:
    bob = cast.bob.headers
    made = client.post(
        f"{API}/olas", json={"group_id": cast.apps.id, "resolution_seconds": 7200}, headers=bob
    )
    assert made.status_code == 201, made.text
    url = f"{API}/olas/{made.json()['id']}"
    assert client.delete(url, headers=cast.alice.headers).status_code == 403
    assert client.delete(url, headers=bob).status_code == 204
    assert client.get(f"{API}/olas", headers=bob).json() == []
