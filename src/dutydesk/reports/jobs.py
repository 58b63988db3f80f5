"""The weekly report: a worker job that mails each subscribed staff member the figures of the
past ISO week (for the incidents they may see) beside those of the week before.

From ``weekly_report_weekday`` at ``weekly_report_hour_utc`` (UTC) until the end of that ISO
week, the report of the previous ISO week is due. The week is claimed by inserting the row
``reports.weekly:YYYY-Www`` into the ``setting`` table (its primary key makes the insert a
once-only claim across workers); the claim and every outbox row commit together, so a crash
before the commit leaves the week due and after it nothing is sent twice. A competing worker
waits on the key until the first commits, then finds it taken. Each e-mail's dedupe key is
per user and week as well. A week whose sending window passed while no worker ran is skipped.

Subscribers are the active staff with an enabled ``weekly_report``/``email`` preference
(default off). Their figures come from ``reports.kpis`` with their own Actor, so an agent's
report counts the incidents that agent may see.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.models import Setting, User
from dutydesk.notify import queries as notify_queries
from dutydesk.notify import service as notify
from dutydesk.people.queries import build_actor
from dutydesk.reports import kpis
from dutydesk.worker import JobRun

log = logging.getLogger("dutydesk.reports")
EVENT = "weekly_report"
CLAIM_PREFIX = "reports.weekly:"
DASH = "-"


@dataclass(frozen=True)
class ReportWeek:
    """The ISO week a report covers, and when its sending became due."""

    start: datetime  # Monday 00:00 UTC
    due_at: datetime

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=7)

    @property
    def previous_start(self) -> datetime:
        return self.start - timedelta(days=7)

    @property
    def label(self) -> str:
        return iso_label(self.start.date())


def iso_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def due_week(settings: Settings, now: datetime) -> ReportWeek | None:
    """The week whose report is due at `now`: the previous ISO week, from the configured
    weekday and hour of this week to its end; None before that instant."""
    today = now.astimezone(UTC).date()
    monday = datetime.combine(today - timedelta(days=today.isoweekday() - 1), time(), UTC)
    due_at = monday + timedelta(
        days=settings.weekly_report_weekday - 1, hours=settings.weekly_report_hour_utc
    )
    if now < due_at:
        return None
    return ReportWeek(start=monday - timedelta(days=7), due_at=due_at)


def claim(session: Session, week: ReportWeek, now: datetime) -> bool:
    """Insert the week's claim row; False when another worker (or an earlier run) has it."""
    key = CLAIM_PREFIX + week.label
    if session.get(Setting, key) is not None:
        return False
    value = json.dumps({"week": week.label, "claimed_at": now.isoformat(), "sent": 0})
    try:
        with session.begin_nested():
            session.add(Setting(key=key, value=value, updated_at=now, updated_by_id=None))
            session.flush()
    except IntegrityError:
        return False
    return True


# ----------------------------------------------------------------- the figures


def figures_of(
    session: Session, actor: Actor, start: datetime, end: datetime
) -> dict[str, float | int | None]:
    """The report's figures for the incidents `actor` may see, for one week [start, end)."""
    flt = kpis.ReportFilter(opened_from=start, opened_to=end)
    total = kpis.kpi_table(session, actor, flt).total
    resolved = sum(int(row["resolved"]) for row in kpis.volume(session, actor, flt))
    return {
        "opened": total["count"],
        "resolved": resolved,
        "mtta_seconds": total["mtta_seconds"],
        "mttr_seconds": total["mttr_seconds"],
        "mttr_median_seconds": total["mttr_median_seconds"],
        "sla_response_met_rate": total["sla_response_met_rate"],
        "sla_resolution_met_rate": total["sla_resolution_met_rate"],
        "csat_mean": total["csat_mean"],
        "csat_response_rate": total["csat_response_rate"],
    }


