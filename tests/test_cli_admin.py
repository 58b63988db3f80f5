"""`dutydesk sla …` and `dutydesk notify …` against a real, committed database: each command's
happy path, and bad input refused with one line, exit code 2 and nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from click.testing import Result
from typer.testing import CliRunner

from dutydesk.cli import app as cli
from dutydesk.config import Settings, get_settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import Incident, Notification
from dutydesk.notify import delivery
from dutydesk.notify import service as notify
from dutydesk.notify.channels import Outcome
from tests.factories import Cast, make_cast
from tests.notify.conftest import SYSTEM, make_incident

OFFICE = {
    "timezone": "Europe/Berlin",
    "hours": {day: ["08:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE"},
}


class Run(Protocol):
    def __call__(self, *args: str, input: str | None = None) -> Result: ...


@pytest.fixture
def run(fresh_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("DUTYDESK_DATABASE_URL", fresh_db.engine.url.render_as_string(False))
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input)

    yield invoke
    get_settings.cache_clear()


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


# ----------------------------------------------------------------------------- calendars


def test_calendars_are_added_shown_changed_and_deleted(run: Run, tmp_path: Path) -> None:
    made = data(run("sla", "calendar", "add", "Office", "--config", json.dumps(OFFICE), "--json"))
    assert made["name"] == "Office" and made["config"]["timezone"] == "Europe/Berlin"
    path = tmp_path / "night.json"
    path.write_text(json.dumps({"timezone": "UTC", "hours": {"sat": ["22:00-06:00"]}}))
    ok(run("sla", "calendar", "add", "Night", "--config", str(path)))
    piped = {"timezone": "Asia/Kolkata", "hours": {"mon": ["09:30-18:00"]}}
    ok(run("sla", "calendar", "add", "India", "--config", "-", input=json.dumps(piped)))

    table = ok(run("sla", "calendar", "list")).stdout
    assert "Office" in table and "mon-fri 08:00-17:00" in table and "24h" in table
    names = [c["name"] for c in data(run("sla", "calendar", "list", "--json"))]
    assert names == ["24x7", "India", "Night", "Office"]
    shown = ok(run("sla", "calendar", "show", "Office")).stdout
    assert "Europe/Berlin" in shown and '"country": "DE"' in shown
    assert data(run("sla", "calendar", "show", str(made["id"]), "--json")) == made

    # Friday 16:00 in Berlin + 2 business hours = Monday 09:00 (08:00 UTC)
    due = data(
        run("sla", "calendar", "deadline", "Office", "2h", "--start", "2026-11-27T16:00:00+01:00",
            "--json")
    )  # fmt: skip
    assert datetime.fromisoformat(due["due_at"]) == datetime.fromisoformat("2026-11-30T08:00Z")
    assert due["seconds"] == 7200
    assert (
        "ends at 2026-11-30T08:00:00Z"
        in ok(
            run(
                "sla",
                "calendar",
                "deadline",
                "Office",
                "2h",
                "--start",
                "2026-11-27T16:00:00+01:00",
            )
        ).stdout
    )

    changed = data(
        run("sla", "calendar", "update", "Office", "--name", "Office DE", "--config",
            json.dumps({**OFFICE, "closed_days": ["2026-12-24"]}), "--json")
    )  # fmt: skip
    assert changed["name"] == "Office DE" and changed["config"]["closed_days"] == ["2026-12-24"]
    assert "deleted" in ok(run("sla", "calendar", "delete", "Night")).stdout
    names = [c["name"] for c in data(run("sla", "calendar", "list", "--json"))]
    assert names == ["24x7", "India", "Office DE"]


def test_bad_calendars_are_refused_and_nothing_is_written(run: Run, tmp_path: Path) -> None:
    before = data(run("sla", "calendar", "list", "--json"))
    calendar = ("sla", "calendar")
    refused(run(*calendar, "add", "X", "--config", '{"timezone": "UTC",'), 2, "not valid JSON")
    refused(run(*calendar, "add", "X", "--config", "-", input="[1, 2]"), 2, "JSON object")
    refused(run(*calendar, "add", "X", "--config", str(tmp_path / "none.json")), 2, "cannot read")
    refused(
        run(*calendar, "add", "X", "--config", '{"timezone": "Mars/Olympus", "hours": {}}'),
        2,
        "calendar is not valid",
        "timezone",
    )
    refused(
        run(*calendar, "add", "X", "--config", '{"timezone": "UTC", "hours": {"mon": ["9-5"]}}'),
        2,
        "hours.mon",
    )
    refused(run(*calendar, "add", " ", "--config", json.dumps(OFFICE)), 2, "name")
    refused(run(*calendar, "add", "24x7", "--config", json.dumps(OFFICE)), 1, "already exists")
    refused(run(*calendar, "update", "1"), 2, "nothing to change")
    refused(run(*calendar, "update", "99", "--name", "Y"), 1, "not found")
    refused(run(*calendar, "update", "1", "--name", "Y", "--config", '{"x": 1}'), 2, "unknown key")
    refused(run(*calendar, "show", "Nowhere"), 1, "not found")
    refused(run(*calendar, "delete", "1"), 1, "still used by SLA policies")
    refused(run(*calendar, "deadline", "1", "2 weeks"), 2, "not a duration")
    refused(run(*calendar, "deadline", "1", "2h", "--start", "2026-11-27T16:00"), 2, "start")
    assert data(run("sla", "calendar", "list", "--json")) == before


# ----------------------------------------------------------------------------- SLA policies


def test_policies_are_added_changed_and_deleted(run: Run, fresh_db: Database) -> None:
    make_cast(fresh_db)
    made = data(
        run("sla", "policy", "add", "Acme mail P2", "--customer", "Acme", "--service", "E-mail",
            "--priority", "2", "--response", "30m", "--resolution", "8h", "--warn", "80",
            "--pause", "pending_vendor", "--raise-priority", "--json")
    )  # fmt: skip
    assert made["customer_id"] and made["service_id"] and made["priority"] == 2
    assert (made["response_seconds"], made["resolution_seconds"]) == (1800, 28800)
    assert made["warn_percents"] == [80] and made["pause_states"] == ["pending_vendor"]
    assert made["calendar_id"] == 1 and made["active"] is True
    assert made["raise_priority_on_breach"] is True

    table = ok(run("sla", "policy", "list")).stdout
    assert "Default" in table and "30m" in table and "8h" in table
    assert data(run("sla", "policy", "show", str(made["id"]), "--json")) == made
    assert "Acme mail P2" in ok(run("sla", "policy", "show", str(made["id"]))).stdout

    changed = data(
        run("sla", "policy", "update", str(made["id"]), "--priority", "any", "--customer", "any",
            "--response", "none", "--no-warn", "--keep-priority", "--inactive", "--json")
    )  # fmt: skip
    assert changed["priority"] is None and changed["customer_id"] is None
    assert changed["response_seconds"] is None and changed["resolution_seconds"] == 28800
    assert changed["warn_percents"] == [] and changed["active"] is False
    assert changed["raise_priority_on_breach"] is False
    assert "deleted" in ok(run("sla", "policy", "delete", str(made["id"]))).stdout
    ids = [p["id"] for p in data(run("sla", "policy", "list", "--json"))]
    assert made["id"] not in ids and len(ids) == 6  # Default and Default P1-P5


def test_bad_policies_are_refused_and_nothing_is_written(run: Run) -> None:
    before = data(run("sla", "policy", "list", "--json"))
    add = ("sla", "policy", "add", "Gold")
    refused(run(*add), 2, "a response or a resolution target")
    refused(run(*add, "--resolution", "8 hours"), 2, "not a duration")
    refused(run(*add, "--resolution", "8h", "--priority", "12"), 2, "priority")
    refused(run(*add, "--resolution", "8h", "--priority", "high"), 2, "not a number")
    refused(run(*add, "--resolution", "8h", "--warn", "150"), 2, "warn_percents")
    refused(run(*add, "--resolution", "8h", "--pause", "resolved"), 2, "pause_states")
    refused(run(*add, "--resolution", "8h", "--warn", "50", "--no-warn"), 2, "not both")
    refused(run(*add, "--resolution", "8h", "--customer", "Nobody"), 1, "not found")
    refused(run(*add, "--resolution", "8h", "--calendar", "9"), 1, "calendar 9 not found")
    refused(run("sla", "policy", "add", "Default", "--resolution", "8h"), 1, "already exists")
    default = next(p for p in before if p["name"] == "Default")
    refused(run("sla", "policy", "update", str(default["id"])), 2, "nothing to change")
    # one good change and one bad one: neither is written
    refused(
        run("sla", "policy", "update", str(default["id"]), "--name", "Renamed", "--warn", "0"),
        2,
        "warn_percents",
    )
    refused(run("sla", "policy", "update", "999", "--name", "X"), 1, "not found")
    refused(run("sla", "policy", "delete", str(default["id"])), 1, "last catch-all")
    refused(run("sla", "policy", "update", str(default["id"]), "--inactive"), 1, "last catch-all")
    refused(run("sla", "policy", "show", "999"), 1, "not found")
    assert data(run("sla", "policy", "list", "--json")) == before


# ----------------------------------------------------------------------------- OLAs


def test_olas_are_added_changed_and_deleted(run: Run, fresh_db: Database) -> None:
    make_cast(fresh_db)
    made = data(
        run("sla", "ola", "add", "--group", "Service Desk", "--resolution", "4h", "--priority",
            "2", "--json")
    )  # fmt: skip
    assert made["resolution_seconds"] == 14400 and made["priority"] == 2
    assert made["warn_percents"] == [50, 75] and made["active"] is True
    assert "4h" in ok(run("sla", "ola", "list")).stdout
    changed = data(
        run("sla", "ola", "update", str(made["id"]), "--resolution", "2h", "--priority", "any",
            "--warn", "90", "--inactive", "--json")
    )  # fmt: skip
    assert (changed["resolution_seconds"], changed["priority"]) == (7200, None)
    assert changed["warn_percents"] == [90] and changed["active"] is False
    assert "deleted" in ok(run("sla", "ola", "delete", str(made["id"]))).stdout
    assert data(run("sla", "ola", "list", "--json")) == []


def test_bad_olas_are_refused_and_nothing_is_written(run: Run, fresh_db: Database) -> None:
    make_cast(fresh_db)
    refused(run("sla", "ola", "add", "--group", "Nobody", "--resolution", "4h"), 1, "not found")
    refused(run("sla", "ola", "add", "--group", "1", "--resolution", "0"), 2, "resolution")
    refused(run("sla", "ola", "add", "--group", "1", "--resolution", "4h", "--warn", "0"), 2)
    refused(run("sla", "ola", "add", "--group", "1", "--resolution", "soon"), 2, "duration")
    made = data(run("sla", "ola", "add", "--group", "1", "--resolution", "4h", "--json"))
    refused(run("sla", "ola", "update", str(made["id"])), 2, "nothing to change")
    refused(
        run("sla", "ola", "update", str(made["id"]), "--resolution", "1h", "--priority", "0"),
        2,
        "priority",
    )
    refused(run("sla", "ola", "update", "999", "--resolution", "1h"), 1, "OLA 999 not found")
    refused(run("sla", "ola", "delete", "999"), 1, "not found")
    assert data(run("sla", "ola", "list", "--json")) == [made]


# ----------------------------------------------------------------------------- endpoints


def test_endpoints_are_added_changed_and_deactivated(run: Run) -> None:
    added = ok(
        run("notify", "endpoint", "add", "pager", "--url", "https://hooks.example/in", "--event",
            "sla_breached", "--event", "escalated")
    )  # fmt: skip
    secret = added.stdout.strip().splitlines()[-1]
    assert len(secret) >= 40 and "shown only once" in added.stdout
    own = data(
        run("notify", "endpoint", "add", "chat", "--kind", "slack", "--url",
            "http://chat.example/x", "--secret-stdin", "--json", input="k" * 16 + "\n")
    )  # fmt: skip
    assert own["secret"] == "k" * 16 and own["kind"] == "slack" and own["events"] == []
    listed = data(run("notify", "endpoint", "list", "--json"))
    assert [e["name"] for e in listed] == ["chat", "pager"]
    assert all("secret" not in e and e["has_secret"] for e in listed)
    assert "every event" in ok(run("notify", "endpoint", "list")).stdout
    pager = listed[1]["id"]
    changed = data(
        run("notify", "endpoint", "update", str(pager), "--url", "https://hooks.example/v2",
            "--all-events", "--json")
    )  # fmt: skip
    assert changed["url"] == "https://hooks.example/v2" and changed["events"] == []
    assert "deactivated" in ok(run("notify", "endpoint", "delete", str(pager))).stdout
    assert data(run("notify", "endpoint", "list", "--json"))[1]["active"] is False
    back = data(run("notify", "endpoint", "update", str(pager), "--active", "--json"))
    assert back["active"] is True


def test_bad_endpoints_are_refused_and_nothing_is_written(run: Run) -> None:
    add = ("notify", "endpoint", "add", "hook")
    refused(run(*add, "--url", "ftp://files.example/x"), 2, "scheme")
    refused(run(*add, "--url", "https://a.example", "--event", "exploded"), 2, "events")
    refused(run(*add, "--url", "https://a.example", "--kind", "pigeon"), 2, "kind")
    refused(run(*add, "--url", "https://a.example", "--secret-stdin", input="short\n"), 2)
    made = data(run(*add, "--url", "https://a.example", "--json"))
    refused(run(*add, "--url", "https://b.example"), 1, "already exists")
    update = ("notify", "endpoint", "update", str(made["id"]))
    refused(run(*update), 2, "nothing to change")
    refused(run(*update, "--name", "renamed", "--url", "javascript:alert(1)"), 2, "URL")
    refused(run(*update, "--event", "assigned", "--all-events"), 2, "not both")
    refused(run("notify", "endpoint", "update", "99", "--name", "x"), 1, "not found")
    refused(run("notify", "endpoint", "delete", "99"), 1, "not found")
    [kept] = data(run("notify", "endpoint", "list", "--json"))
    assert (kept["name"], kept["url"], kept["active"]) == ("hook", "https://a.example", True)


# ----------------------------------------------------------------------------- templates


def test_templates_are_overridden_and_reset(run: Run, tmp_path: Path) -> None:
    listed = data(run("notify", "template", "list", "--json"))
    assert {(t["event"], t["channel"]) for t in listed} >= {("assigned", "email")}
    assert not any(t["overridden"] for t in listed)
    assert "assigned" in ok(run("notify", "template", "list")).stdout
    builtin = data(run("notify", "template", "show", "assigned", "email", "--json"))
    body = tmp_path / "body.txt"
    body.write_text("Please look at {{ incident.short_description }}.\n{{ incident.url }}\n")
    saved = data(
        run("notify", "template", "set", "assigned", "email", "--subject",
            "Yours: {{ incident.number }}", "--body", str(body), "--json")
    )  # fmt: skip
    assert saved["overridden"] and saved["subject"] == "Yours: {{ incident.number }}"
    shown = ok(run("notify", "template", "show", "assigned", "email")).stdout
    assert "admin's override" in shown and "Please look at" in shown
    ok(run("notify", "template", "set", "assigned", "slack", "--subject", "s", "--body", "-",
           input="*{{ incident.number }}*"))  # fmt: skip
    assert "built-in" in ok(run("notify", "template", "reset", "assigned", "email")).stdout
    assert data(run("notify", "template", "show", "assigned", "email", "--json")) == builtin


def test_bad_templates_are_refused_and_nothing_is_written(run: Run) -> None:
    template = ("notify", "template")
    refused(run(*template, "show", "exploded", "email"), 2, "unknown event")
    refused(run(*template, "show", "assigned", "webhook"), 2, "has no template")
    refused(run(*template, "reset", "assigned", "fax"), 2, "has no template")
    broken = "{% if incident.number %}never closed"
    refused(
        run(*template, "set", "assigned", "email", "--subject", "s", "--body", "-", input=broken),
        2,
        "line 1",
    )
    refused(
        run(*template, "set", "assigned", "email", "--subject", "{{ nope.x }}", "--body", "-",
            input="fine"),
        2,
    )  # fmt: skip
    refused(run(*template, "set", "assigned", "email", "--subject", "s", "--body", "/nonexistent"),
            2, "cannot read")  # fmt: skip
    assert not any(t["overridden"] for t in data(run(*template, "list", "--json")))


# ----------------------------------------------------------------------------- the outbox


def _fill_outbox(db: Database, cast: Cast) -> list[Incident]:
    settings = Settings(database_url="sqlite://")
    incidents = [make_incident(db, cast, group=cast.desk, assignee=cast.alice) for _ in range(3)]
    for incident in incidents:
        with db.unit_of_work() as s:
            notify.announce(
                s,
                settings,
                s.get(Incident, incident.id) or incident,
                "state_changed",
                actor=SYSTEM,
                occurrence="1",
                extra={"old_state": "a", "new_state": "b"},
                recipients=[cast.dave.id, cast.ivy.id],
            )
    return incidents


def _kill(db: Database, notification_id: int) -> None:
    """The worker's own bookkeeping makes it a dead letter."""
    with db.unit_of_work() as s:
        row = s.get(Notification, notification_id)
        assert row is not None and row.next_attempt_at is not None
        lease = clock.now() + timedelta(minutes=2)
        item = delivery.claim(s, notification_id, row.next_attempt_at, lease)
        assert item is not None
        delivery.record_outcome(s, Settings(), item, Outcome.dead("550 no such user"))


