"""`dutydesk escalation …` against a real, committed database: paths, levels and raising on
demand; each command's happy path, and bad input refused with one line and nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol

import pytest
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from dutydesk.cli import app as cli
from dutydesk.config import get_settings
from dutydesk.db import Database
from dutydesk.models import IncidentEscalation
from tests.factories import Cast, make_cast
from tests.notify.conftest import make_incident


class Run(Protocol):
    def __call__(self, *args: str) -> Result: ...


@pytest.fixture
def run(fresh_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("DUTYDESK_DATABASE_URL", fresh_db.engine.url.render_as_string(False))
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args))

    yield invoke
    get_settings.cache_clear()


@pytest.fixture
def cast(fresh_db: Database) -> Cast:
    return make_cast(fresh_db)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def data(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def refused(result: Result, code: int, *words: str) -> None:
    """Exit `code` with one error line on stderr naming `words`, and nothing on stdout."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == ""


PATH = ("escalation", "path")
LEVEL = ("escalation", "level")


# ----------------------------------------------------------------------------- paths


def test_paths_are_added_shown_changed_and_deleted(run: Run, cast: Cast) -> None:
    made = data(
        run(*PATH, "add", "Mail", "--service", "E-mail", "--category", "Hardware",
            "--step", "Service Desk:auto", "--step", str(cast.apps.id), "--step", "Vendor",
            "--json")
    )  # fmt: skip
    assert made["name"] == "Mail" and made["active"] is True
    assert (made["service_id"], made["category_id"]) == (cast.email_service.id, cast.hardware.id)
    assert [(s["level"], s["group_id"], s["auto"]) for s in made["steps"]] == [
        (1, cast.desk.id, True),
        (2, cast.apps.id, False),
        (3, cast.vendor.id, False),
    ]
    table = ok(run(*PATH, "list")).stdout
    assert "Mail" in table and "Service Desk (auto)" in table and "Vendor" in table
    assert data(run(*PATH, "show", str(made["id"]), "--json")) == made
    assert "Application Support" in ok(run(*PATH, "show", str(made["id"]))).stdout

    changed = data(
        run(*PATH, "update", str(made["id"]), "--name", "Mail 2", "--category", "any",
            "--step", "Service Desk", "--step", "Infrastructure", "--inactive", "--json")
    )  # fmt: skip
    assert changed["name"] == "Mail 2" and changed["category_id"] is None
    assert changed["service_id"] == cast.email_service.id and changed["active"] is False
    assert [(s["group_id"], s["auto"]) for s in changed["steps"]] == [
        (cast.desk.id, False),
        (cast.infra.id, False),
    ]
    assert "deleted" in ok(run(*PATH, "delete", str(made["id"]))).stdout
    assert data(run(*PATH, "list", "--json")) == []


def test_bad_paths_are_refused_and_nothing_is_written(run: Run, cast: Cast) -> None:
    made = data(run(*PATH, "add", "Any", "--step", "Service Desk", "--json"))
    add = (*PATH, "add", "Mail", "--service", "E-mail")
    refused(run(*add), 2, "--step")
    refused(run(*add, "--step", ":auto"), 2, "GROUP or GROUP:auto")
    refused(run(*add, "--step", "Nobody"), 1, "not found")
    refused(run(*add, "--step", "999"), 1, "not found")
    refused(run(*add, "--step", "Infrastructure", "--step", "Service Desk"), 2, "steps.")
    refused(run(*add, "--step", "Service Desk", "--step", "Vendor:auto"), 2, "steps.1")
    refused(run(*add, "--step", "Service Desk", "--step", "Service Desk"), 2, "already step 1")
    refused(run(*add, "--step", "Vendor", "--service", "Nowhere"), 1, "not found")
    refused(run(*add, "--step", "Vendor", "--category", "Nothing"), 1, "not found")
    refused(run(*PATH, "add", "", "--step", "Vendor"), 2, "name")
    refused(run(*PATH, "add", "Any", "--step", "Vendor"), 1, "already")
    refused(run(*PATH, "add", "Twin", "--step", "Vendor"), 1, "already covers")
    refused(run(*PATH, "update", str(made["id"])), 2, "nothing to change")
    # one good change and one bad one: neither is written
    refused(
        run(*PATH, "update", str(made["id"]), "--name", "Renamed", "--step", "Nobody"),
        1,
        "not found",
    )
    refused(run(*PATH, "update", "999", "--name", "X"), 1, "escalation path 999 not found")
    refused(run(*PATH, "show", "999"), 1, "not found")
    refused(run(*PATH, "delete", "999"), 1, "not found")
    assert data(run(*PATH, "list", "--json")) == [made]


# ----------------------------------------------------------------------------- levels