def duration(seconds: float) -> str:
    """'45 s', '18 min', '6 h 05 min', '2 d 3 h'."""
    total = round(abs(seconds))
    if total < 60:
        return f"{total} s"
    minutes = round(total / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _count(v: float) -> str:
    return str(int(v))


def _rate(v: float) -> str:
    return f"{v * 100:.1f} %"


def _csat(v: float) -> str:
    return f"{v:.2f}"


def _signed(text: str, delta: float) -> str:
    return ("+" if delta > 0 else "-" if delta < 0 else "±") + text


# key, label, format of a value, format of a change (always given a positive number)
ROWS: tuple[tuple[str, str, Any, Any], ...] = (
    ("opened", "Incidents opened", _count, _count),
    ("resolved", "Incidents resolved", _count, _count),
    ("mtta_seconds", "Mean time to acknowledge", duration, duration),
    ("mttr_seconds", "Mean time to resolve", duration, duration),
    ("mttr_median_seconds", "Median time to resolve", duration, duration),
    ("sla_response_met_rate", "Response SLA met", _rate, lambda v: f"{v * 100:.1f} pp"),
    ("sla_resolution_met_rate", "Resolution SLA met", _rate, lambda v: f"{v * 100:.1f} pp"),
    ("csat_mean", "Satisfaction (1-5)", _csat, _csat),
    ("csat_response_rate", "Survey response rate", _rate, lambda v: f"{v * 100:.1f} pp"),
)


def figure_rows(
    current: dict[str, float | int | None], previous: dict[str, float | int | None]
) -> list[dict[str, Any]]:
    """The table of the e-mail: each figure as text (DASH when it cannot be computed), its
    change against the previous week, and the raw values."""
    rows = []
    for key, label, fmt, fmt_change in ROWS:
        now_v, before = current[key], previous[key]
        change = DASH
        if now_v is not None and before is not None:
            delta = float(now_v) - float(before)
            change = _signed(fmt_change(abs(delta)), delta)
        rows.append(
            {
                "key": key,
                "label": label,
                "current": DASH if now_v is None else fmt(now_v),
                "previous": DASH if before is None else fmt(before),
                "change": change,
                "current_value": now_v,
                "previous_value": before,
            }
        )
    return rows


def backlog_of(session: Session, actor: Actor, now: datetime) -> dict[str, Any]:
    rows = kpis.backlog(session, actor, kpis.ReportFilter(), now=now)
    if not rows:
        return {"open": 0, "over_7d": 0, "oldest": ""}
    row = rows[0]
    return {
        "open": row["open"],
        "over_7d": row["age_7d_30d"] + row["age_over_30d"],
        "oldest": duration(row["oldest_age_seconds"]),
    }


def report_extra(
    session: Session, settings: Settings, user: User, week: ReportWeek, now: datetime
) -> dict[str, Any]:
    """The `extra` of one subscriber's weekly_report (see templates.sample_report)."""
    actor = build_actor(session, user, scope="read", channel="worker")
    current = figures_of(session, actor, week.start, week.end)
    previous = figures_of(session, actor, week.previous_start, week.start)
    return {
        "week": week.label,
        "week_start": week.start.date().isoformat(),
        "week_end": (week.end - timedelta(days=1)).date().isoformat(),
        "previous_week": iso_label(week.previous_start.date()),
        "recipient": user.full_name or user.username,
        "figures": figure_rows(current, previous),
        "backlog": backlog_of(session, actor, now),
        "url": settings.public_base_url.rstrip("/") + "/reports",
    }


def write_reports(session: Session, settings: Settings, week: ReportWeek, now: datetime) -> int:
    """Write one weekly_report e-mail per subscriber into the outbox; returns how many."""
    written = 0
    for user_id in notify_queries.subscribers(session, EVENT):
        user = session.get(User, user_id)
        if user is None:
            continue
        extra = report_extra(session, settings, user, week, now)
        written += len(
            notify.announce_report(
                session,
                settings,
                EVENT,
                recipients=[user_id],
                occurrence=week.label,
                extra=extra,
            )
        )
    return written


def send_weekly(db: Database, settings: Settings, now: datetime) -> JobRun:
    """Once per week, after the configured weekday and hour: mail the weekly reports."""
    week = due_week(settings, now)
    if week is None:
        return JobRun()
    with db.unit_of_work(write=False) as session:  # the usual case: already sent
        if session.scalar(select(Setting.key).where(Setting.key == CLAIM_PREFIX + week.label)):
            return JobRun()
    with db.unit_of_work() as session:
        if not claim(session, week, now):
            return JobRun()
        written = write_reports(session, settings, week, now)
        row = session.get(Setting, CLAIM_PREFIX + week.label)
        if row is not None:
            row.value = json.dumps(
                {"week": week.label, "claimed_at": now.isoformat(), "sent": written}
            )
    lag = (now - week.due_at).total_seconds()
    log.info("weekly report %s: %s e-mails written (%.0f s after due)", week.label, written, lag)
    return JobRun(done=written, lag_seconds=lag)
