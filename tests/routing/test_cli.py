"""`dutydesk routing …` against a real, committed database: rules listed, added (checked like
the API, nothing written on bad input) and deleted; a group's strategy set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Protocol

import pytest
from click.testing import Result
from typer.testing import CliRunner

from dutydesk.cli import app as cli
from dutydesk.config import get_settings
from dutydesk.db import Database
from dutydesk.routing import queries
from tests.factories import make_cast


class Run(Protocol):
    def __call__(self, *args: str) -> Result: ...


@pytest.fixture
def run(fresh_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("DUTYDESK_DATABASE_URL", fresh_db.engine.url.render_as_string(False))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, list(args))
    get_settings.cache_clear()


def test_rules_and_strategies_from_the_command_line(run: Run, fresh_db: Database) -> None:
    cast = make_cast(fresh_db)
    rule = {
        "name": "VPN",
        "conditions": [{"field": "short_description", "op": "contains", "value": "vpn"}],
        "actions": [{"type": "assign_group", "value": cast.infra.id}],
    }
    added = run("routing", "rule", "add", json.dumps(rule))
    assert added.exit_code == 0, added.output
    assert "added RUL-" in added.output
    bad = {**rule, "name": "Bad", "conditions": [{"field": "colour", "op": "equals", "value": 1}]}
    refused = run("routing", "rule", "add", json.dumps(bad))
    assert refused.exit_code == 2 and "conditions.0.field" in refused.output
    listed = run("routing", "rule", "list", "--json")
    assert [r["name"] for r in json.loads(listed.output)] == ["VPN"]
    assert "VPN" in run("routing", "rule", "list").output
    set_ = run("routing", "strategy", "Service Desk", "round_robin")
    assert set_.exit_code == 0 and "round_robin" in set_.output
    assert run("routing", "strategy", "Nobody", "round_robin").exit_code == 1
    assert run("routing", "strategy", "Service Desk", "random").exit_code == 2
    rule_id = json.loads(listed.output)[0]["id"]
    assert run("routing", "rule", "delete", str(rule_id)).exit_code == 0
    assert run("routing", "rule", "delete", str(rule_id)).exit_code == 1
    with fresh_db.unit_of_work(write=False) as s:
        assert queries.list_rules(s) == []
        setting = queries.get_group_routing(s, cast.desk.id)
        assert setting is not None and setting.strategy == "round_robin"
