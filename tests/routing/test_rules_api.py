"""The admin API of routing rules: CRUD, order, validation with paths, permissions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Cast
from tests.routing.common import RULES, contains, make_rule, problem


def test_rules_are_created_read_changed_reordered_and_deleted(
    client: TestClient, cast: Cast
) -> None:
    bob = cast.bob.headers
    first = make_rule(client, cast.bob, name="VPN", conditions=contains("short_description", "vpn"))
    second = make_rule(
        client,
        cast.bob,
        name="Printers",
        match="any",
        conditions=contains("short_description", "printer") + contains("description", "toner"),
        actions=[{"type": "assign_group", "value": cast.desk.id}],
        on_update=True,
        stop=True,
    )
    assert first["rule_id"] == f"RUL-{first['id']}" and first["position"] == 0
    assert second["position"] == 1 and second["stop"] and second["on_update"]
    third = make_rule(client, cast.bob, name="First", position=0)
    listed = client.get(RULES, headers=cast.alice.headers).json()  # staff read
    assert [r["name"] for r in listed] == ["First", "VPN", "Printers"]
    changed = client.patch(
        f"{RULES}/{first['id']}", json={"name": "VPN to network", "position": 2}, headers=bob
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["conditions"] == first["conditions"]
    listed = client.get(RULES, headers=bob).json()
    assert [r["name"] for r in listed] == ["First", "Printers", "VPN to network"]
    order = [first["id"], third["id"], second["id"]]
    r = client.post(f"{RULES}/reorder", json={"ids": order}, headers=bob)
    assert [x["id"] for x in r.json()] == order and [x["position"] for x in r.json()] == [0, 1, 2]
    problem(client.post(f"{RULES}/reorder", json={"ids": order[:2]}, headers=bob), 422)
    assert client.get(f"{RULES}/{second['id']}", headers=bob).json()["name"] == "Printers"
    assert client.delete(f"{RULES}/{third['id']}", headers=bob).status_code == 204
    problem(client.get(f"{RULES}/{third['id']}", headers=bob), 404)
    assert [r["position"] for r in client.get(RULES, headers=bob).json()] == [0, 1]


def test_invalid_rules_are_refused_with_every_bad_path_and_nothing_is_written(
    client: TestClient, cast: Cast
) -> None:
    bob = cast.bob.headers
    body = {
        "name": "Broken",
        "conditions": [
            {"field": "short_description", "op": "contains", "value": "x"},
            {"field": "colour", "op": "equals", "value": "red"},
            {"field": "description", "op": "regex", "value": "([a-z]"},
            {"field": "assignment_group", "op": "equals", "value": 99999},
        ],
        "actions": [
            {"type": "assign_group", "value": 99999},
            {"type": "set_subcategory", "value": cast.hardware.id},
            {"type": "assign_user", "value": cast.dave.id},
            {"type": "launch_rocket"},
        ],
    }
    errors = problem(client.post(RULES, json=body, headers=bob), 422)["errors"]
    paths = {e["field"] for e in errors}
    assert {"conditions.1.field", "conditions.2.value", "actions.3.type"} <= paths
    regex = next(e for e in errors if e["field"] == "conditions.2.value")
    assert "invalid regular expression" in regex["msg"]
    # once the shape is right, the ids are checked
    body["conditions"] = [body["conditions"][0], body["conditions"][3]]
    body["actions"] = body["actions"][:3]
    errors = problem(client.post(RULES, json=body, headers=bob), 422)["errors"]
    assert {e["field"] for e in errors} == {
        "conditions.1.value",
        "actions.0.value",
        "actions.1.value",
        "actions.2.value",
    }
    problem(client.post(RULES, json={"name": "No actions", "actions": []}, headers=bob), 422)
    problem(client.post(RULES, json={"name": "x", "actions": [], "when": 1}, headers=bob), 422)
    assert client.get(RULES, headers=bob).json() == []


def test_a_patch_that_breaks_the_rule_changes_nothing(client: TestClient, cast: Cast) -> None:
    bob = cast.bob.headers
    rule = make_rule(client, cast.bob, name="VPN", conditions=contains("short_description", "vpn"))
    bad = {"conditions": [{"field": "short_description", "op": "regex", "value": "*vpn"}]}
    errors = problem(client.patch(f"{RULES}/{rule['id']}", json=bad, headers=bob), 422)["errors"]
    assert errors[0]["field"] == "conditions.0.value"
    problem(client.patch(f"{RULES}/{rule['id']}", json={"actions": None}, headers=bob), 422)
    assert client.get(f"{RULES}/{rule['id']}", headers=bob).json() == rule
    make_rule(client, cast.bob, name="Other")
    problem(client.patch(f"{RULES}/{rule['id']}", json={"name": "other"}, headers=bob), 409)
    problem(
        client.post(
            RULES, json={"name": "VPN", "actions": [{"type": "mark_request"}]}, headers=bob
        ),
        409,
    )


def test_admins_write_and_staff_read(client: TestClient, cast: Cast) -> None:
    rule = make_rule(client, cast.bob, name="VPN")
    body = {"name": "Mine", "actions": [{"type": "mark_request"}]}
    for who in (cast.alice, cast.ivy):
        assert client.get(RULES, headers=who.headers).status_code == 200
        problem(client.post(RULES, json=body, headers=who.headers), 403)
        problem(
            client.patch(f"{RULES}/{rule['id']}", json={"stop": True}, headers=who.headers), 403
        )
        problem(client.delete(f"{RULES}/{rule['id']}", headers=who.headers), 403)
    for who in (cast.dave, cast.carol):
        problem(client.get(RULES, headers=who.headers), 403)
        problem(client.get(f"{RULES}/{rule['id']}", headers=who.headers), 403)
    problem(client.get(RULES), 401)
