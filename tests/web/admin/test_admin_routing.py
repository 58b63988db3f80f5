"""The routing admin screens through the TestClient: routing rules (list, create, JSON and
service errors next to their textarea, edit, reorder, delete) and group strategies."""

from __future__ import annotations

import html
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from dutydesk.db import Database
from dutydesk.routing import queries
from tests.factories import Cast
from tests.web.conftest import row_counts, sign_in

RULES = "/admin/routing-rules"


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<span class="field__error" id="{name}-error">([^<]*)</span>', page)
    assert found, f"no error next to {name}"
    return html.unescape(found.group(1))


def rule_form(cast: Cast, name: str = "VPN to desk", **extra: str) -> dict[str, str]:
    conditions = [{"field": "short_description", "op": "contains", "value": "vpn"}]
    actions = [{"type": "assign_group", "value": cast.desk.id}]
    return {
        "name": name,
        "is_active": "on",
        "on_create": "on",
        "match": "all",
        "conditions": json.dumps(conditions),
        "actions": json.dumps(actions),
        **extra,
    }


def rules_in(db: Database) -> list[tuple[int, str, int]]:
    with db.unit_of_work(write=False) as session:
        return [(r.id, r.name, r.position) for r in queries.list_rules(session)]


def create(client: TestClient, csrf: str, form: dict[str, str]) -> str:
    done = client.post(f"{RULES}/new", data={**form, "csrf_token": csrf})
    assert done.status_code == 200, done.text
    assert "was added" in done.text
    return done.text


def test_the_list_and_the_index(client: TestClient, cast: Cast) -> None:
    sign_in(client, "bob")
    index = client.get("/admin")
    assert re.search(rf'href="{RULES}">Routing rules</a>\s*<span[^>]*>0</span>', index.text)
    assert re.search(
        r'href="/admin/assignment-strategies">Assignment strategies</a>\s*<span[^>]*>4</span>',
        index.text,
    )
    page = client.get(RULES)
    assert page.status_code == 200 and "No routing rules yet." in page.text
    new = client.get(f"{RULES}/new")
    assert new.status_code == 200
    # the hints list the routing module's own fields, operators and actions
    for word in ("assignment_group", "is_not_empty", "mark_request", "add_tags"):
        assert word in new.text


def test_a_valid_rule_is_listed(client: TestClient, cast: Cast, db: Database) -> None:
    csrf = sign_in(client, "bob")
    create(client, csrf, rule_form(cast))
    listing = client.get(RULES).text
    assert "VPN to desk" in listing
    assert "short_description contains" in html.unescape(listing)
    assert "assign_group" in listing
    assert [name for _id, name, _pos in rules_in(db)] == ["VPN to desk"]


def test_invalid_json_is_a_field_error_and_nothing_is_written(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "bob")
    before = row_counts(db)
    refused = client.post(
        f"{RULES}/new", data={**rule_form(cast, conditions="[{oops"), "csrf_token": csrf}
    )
    assert refused.status_code == 422
    assert "not valid json" in field_error(refused.text, "conditions").lower()
    assert "[{oops" in refused.text  # the text typed is kept
    assert row_counts(db) == before


def test_a_bad_field_is_shown_next_to_the_conditions(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "bob")
    before = row_counts(db)
    conditions = [
        {"field": "short_description", "op": "contains", "value": "vpn"},
        {"field": "colour", "op": "equals", "value": "red"},
    ]
    actions = [{"type": "assign_group", "value": 999_999}]
    form = rule_form(cast, conditions=json.dumps(conditions), actions=json.dumps(actions))
    refused = client.post(f"{RULES}/new", data={**form, "csrf_token": csrf})
    assert refused.status_code == 422
    shown = field_error(refused.text, "conditions").lower()
    assert shown.startswith("conditions.1.field:"), shown
    assert row_counts(db) == before
    # the conditions fixed, the missing group is the service's error next to the actions
    form["conditions"] = json.dumps(conditions[:1])
    refused = client.post(f"{RULES}/new", data={**form, "csrf_token": csrf})
    assert refused.status_code == 422
    assert "999999" in field_error(refused.text, "actions"), refused.text
    assert row_counts(db) == before


