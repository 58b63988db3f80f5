"""Imported incidents' SLA clocks: stopped or held history that the worker never fires, and a
held clock that continues when an agent works the incident afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.escalation.jobs import fire_due as fire_escalations
from dutydesk.incidents.jobs import close_due
from dutydesk.kernel import clock
from dutydesk.models import Incident, Notification, SlaClock
from dutydesk.sla.jobs import fire_due as fire_sla
from dutydesk.sla.service import sync_clocks
from dutydesk.worker import Worker
from tests.imports.conftest import write

HEADER = "number,incident_state,opened_at,sys_updated_at,priority,made_sla,resolved_at\n"
# P3 (Default P3: response 4 h, resolution 24 h, 24x7)
ROWS = (
    # open, 2 h used when the file ends: both clocks held, undecided
    "INC0000001,New,1/3/2026 08:00,1/3/2026 08:00,3 - Moderate,?,?\n"
    "INC0000001,Active,1/3/2026 08:00,1/3/2026 09:00,3 - Moderate,?,?\n"
    "INC0000001,Active,1/3/2026 08:00,1/3/2026 10:00,3 - Moderate,?,?\n"
    # open for 30 h: the resolution clock is breached (decided) although held
    "INC0000002,New,1/3/2026 08:00,1/3/2026 08:00,3 - Moderate,false,?\n"
    "INC0000002,Active,1/3/2026 08:00,1/3/2026 09:00,3 - Moderate,false,?\n"
    "INC0000002,Active,1/3/2026 08:00,2/3/2026 14:00,3 - Moderate,false,?\n"
    # resolved after 30 h: stopped, breached 24 h after opening
    "INC0000003,New,1/3/2026 08:00,1/3/2026 08:00,3 - Moderate,false,?\n"
    "INC0000003,Resolved,1/3/2026 08:00,2/3/2026 14:00,3 - Moderate,false,2/3/2026 14:00\n"
)
OPENED = datetime(2026, 3, 1, 8, tzinfo=UTC)


def clocks(db: Database) -> dict[tuple[str, str], SlaClock]:
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(Incident.number, SlaClock).join(Incident, Incident.id == SlaClock.incident_id)
        ).all()
        s.expunge_all()
    return {(number, c.kind): c for number, c in rows}


def test_imported_clocks_never_fire_and_a_held_one_continues(
    run: Any, fresh_db: Database, settings: Settings, tmp_path: Path
) -> None:
    r = run("import", "servicenow", write(tmp_path, "open.csv", HEADER + ROWS))
    assert r.exit_code == 0 and "3 incidents imported" in r.output, r.output
    assert "on 2 of 2 decided incidents" in r.output  # 2 and 3 breached; 1 is undecided
    got = clocks(fresh_db)
    assert len(got) == 6 and all(c.next_check_at is None for c in got.values())
    held = got[("INC0000001", "resolution")]
    assert (held.elapsed_before, held.segment_start, held.stopped_at) == (2 * 3600, None, None)
    assert held.breached_at is None
    late = got[("INC0000002", "resolution")]
    assert late.stopped_at is None and late.breached_at == OPENED + timedelta(hours=24)
    done = got[("INC0000003", "resolution")]
    assert done.stop_reason == "resolved" and done.breached_at == OPENED + timedelta(hours=24)
    assert got[("INC0000003", "response")].stop_reason == "responded"

    # a year later the worker still has nothing to fire or tell anyone about
    jobs = [("sla", fire_sla), ("escalation", fire_escalations), ("auto_close", close_due)]
    with clock.frozen(OPENED + timedelta(days=365)):
        assert Worker(fresh_db, settings, jobs=jobs, worker_id="imports").tick() == 0
    with fresh_db.unit_of_work(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 0
    assert clocks(fresh_db)[("INC0000002", "resolution")].breached_at == late.breached_at

    # an agent takes INC0000001 up: the held resolution clock continues from its 2 h
    now = OPENED + timedelta(days=10)
    with fresh_db.unit_of_work() as s:
        incident = s.scalars(select(Incident).where(Incident.number == "INC0000001")).one()
        sync_clocks(s, system_actor(), incident, now=now)
        assert incident.resolve_by == now + timedelta(hours=22)
    resumed = clocks(fresh_db)[("INC0000001", "resolution")]
    assert resumed.segment_start == now and resumed.next_check_at is not None