def test_levels_are_added_shown_changed_and_deleted(run: Run, cast: Cast) -> None:
    made = data(
        run(*LEVEL, "add", "Desk P2 at 80%", "--priority", "2", "--group", "Service Desk",
            "--percent", "80", "--clock", "response", "--no-notify-group-manager",
            "--notify-incident-managers", "--notify-user", "alice", "--json")
    )  # fmt: skip
    assert (made["priority"], made["group_id"]) == (2, cast.desk.id)
    assert (made["trigger"], made["clock"], made["percent"]) == ("percent", "response", 80)
    assert made["delay_seconds"] is None and made["notify_user_ids"] == [cast.alice.id]
    assert made["notify_group_manager"] is False and made["notify_incident_managers"] is True
    delay = data(run(*LEVEL, "add", "Any after 8h", "--delay", "8h", "--json"))
    assert (delay["trigger"], delay["delay_seconds"], delay["clock"]) == ("delay", 28800, None)
    assert delay["notify_group_manager"] is True and delay["priority"] is None

    table = ok(run(*LEVEL, "list")).stdout
    assert "80% of response" in table and "after 8h" in table and "Service Desk" in table
    assert data(run(*LEVEL, "show", str(made["id"]), "--json")) == made
    assert "incident managers" in ok(run(*LEVEL, "show", str(made["id"]))).stdout

    changed = data(
        run(*LEVEL, "update", str(made["id"]), "--delay", "2d", "--priority", "any", "--group",
            "any", "--no-notify-users", "--inactive", "--json")
    )  # fmt: skip
    assert (changed["trigger"], changed["delay_seconds"]) == ("delay", 172800)
    assert (changed["percent"], changed["clock"]) == (None, None)
    assert changed["priority"] is None and changed["group_id"] is None
    assert changed["notify_user_ids"] == [] and changed["active"] is False
    back = data(run(*LEVEL, "update", str(made["id"]), "--percent", "50", "--json"))
    assert (back["trigger"], back["clock"], back["percent"]) == ("percent", "resolution", 50)
    assert "deleted" in ok(run(*LEVEL, "delete", str(made["id"]))).stdout
    assert data(run(*LEVEL, "list", "--json")) == [delay]


def test_bad_levels_are_refused_and_nothing_is_written(run: Run, cast: Cast) -> None:
    made = data(run(*LEVEL, "add", "Half", "--percent", "50", "--json"))
    add = (*LEVEL, "add", "Gold")
    refused(run(*add), 2, "trigger")
    refused(run(*add, "--percent", "50", "--delay", "1h"), 2, "not both")
    refused(run(*add, "--percent", "0"), 2, "percent")
    refused(run(*add, "--percent", "50", "--clock", "sideways"), 2, "clock")
    refused(run(*add, "--delay", "soon"), 2, "not a duration")
    refused(run(*add, "--delay", "0"), 2, "delay_seconds")
    refused(run(*add, "--delay", "1h", "--clock", "response"), 2, "clock")
    refused(run(*add, "--percent", "50", "--priority", "10"), 2, "priority")
    refused(run(*add, "--percent", "50", "--priority", "high"), 2, "not a number")
    refused(run(*add, "--percent", "50", "--group", "Nobody"), 1, "not found")
    refused(run(*add, "--percent", "50", "--notify-user", "nobody"), 1, "not found")
    refused(run(*add, "--percent", "50", "--notify-user", "dave"), 2, "not service desk staff")
    refused(run(*add, "--percent", "50", "--no-notify-group-manager"), 2, "must notify someone")
    refused(run(*LEVEL, "add", "Half", "--percent", "60"), 1, "already")
    refused(run(*LEVEL, "update", str(made["id"])), 2, "nothing to change")
    refused(
        run(*LEVEL, "update", str(made["id"]), "--notify-user", "ivy", "--no-notify-users"),
        2,
        "not both",
    )
    # one good change and one bad one: neither is written
    refused(
        run(*LEVEL, "update", str(made["id"]), "--name", "Renamed", "--percent", "2000"),
        2,
        "percent",
    )
    refused(run(*LEVEL, "update", "999", "--percent", "60"), 1, "escalation level 999 not found")
    refused(run(*LEVEL, "show", "999"), 1, "not found")
    refused(run(*LEVEL, "delete", "999"), 1, "not found")
    assert data(run(*LEVEL, "list", "--json")) == [made]


# ----------------------------------------------------------------------------- on demand


def _escalations(db: Database) -> int:
    with db.unit_of_work(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(IncidentEscalation)) or 0)


def test_incidents_are_escalated_to_management_on_demand(
    run: Run, cast: Cast, fresh_db: Database
) -> None:
    first, second = (make_incident(fresh_db, cast, group=cast.desk) for _ in range(2))
    level = data(
        run(*LEVEL, "add", "Tell ivy", "--percent", "90", "--no-notify-group-manager",
            "--notify-user", "ivy", "--json")
    )  # fmt: skip
    done = data(
        run("escalation", "raise", first.number, second.number, "--level", str(level["id"]),
            "--reason", "customer VIP", "--json")
    )  # fmt: skip
    assert [e["incident"] for e in done] == [first.number, second.number]
    assert {e["kind"] for e in done} == {"hierarchic"}
    assert {e["trigger"] for e in done} == {"manual"}
    assert all(e["level_id"] == level["id"] for e in done)
    assert all(e["notified_user_ids"] == [cast.ivy.id] for e in done)
    assert done[0]["reason"] == "customer VIP" and done[0]["actor_name"] == "system"
    table = ok(run("escalation", "raise", first.number, "--reason", "still down")).stdout
    assert first.number in table and "HL-D" in table and "management" in table
    assert _escalations(fresh_db) == 3


def test_bad_escalation_requests_are_refused_and_nothing_is_written(
    run: Run, cast: Cast, fresh_db: Database
) -> None:
    incident = make_incident(fresh_db, cast, group=cast.desk)
    closed = make_incident(fresh_db, cast, group=cast.desk, state="closed")
    esc = ("escalation", "raise")
    refused(run(*esc, incident.number, "--reason", "  "), 2, "reason")
    refused(run(*esc, incident.number, "--reason", "x" * 1000), 2, "reason")
    refused(run(*esc, incident.number, "--reason", "why", "--level", "999"), 2, "level 999")
    refused(run(*esc, incident.number, "INC9999999", "--reason", "why"), 1, "not found")
    refused(run(*esc, incident.number, closed.number, "--reason", "why"), 1, "only open")
    assert run(*esc, incident.number).exit_code == 2  # --reason is required
    assert _escalations(fresh_db) == 0