def test_the_outbox_is_listed_shown_and_retried(run: Run, fresh_db: Database) -> None:
    cast = make_cast(fresh_db)
    incidents = _fill_outbox(fresh_db, cast)
    page = data(run("notify", "outbox", "list", "--json"))
    ids = [n["id"] for n in page["items"]]
    assert len(ids) == 6 and ids == sorted(ids, reverse=True) and page["next_cursor"] is None
    table = ok(run("notify", "outbox", "list", "--limit", "4"))
    assert "state_changed" in table.stdout and "more: --cursor" in table.stderr
    cursor = table.stderr.split("--cursor", 1)[1].strip()
    rest = data(run("notify", "outbox", "list", "--limit", "4", "--cursor", cursor, "--json"))
    assert [n["id"] for n in rest["items"]] == ids[4:]
    one = data(run("notify", "outbox", "list", "--incident", incidents[1].number, "--json"))
    assert {n["incident_number"] for n in one["items"]} == {incidents[1].number}
    assert data(run("notify", "outbox", "list", "--state", "dead", "--json"))["items"] == []

    shown = data(run("notify", "outbox", "show", str(ids[0]), "--json"))
    assert shown["incident_number"] == incidents[2].number and shown["state"] == "pending"
    assert incidents[2].number in ok(run("notify", "outbox", "show", str(ids[0]))).stdout
    _kill(fresh_db, ids[0])
    dead = data(run("notify", "outbox", "list", "--state", "dead", "--json"))["items"]
    assert [n["id"] for n in dead] == [ids[0]] and "550" in dead[0]["last_error"]
    retried = data(run("notify", "outbox", "retry", str(ids[0]), "--json"))
    assert (retried["state"], retried["attempts"]) == ("pending", 0)
    _kill(fresh_db, ids[0])
    assert "queued again" in ok(run("notify", "outbox", "retry", str(ids[0]))).stdout


def test_bad_outbox_requests_are_refused(run: Run, fresh_db: Database) -> None:
    cast = make_cast(fresh_db)
    _fill_outbox(fresh_db, cast)
    pending = data(run("notify", "outbox", "list", "--json"))["items"][0]
    refused(run("notify", "outbox", "list", "--state", "lost"), 2, "state must be one of")
    refused(run("notify", "outbox", "list", "--cursor", "bogus"), 2, "cursor")
    assert run("notify", "outbox", "list", "--limit", "0").exit_code == 2
    refused(run("notify", "outbox", "show", "99999"), 1, "not found")
    refused(run("notify", "outbox", "retry", "99999"), 1, "not found")
    refused(run("notify", "outbox", "retry", str(pending["id"])), 1, "only dead ones")
    assert data(run("notify", "outbox", "show", str(pending["id"]), "--json")) == pending
