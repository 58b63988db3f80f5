"""The admin API for escalation paths and levels: validation names the field, a refused
write leaves nothing behind, admins write and staff read."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from dutydesk.db import Database
from dutydesk.models import SupportGroup
from tests.escalation.conftest import API, make_level, make_path, ok
from tests.factories import Cast

PATHS = f"{API}/admin/escalation/paths"
LEVELS = f"{API}/admin/escalation/levels"


def fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    return {e["field"] for e in response.json()["errors"]}


def test_a_path_is_created_read_changed_and_deleted(client: TestClient, cast: Cast) -> None:
    made = make_path(client, cast, category_id=cast.hardware.id)
    assert [(s["level"], s["group_id"], s["auto"]) for s in made["steps"]] == [
        (1, cast.desk.id, True),
        (2, cast.apps.id, False),
        (3, cast.infra.id, False),
        (4, cast.vendor.id, False),
    ]
    url = f"{PATHS}/{made['id']}"
    assert ok(client.get(url, headers=cast.alice.headers))["name"] == "Desk path"  # staff read
    assert [p["id"] for p in ok(client.get(PATHS, headers=cast.eve.headers))] == [made["id"]]
    patched = ok(
        client.patch(
            url,
            json={
                "name": "Hardware path",
                "steps": [
                    {"level": 2, "group_id": cast.vendor.id},
                    {"level": 1, "group_id": cast.infra.id, "auto": True},
                ],
            },
            headers=cast.bob.headers,
        )
    )
    assert patched["name"] == "Hardware path"
    assert [(s["level"], s["group_id"]) for s in patched["steps"]] == [
        (1, cast.infra.id),
        (2, cast.vendor.id),
    ]
    assert client.delete(url, headers=cast.bob.headers).status_code == 204
    assert client.get(url, headers=cast.bob.headers).status_code == 404
    assert ok(client.get(PATHS, headers=cast.bob.headers)) == []


def test_only_admins_write_and_requesters_do_not_read(client: TestClient, cast: Cast) -> None:
    body = {"name": "Mine", "steps": [{"level": 1, "group_id": cast.desk.id}]}
    assert client.post(PATHS, json=body, headers=cast.alice.headers).status_code == 403
    assert client.post(PATHS, json=body, headers=cast.ivy.headers).status_code == 403
    assert client.get(PATHS, headers=cast.dave.headers).status_code == 403
    assert client.get(LEVELS, headers=cast.dave.headers).status_code == 403
    assert ok(client.get(PATHS, headers=cast.alice.headers)) == []


def test_a_bad_path_is_refused_whole_naming_every_field(
    client: TestClient, cast: Cast, db: Database
) -> None:
    with db.unit_of_work() as s:  # an inactive group may not be a step
        s.execute(
            update(SupportGroup).where(SupportGroup.id == cast.vendor.id).values(is_active=False)
        )
    bad = client.post(
        PATHS,
        json={
            "name": "Broken",
            "category_id": 999999,
            "steps": [
                {"level": 1, "group_id": cast.infra.id},
                {"level": 3, "group_id": cast.apps.id},  # L3 → L2 goes down
                {"level": 2, "group_id": 999999},  # no such group
                {"level": 5, "group_id": cast.vendor.id, "auto": True},  # 5 of 4; inactive; last
            ],
        },
        headers=cast.bob.headers,
    )
    assert fields(bad) == {
        "category_id",
        "steps.3.level",
        "steps.1.group_id",
        "steps.2.group_id",
        "steps.3.group_id",
        "steps.3.auto",
    }
    assert "tiers never go down" in bad.text
    assert fields(
        client.post(PATHS, json={"name": "No steps", "steps": []}, headers=cast.bob.headers)
    ) == {"steps"}
    assert fields(
        client.post(PATHS, json={"name": " ", "steps": [{"level": 1}]}, headers=cast.bob.headers)
    ) == {"name", "steps.0.group_id"}
    assert ok(client.get(PATHS, headers=cast.bob.headers)) == []  # nothing half-written


def test_two_active_paths_for_the_same_scope_conflict(client: TestClient, cast: Cast) -> None:
    first = make_path(client, cast)
    twin = client.post(
        PATHS,
        json={"name": "Twin", "steps": [{"level": 1, "group_id": cast.apps.id}]},
        headers=cast.bob.headers,
    )
    assert twin.status_code == 409 and "Desk path" in twin.text
    same_name = client.post(
        PATHS,
        json={
            "name": "Desk path",
            "service_id": cast.email_service.id,
            "steps": [{"level": 1, "group_id": cast.apps.id}],
        },
        headers=cast.bob.headers,
    )
    assert same_name.status_code == 409
    assert [p["id"] for p in ok(client.get(PATHS, headers=cast.bob.headers))] == [first["id"]]
    inactive = ok(
        client.post(
            PATHS,
            json={
                "name": "Spare",
                "active": False,
                "steps": [{"level": 1, "group_id": cast.apps.id}],
            },
            headers=cast.bob.headers,
        ),
        201,
    )
    reactivated = client.patch(
        f"{PATHS}/{inactive['id']}", json={"active": True}, headers=cast.bob.headers
    )
    assert reactivated.status_code == 409
    assert fields(
        client.patch(f"{PATHS}/{first['id']}", json={"steps": None}, headers=cast.bob.headers)
    ) == {"steps"}


# ----------------------------------------------------------------------------- levels


def test_levels_are_created_read_changed_and_deleted(client: TestClient, cast: Cast) -> None:
    made = make_level(client, cast, name="Managers at 75 %", percent=75, priority=3)
    assert (made["trigger"], made["clock"], made["percent"]) == ("percent", "resolution", 75)
    assert made["notify_group_manager"] is True and made["notify_user_ids"] == []
    url = f"{LEVELS}/{made['id']}"
    assert ok(client.get(url, headers=cast.alice.headers))["priority"] == 3
    changed = ok(
        client.patch(
            url,
            json={"trigger": "delay", "delay_seconds": 7200, "notify_user_ids": [cast.ivy.id]},
            headers=cast.bob.headers,
        )
    )
    assert (changed["trigger"], changed["clock"], changed["percent"]) == ("delay", None, None)
    assert (changed["delay_seconds"], changed["notify_user_ids"]) == (7200, [cast.ivy.id])
    assert client.patch(url, json={"percent": 50}, headers=cast.alice.headers).status_code == 403
    assert client.delete(url, headers=cast.bob.headers).status_code == 204
    again = make_level(client, cast, name="Again", percent=50)
    assert again["id"] > made["id"]  # ids are never reused: incidents remember fired ones


def test_a_bad_level_is_refused_naming_the_field(client: TestClient, cast: Cast) -> None:
    def post(**body: Any) -> Any:
        return client.post(LEVELS, json={"name": "Bad", **body}, headers=cast.bob.headers)

    assert fields(post(trigger="percent")) == {"percent"}
    assert fields(post(trigger="percent", percent=0)) == {"percent"}
    assert fields(post(trigger="percent", percent=50, delay_seconds=60)) == {"delay_seconds"}
    assert fields(post(trigger="delay")) == {"delay_seconds"}
    assert fields(post(trigger="delay", delay_seconds=60, clock="response")) == {"clock"}
    assert fields(post(trigger="delay", delay_seconds=60, percent=10)) == {"percent"}
    assert fields(post(trigger="sometimes")) == {"trigger"}
    assert fields(
        post(
            trigger="delay",
            delay_seconds=60,
            group_id=999999,
            notify_user_ids=[999999, cast.dave.id],
        )
    ) == {"group_id", "notify_user_ids.0", "notify_user_ids.1"}
    nobody = post(trigger="delay", delay_seconds=60, notify_group_manager=False)
    assert fields(nobody) == {"notify_user_ids"} and "notify someone" in nobody.text
    assert fields(post(trigger="delay", delay_seconds=60, extra=1)) == {"extra"}
    assert ok(client.get(LEVELS, headers=cast.bob.headers)) == []  # nothing half-written
    made = make_level(client, cast, percent=50)
    url = f"{LEVELS}/{made['id']}"
    assert fields(client.patch(url, json={"trigger": "delay"}, headers=cast.bob.headers)) == {
        "delay_seconds"
    }
    assert fields(client.patch(url, json={"name": None}, headers=cast.bob.headers)) == {"name"}
    assert ok(client.get(url, headers=cast.bob.headers))["trigger"] == "percent"  # unchanged
    twin = client.post(
        LEVELS,
        json={"name": made["name"], "trigger": "percent", "percent": 9},
        headers=cast.bob.headers,
    )
    assert twin.status_code == 409


def test_an_sla_policy_may_raise_the_priority_on_breach(client: TestClient, cast: Cast) -> None:
    made = ok(
        client.post(
            f"{API}/admin/sla/policies",
            json={
                "name": "Acme gold",
                "resolution_seconds": 3600,
                "raise_priority_on_breach": True,
            },
            headers=cast.bob.headers,
        ),
        201,
    )
    assert made["raise_priority_on_breach"] is True
    url = f"{API}/admin/sla/policies/{made['id']}"
    off = ok(client.patch(url, json={"raise_priority_on_breach": False}, headers=cast.bob.headers))
    assert off["raise_priority_on_breach"] is False
    null = client.patch(url, json={"raise_priority_on_breach": None}, headers=cast.bob.headers)
    assert fields(null) == {"raise_priority_on_breach"}
    seeded = ok(client.get(f"{API}/admin/sla/policies", headers=cast.bob.headers))
    assert not any(p["raise_priority_on_breach"] for p in seeded if p["id"] != made["id"])
