"""`dutydesk import servicenow|csv` on generated files: history, idempotency, rejections, and
KPIs over the imported incidents agreeing with the same KPIs computed from the file."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from statistics import mean, median
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.access.policy import system_actor
from dutydesk.db import Database
from dutydesk.imports.servicenow import COLUMNS
from dutydesk.incidents.history import verify_chains
from dutydesk.models import Incident, IncidentEvent, SupportGroup
from dutydesk.reports.kpis import ReportFilter, kpi_table
from tests.imports.conftest import write

T0 = datetime(2016, 2, 29, 1, 16, tzinfo=UTC)
FMT = "%d/%m/%Y %H:%M"


def d(at: datetime | None) -> str:
    return "?" if at is None else f"{at.day}/{at.month}/{at.year} {at:%H:%M}"


TARGETS = {2: (30 * 60, 8 * 3600), 3: (4 * 3600, 24 * 3600)}  # the seeded Default P2 / P3
COUNTING = ("New", "Active")  # states whose time the resolution clock counts (not paused)
FLIPPED = "INC0000007"  # its made_sla in the file says the opposite of the clock


def generate(n: int) -> tuple[str, dict[str, dict[str, Any]]]:
    """An audit log of n incidents (3–8 rows each) and the truth about each incident.

    SLA cases with known answers (24x7 calendar): a late first response (i % 11 == 5), two
    days waiting for the user (i % 4 == 1; the clock pauses), 30 extra hours of work
    (i % 7 == 3; the resolution target is missed), a reopen (i % 5 == 0; the time spent
    resolved is not counted)."""
    rows: list[dict[str, str]] = []
    truth: dict[str, dict[str, Any]] = {}
    for i in range(n):
        number = f"INC{i + 1:07d}"
        opened = T0 + timedelta(hours=7 * i)
        priority = 2 if i % 3 == 0 else 3
        groups = ["Group 1", "Group 2", "Group 3"][: 1 + i % 3]
        reopened = i % 5 == 0
        ack = 300 if i % 11 == 5 else 10 + i % 7
        steps: list[tuple[int, str, str]] = [(0, "New", groups[0])]
        steps.append((ack, "Active", groups[0]))
        t = ack
        for g in groups[1:]:
            t += 30
            steps.append((t, "Active", g))
        if i % 4 == 1:
            steps.append((t + 10, "Awaiting User Info", groups[-1]))
            t += 10 + 48 * 60
            steps.append((t, "Active", groups[-1]))
        if i % 7 == 3:
            t += 30 * 60
        resolved_min = t + 60 + 13 * (i % 4)
        steps.append((resolved_min, "Resolved", groups[-1]))
        if reopened:
            steps.append((resolved_min + 20, "Active", groups[-1]))
            resolved_min += 50
            steps.append((resolved_min, "Resolved", groups[-1]))
        closed = i % 2 == 0
        if closed:
            steps.append((resolved_min + 120, "Closed", groups[-1]))
        resolved_at = opened + timedelta(minutes=resolved_min)
        counted = sum(
            (later - minute) * 60
            for (minute, state, _g), (later, _s, _h) in pairwise(steps)
            if state in COUNTING
        )
        response_target, resolution_target = TARGETS[priority]
        made_sla = counted < resolution_target
        for minute, state, group in steps:
            done = state in ("Resolved", "Closed")
            rows.append(
                {
                    **dict.fromkeys(COLUMNS, "?"),
                    "number": number,
                    "incident_state": state,
                    "active": "false" if done else "true",
                    "reassignment_count": str(len(groups) - 1),
                    "reopen_count": "1" if reopened else "0",
                    "made_sla": str(made_sla != (number == FLIPPED)).lower(),
                    "caller_id": f"Caller {i % 9}",
                    "opened_by": "Opened by 8",
                    "opened_at": d(opened),
                    "sys_updated_by": f"Updater {minute % 4}",
                    "sys_updated_at": d(opened + timedelta(minutes=minute)),
                    "contact_type": "Phone",
                    "category": f"Category {i % 4}",
                    "impact": "2 - Medium",
                    "urgency": "2 - Medium",
                    "priority": "2 - High" if priority == 2 else "3 - Moderate",
                    "assignment_group": group,
                    "assigned_to": "Resolver 7" if state != "New" else "?",
                    "resolved_at": d(resolved_at) if done else "?",
                    "closed_at": d(opened + timedelta(minutes=resolved_min + 120))
                    if state == "Closed"
                    else "?",
                }
            )
        truth[number] = {
            "mtta": ack * 60,
            "mttr": resolved_min * 60,
            "reassignments": len(groups) - 1,
            "reopened": reopened,
            "response_met": ack * 60 < response_target,
            "resolution_met": made_sla,
            "business_mttr": counted,
        }
    rows.reverse()  # the importer must order by sys_updated_at itself
    return to_csv(rows), truth


def to_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def test_import_rebuilds_history_and_the_kpis_agree(
    run: Any, fresh_db: Database, tmp_path: Path
) -> None:
    text, truth = generate(40)
    path = write(tmp_path, "audit.csv", text)
    r = run("import", "servicenow", path)
    assert r.exit_code == 0, r.output
    assert "40 incidents imported" in r.output and "0 rejected" in r.output
    assert "agrees with the resolution clock computed from its instants on 39 of 40" in r.output
    assert f"differs on 1: {FLIPPED}" in r.output
    with fresh_db.unit_of_work(write=False) as s:
        table = kpi_table(s, system_actor(), ReportFilter()).total
        assert table["count"] == 40
        assert table["mtta_seconds"] == pytest.approx(mean(t["mtta"] for t in truth.values()))
        assert table["mttr_seconds"] == pytest.approx(mean(t["mttr"] for t in truth.values()))
        assert table["mttr_median_seconds"] == pytest.approx(
            median(t["mttr"] for t in truth.values())
        )
        assert table["reassignment_mean"] == pytest.approx(
            mean(t["reassignments"] for t in truth.values())
        )
        assert table["reopen_rate"] == pytest.approx(
            sum(t["reopened"] for t in truth.values()) / 40
        )
        fcr = [not t["reopened"] and t["reassignments"] == 0 for t in truth.values()]
        assert table["fcr_rate"] == pytest.approx(sum(fcr) / 40)
        # SLA compliance from the clocks replayed over the file's instants
        assert table["sla_response_met_rate"] == pytest.approx(
            mean(t["response_met"] for t in truth.values())
        )
        assert table["sla_resolution_met_rate"] == pytest.approx(
            mean(t["resolution_met"] for t in truth.values())
        )
        assert 0 < table["sla_response_met_rate"] < 1 and 0 < table["sla_resolution_met_rate"] < 1
        business = kpi_table(s, system_actor(), ReportFilter(), business=True).total
        assert business["mtta_seconds"] == pytest.approx(mean(t["mtta"] for t in truth.values()))
        assert business["mttr_seconds"] == pytest.approx(
            mean(t["business_mttr"] for t in truth.values())
        )
        # the history: imported, chained, with the group moves and their actors
        inc = s.scalars(select(Incident).where(Incident.number == "INC0000003")).one()
        events = s.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == inc.id).order_by("seq")
        ).all()
        assert all(e.imported and e.actor_type == "import" for e in events)
        moves = [(e.old, e.new) for e in events if e.field == "assignment_group"]
        assert moves == [('"Group 1"', '"Group 2"'), ('"Group 2"', '"Group 3"')]
        assert events[0].kind == "created" and events[0].at == T0 + timedelta(hours=14)
        assert inc.reassignment_count == 2 and inc.state == "closed"
        assert list(verify_chains(s)) == []
        groups = s.scalar(select(func.count()).select_from(SupportGroup))
        total_events = s.scalar(select(func.count()).select_from(IncidentEvent))
    # a re-import changes nothing
    r = run("import", "servicenow", path)
    assert r.exit_code == 0 and "0 incidents imported" in r.output and "40 skipped" in r.output
    with fresh_db.unit_of_work(write=False) as s:
        assert s.scalar(select(func.count()).select_from(SupportGroup)) == groups
        assert s.scalar(select(func.count()).select_from(IncidentEvent)) == total_events


def test_bad_rows_reject_their_incident_only(run: Any, fresh_db: Database, tmp_path: Path) -> None:
    text, _truth = generate(6)
    lines = text.splitlines()
    # a malformed row of INC0000006 (cells missing), a bad date in INC0000005,
    # a conflicting duplicate of an INC0000004 row, and an exact duplicate of an INC0000003 row
    inc6 = next(i for i, line in enumerate(lines) if line.startswith("INC0000006"))
    lines[inc6] = "INC0000006,Active,true"
    inc5 = next(i for i, line in enumerate(lines) if line.startswith("INC0000005"))
    lines[inc5] = re.sub(r"(\d+)/(\d+)/2016", r"2016-\2-\1", lines[inc5], count=1)
    inc4 = next(line for line in lines if line.startswith("INC0000004"))
    lines.append(inc4.replace("Group", "Team"))
    lines.append(next(line for line in lines if line.startswith("INC0000003")))
    # made_sla of INC0000002's last update (its first line: the file is in reverse order)
    inc2 = next(i for i, line in enumerate(lines) if line.startswith("INC0000002"))
    cells = lines[inc2].split(",")
    cells[COLUMNS.index("made_sla")] = "maybe"
    lines[inc2] = ",".join(cells)
    r = run("import", "servicenow", write(tmp_path, "bad.csv", "\n".join(lines) + "\n"))
    assert r.exit_code == 0, r.output
    assert "2 incidents imported" in r.output and "4 rejected" in r.output
    assert "INC0000002: made_sla: 'maybe' is not true or false" in r.output
    assert "malformed row" in r.output and "does not match the date format" in r.output
    assert "same sys_updated_at" in r.output and "the same row as line" in r.output
    with fresh_db.unit_of_work(write=False) as s:
        numbers = set(s.scalars(select(Incident.number)))
    assert numbers == {"INC0000001", "INC0000003"}


def test_a_wrong_date_format_or_header_rejects_the_file(run: Any, tmp_path: Path) -> None:
    text, _ = generate(3)
    path = write(tmp_path, "audit.csv", text)
    r = run("import", "servicenow", path, "--date-format", "%Y-%m-%d %H:%M")
    assert r.exit_code == 1 and "the file is rejected" in r.output
    assert "does not match the date format '%Y-%m-%d %H:%M'" in r.output
    r = run("import", "servicenow", write(tmp_path, "x.csv", "a,b\n1,2\n"))
    assert r.exit_code == 2 and "no column number, incident_state, opened_at" in r.output
    r = run("import", "servicenow", str(tmp_path / "missing.csv"))
    assert r.exit_code == 2 and "cannot read" in r.output
    # the JSON import keeps its old spelling
    r = run("import", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 1 and "is not a file" in r.output


def test_csv_with_a_mapping(run: Any, fresh_db: Database, tmp_path: Path) -> None:
    data = (
        "Ticket,Status,Created,Updated,Team,Prio,Moves\n"
        "HD-1,Open,2024-01-02 10:00,2024-01-02 10:00,Desk,High,0\n"
        "HD-1,Done,2024-01-02 10:00,2024-01-02 12:00,Desk,High,0\n"
        "TKT0000002,Open,2024-01-03 09:00,2024-01-03 09:00,Desk,Low,1\n"
        "TKT0000002,Work,2024-01-03 09:00,2024-01-03 09:30,Ops,Low,1\n"
        "TKT0000002,Done,2024-01-03 09:00,2024-01-03 11:00,Ops,Low,1\n"
    )
    mapping = (
        'date_format: "%Y-%m-%d %H:%M"\n'
        "columns: {number: Ticket, incident_state: Status, opened_at: Created,\n"
        "  sys_updated_at: Updated, assignment_group: Team, priority: Prio,\n"
        "  reassignment_count: Moves, resolved_at: Updated}\n"
        "values:\n"
        "  incident_state: {Open: New, Work: Active, Done: Resolved}\n"
        "  priority: {High: '2 - High', Low: '4 - Low'}\n"
    )
    csv_path = write(tmp_path, "hd.csv", data)
    map_path = write(tmp_path, "map.yaml", mapping)
    r = run("import", "csv", csv_path, "--mapping", map_path)
    assert r.exit_code == 0, r.output
    assert "1 incidents imported" in r.output and "2 rejected" in r.output
    assert "'HD-1' is not like INC0000123" in r.output
    with fresh_db.unit_of_work(write=False) as s:
        inc = s.scalars(select(Incident).where(Incident.number == "TKT0000002")).one()
        assert (inc.state, inc.priority, inc.reassignment_count) == ("resolved", 4, 1)
        assert inc.resolved_at == datetime(2024, 1, 3, 11, 0, tzinfo=UTC)
        assert inc.acknowledged_at == datetime(2024, 1, 3, 9, 30, tzinfo=UTC)
    bad = write(tmp_path, "bad.yaml", "columns: {number: Ticket}\n")
    r = run("import", "csv", csv_path, "--mapping", bad)
    assert r.exit_code == 2 and "'incident_state' must be mapped" in r.output