def test_edit_reorder_and_delete(client: TestClient, cast: Cast, db: Database) -> None:
    csrf = sign_in(client, "bob")
    create(client, csrf, rule_form(cast, "First"))
    create(client, csrf, rule_form(cast, "Second"))
    (first, _, _), (second, _, _) = rules_in(db)

    page = client.get(f"{RULES}/{first}")
    assert page.status_code == 200 and "short_description" in page.text
    assert f'action="{RULES}/{first}/delete"' in page.text and "data-confirm" in page.text

    edited = rule_form(cast, "First renamed", stop="on", on_update="on")
    saved = client.post(f"{RULES}/{first}", data={**edited, "csrf_token": csrf})
    assert "Routing rule First renamed was saved." in saved.text
    with db.unit_of_work(write=False) as session:
        rule = queries.get_rule(session, first)
        assert rule.stop and rule.on_update and rule.name == "First renamed"

    bad = client.post(f"{RULES}/{first}", data={**edited, "actions": "{}", "csrf_token": csrf})
    assert bad.status_code == 422 and "JSON list" in field_error(bad.text, "actions")

    moved = client.post(f"{RULES}/{second}/move/up", data={"csrf_token": csrf})
    assert "Second is now number 1" in moved.text
    assert [i for i, _n, _p in rules_in(db)] == [second, first]
    client.post(f"{RULES}/{second}/move/down", data={"csrf_token": csrf})
    assert [i for i, _n, _p in rules_in(db)] == [first, second]

    gone = client.post(f"{RULES}/{first}/delete", data={"csrf_token": csrf})
    assert "Routing rule First renamed was deleted." in gone.text
    assert rules_in(db) == [(second, "Second", 0)]


def test_a_strategy_change_is_visible_and_logged(
    client: TestClient, cast: Cast, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    csrf = sign_in(client, "bob")
    page = client.get("/admin/assignment-strategies")
    assert page.status_code == 200 and "Infrastructure" in page.text
    with caplog.at_level(logging.INFO, logger="dutydesk.admin"):
        done = client.post(
            f"/admin/assignment-strategies/{cast.infra.id}",
            data={"strategy": "round_robin", "csrf_token": csrf},
        )
    assert "Infrastructure now assigns by round robin." in done.text
    assert re.search(
        rf'id="strategy-{cast.infra.id}"[^>]*>.*?<option value="round_robin" selected>',
        done.text,
        re.S,
    )
    assert any(
        "Infrastructure" in r.getMessage() and "manual -> round_robin" in r.getMessage()
        for r in caplog.records
    )
    with db.unit_of_work(write=False) as session:
        setting = queries.get_group_routing(session, cast.infra.id)
        assert setting is not None and setting.strategy == "round_robin"
    bad = client.post(
        f"/admin/assignment-strategies/{cast.infra.id}",
        data={"strategy": "lottery", "csrf_token": csrf},
    )
    assert "Choose a strategy" in bad.text


@pytest.mark.parametrize("path", [RULES, f"{RULES}/new", "/admin/assignment-strategies"])
def test_only_admins(client: TestClient, cast: Cast, db: Database, path: str) -> None:
    csrf = sign_in(client, "ivy")
    assert client.get(path).status_code == 403
    before = row_counts(db)
    assert (
        client.post(f"{RULES}/new", data={**rule_form(cast), "csrf_token": csrf}).status_code == 403
    )
    refused = client.post(
        f"/admin/assignment-strategies/{cast.infra.id}",
        data={"strategy": "round_robin", "csrf_token": csrf},
    )
    assert refused.status_code == 403
    assert row_counts(db) == before
