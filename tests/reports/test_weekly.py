"""The weekly report (reports.jobs.send_weekly): who gets it, exactly once per ISO week, not
before its hour, with the figures of reports.kpis for the reader, through the outbox.

Week 2026-W47 is Monday 16 to Sunday 22 November 2026; its report is due on Monday 23 at
07:00 UTC (the defaults), and compares it with W46 (9 to 15 November).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Forbidden
from dutydesk.models import Notification, NotifyPreference, Setting, User
from dutydesk.notify import jobs as notify_jobs
from dutydesk.notify import service
from dutydesk.people.queries import build_actor
from dutydesk.reports import jobs, kpis
from dutydesk.worker import JobRun, Worker, default_jobs
from tests.factories import Cast, Person, act, make_cast, new_incident
from tests.notify.conftest import Inbox, inbox, notify_settings, smtp_settings  # noqa: F401

API = "/api/v1"
PREFS = f"{API}/me/notify/preferences"
TEMPLATES = f"{API}/admin/notify/templates"
W46 = datetime(2026, 11, 9, tzinfo=UTC)
W47 = datetime(2026, 11, 16, tzinfo=UTC)
DUE = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
RESOLVE = {"resolution_code": "fixed", "resolution_notes": "done", "is_workaround": False}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def subscribe(client: TestClient, who: Person, enabled: bool = True) -> Any:
    body = [{"event": "weekly_report", "channel": "email", "enabled": enabled}]
    return client.put(PREFS, json=body, headers=who.headers)


def run(db: Database, settings: Settings, at: datetime) -> JobRun:
    with clock.frozen(at):
        return jobs.send_weekly(db, settings, at)


def reports(db: Database) -> list[Notification]:
    with db.unit_of_work(write=False) as s:
        rows = s.scalars(
            select(Notification)
            .where(Notification.event == "weekly_report")
            .order_by(Notification.id)
        ).all()
        s.expunge_all()
        return list(rows)


def recipients(db: Database) -> list[str]:
    return [n.recipient for n in reports(db)]


# ----------------------------------------------------------------- who, when, how often


def test_only_subscribed_active_staff_get_it_exactly_once_a_week(
    client: TestClient, db: Database, settings: Settings, cast: Cast
) -> None:
    ok(subscribe(client, cast.alice))
    ok(subscribe(client, cast.ivy))
    ok(subscribe(client, cast.eve))
    ok(subscribe(client, cast.bob))
    ok(subscribe(client, cast.bob, enabled=False))  # and changed his mind
    with db.unit_of_work() as s:
        s.get(User, cast.eve.id).is_active = False  # type: ignore[union-attr]

    first = run(db, settings, DUE)
    assert first.done == 2 and first.lag_seconds == 0
    assert sorted(recipients(db)) == ["alice@example.com", "ivy@example.com"]
    for n in reports(db):
        assert n.incident_id is None and n.in_reply_to is None and n.state == "pending"
        assert n.dedupe_key == f"report:weekly_report:2026-W47:user{n.recipient_user_id}"
        assert n.subject == "Weekly report 2026-W47 (2026-11-16 to 2026-11-22)"
    # again, later that day, on Sunday: nothing more
    for later in (DUE, DUE + timedelta(hours=5), DUE + timedelta(days=6, hours=16)):
        assert run(db, settings, later) == JobRun()
    assert len(reports(db)) == 2
    # the next week's report
    assert run(db, settings, DUE + timedelta(days=7, minutes=3)).done == 2
    assert [n.dedupe_key.split(":")[2] for n in reports(db)] == ["2026-W47"] * 2 + ["2026-W48"] * 2
    with db.unit_of_work(write=False) as s:
        claim = s.get(Setting, "reports.weekly:2026-W48")
        assert claim is not None and '"sent": 2' in claim.value


def test_nothing_is_sent_before_the_configured_weekday_and_hour(
    client: TestClient, db: Database, settings: Settings, cast: Cast
) -> None:
    ok(subscribe(client, cast.alice))
    # Monday 06:59:59, and the Monday before (W46's report) at 00:00 and 06:59
    for early in (DUE - timedelta(seconds=1), W47, W47 + timedelta(hours=6, minutes=59)):
        assert run(db, settings, early) == JobRun()
    wednesday_noon = settings.model_copy(
        update={"weekly_report_weekday": 3, "weekly_report_hour_utc": 12}
    )
    wed = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert run(db, wednesday_noon, wed - timedelta(minutes=1)) == JobRun()
    assert not reports(db)
    late = run(db, wednesday_noon, wed + timedelta(hours=2))
    assert late.done == 1 and late.lag_seconds == pytest.approx(7200)
    assert recipients(db) == ["alice@example.com"]


def test_the_worker_runs_it_once_per_tick_and_week(
    client: TestClient, db: Database, settings: Settings, cast: Cast
) -> None:
    assert ("weekly_report", jobs.send_weekly) in default_jobs()
    ok(subscribe(client, cast.ivy))
    worker = Worker(db, settings, jobs=[("weekly_report", jobs.send_weekly)])
    with clock.frozen(DUE + timedelta(minutes=1)):
        assert worker.tick() == 1
        assert worker.tick() == 0
    assert recipients(db) == ["ivy@example.com"]


def test_two_workers_claim_the_week_once(backend: Any, fresh_db: Database) -> None:
    cast = make_cast(fresh_db)
    settings = Settings(database_url="sqlite://")
    with fresh_db.unit_of_work() as s:
        for person in (cast.alice, cast.ivy, cast.bob):
            service.set_preference(
                s, build_actor(s, person.user), person.id, "weekly_report", "email", True
            )
    workers = [Database(fresh_db.engine) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[JobRun] = []
    errors: list[BaseException] = []

    def work(db: Database) -> None:
        try:
            barrier.wait(5)
            results.append(jobs.send_weekly(db, settings, DUE))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with clock.frozen(DUE):
        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert sorted(r.done for r in results) == [0, 3]
    assert sorted(recipients(fresh_db)) == [
        "alice@example.com",
        "bob@example.com",
        "ivy@example.com",
    ]
    assert run(workers[0], settings, DUE + timedelta(hours=1)) == JobRun()


# ----------------------------------------------------------------- subscribing


def test_the_report_is_off_by_default_and_only_staff_may_subscribe(
    client: TestClient, db: Database, settings: Settings, cast: Cast
) -> None:
    prefs = ok(client.get(PREFS, headers=cast.alice.headers))
    weekly = next(p for p in prefs if p["event"] == "weekly_report")
    assert weekly == {
        "event": "weekly_report",
        "channel": "email",
        "enabled": False,
        "is_default": True,
    }
    assert all(p["enabled"] for p in prefs if p["event"] != "weekly_report")
    after = ok(subscribe(client, cast.alice))
    assert {"event": "weekly_report", "channel": "email", "enabled": True, "is_default": False} in (
        after
    )
    # requesters do not see it and cannot turn it on (neither can an admin for them)
    assert all(
        p["event"] != "weekly_report" for p in ok(client.get(PREFS, headers=cast.dave.headers))
    )
    assert subscribe(client, cast.dave).status_code == 403
    assert ok(subscribe(client, cast.dave, enabled=False))  # turning it off is harmless
    with db.unit_of_work() as s, pytest.raises(Forbidden):
        service.set_preference(
            s, build_actor(s, cast.bob.user), cast.erin.id, "weekly_report", "email", True
        )
    # a requester's preference row written behind the API's back is ignored
    with db.unit_of_work() as s:
        s.add(
            NotifyPreference(
                user_id=cast.erin.id, event="weekly_report", channel="email", enabled=True
            )
        )
    assert run(db, settings, DUE).done == 1
    assert recipients(db) == ["alice@example.com"]
    # endpoints cannot subscribe to it, and incidents cannot announce it
    hook = client.post(
        f"{API}/admin/notify/endpoints",
        json={"name": "hook", "url": "https://hooks.example/in", "events": ["weekly_report"]},
        headers=cast.bob.headers,
    )
    assert hook.status_code == 422, hook.text


def test_announce_report_writes_for_subscribed_staff_only(
    client: TestClient, db: Database, settings: Settings, cast: Cast
) -> None:
    from dutydesk.notify.templates import sample_report

    ok(subscribe(client, cast.alice))
    extra = sample_report(settings.public_base_url)
    ids = [cast.alice.id, cast.eve.id, cast.dave.id]
    with clock.frozen(DUE), db.unit_of_work() as s:
        rows = service.announce_report(
            s, settings, "weekly_report", recipients=ids, occurrence="2026-W47", extra=extra
        )
        assert [r.recipient for r in rows] == ["alice@example.com"]
        again = service.announce_report(
            s, settings, "weekly_report", recipients=ids, occurrence="2026-W47", extra=extra
        )
        assert again == []
        with pytest.raises(ValueError, match="needs extra"):
            service.announce_report(
                s, settings, "weekly_report", recipients=ids, occurrence="x", extra={}
            )
        with pytest.raises(ValueError, match="unknown report event"):
            service.announce_report(s, settings, "assigned", recipients=ids, occurrence="x")


# ----------------------------------------------------------------- the figures


@pytest.fixture
def two_weeks(client: TestClient, cast: Cast) -> None:
    """W46: A (Acme) acknowledged after 10 min, resolved after 2 h. W47: B (Acme) after 20 min
    and 4 h; C (Acme) still open; D (Globex, Application Support) resolved after 1 h and
    rated 5 — Alice (Service Desk, serves Acme) does not see D."""
    acme = {"caller_id": cast.dave.id, "category_id": cast.hardware.id}
    with clock.frozen(W46 + timedelta(hours=10)) as move:
        a = new_incident(client, cast.bob, **acme)["number"]
        move(timedelta(minutes=10))
        ok(act(client, cast.alice, a, "assign", group_id=cast.desk.id))
        move(timedelta(minutes=110))
        ok(act(client, cast.alice, a, "resolve", **RESOLVE))
        move(W47 + timedelta(days=1, hours=9) - clock.now())  # Tuesday 09:00
        b = new_incident(client, cast.bob, **acme)["number"]
        new_incident(client, cast.bob, **acme)
        d = new_incident(client, cast.bob, caller_id=cast.carol.id, category_id=cast.hardware.id)[
            "number"
        ]
        move(timedelta(minutes=5))
        ok(act(client, cast.bob, d, "assign", group_id=cast.apps.id))
        move(timedelta(minutes=15))
        ok(act(client, cast.alice, b, "assign", group_id=cast.desk.id))
        move(timedelta(minutes=40))
        ok(act(client, cast.bob, d, "resolve", **RESOLVE))
        ok(act(client, cast.bob, d, "close"))
        ok(
            client.post(
                f"{API}/incidents/{d}/survey", json={"rating": 5}, headers=cast.carol.headers
            )
        )
        move(timedelta(hours=3))
        ok(act(client, cast.alice, b, "resolve", **RESOLVE))


def row_of(body: str, label: str) -> list[str]:
    """This week, previous week and change of one row of the table."""
    line = next(x for x in body.splitlines() if x.startswith(label))
    return line[len(label) :].split()


def expected_figures(db: Database, person: Person, start: datetime) -> dict[str, Any]:
    """The week's figures straight from reports.kpis, with the reader's Actor."""
    flt = kpis.ReportFilter(opened_from=start, opened_to=start + timedelta(days=7))
    with db.unit_of_work(write=False) as s:
        actor = build_actor(s, person.user)
        total = kpis.kpi_table(s, actor, flt).total
        volume = kpis.volume(s, actor, flt)
    figures = {key: total.get(key) for key, *_ in jobs.ROWS}
    figures["opened"] = total["count"]
    figures["resolved"] = sum(row["resolved"] for row in volume)
    return figures


def test_the_body_shows_the_readers_figures_against_the_previous_week(
    client: TestClient, db: Database, settings: Settings, cast: Cast, two_weeks: None
) -> None:
    ok(subscribe(client, cast.alice))
    ok(subscribe(client, cast.ivy))
    assert run(db, settings, DUE).done == 2
    mails = {n.recipient_user_id: n.body for n in reports(db)}
    for person, opened, resolved in ((cast.alice, 2, 1), (cast.ivy, 3, 2)):
        body = mails[person.id]
        current = expected_figures(db, person, W47)
        previous = expected_figures(db, person, W46)
        assert (current["opened"], current["resolved"]) == (opened, resolved)
        assert (previous["opened"], previous["resolved"]) == (1, 1)
        for row in jobs.figure_rows(current, previous):
            line = next(x for x in body.splitlines() if x.startswith(row["label"]))
            assert line.rstrip().endswith(row["change"]), line  # the values of kpis
            assert f" {row['current']} " in line and f" {row['previous']} " in line, line
        assert f"Hello {person.user.full_name}," in body
        assert "week 2026-W47 (2026-11-16 to 2026-11-22, UTC)" in body
        assert f"{settings.public_base_url}/reports" in body
    alice, ivy = mails[cast.alice.id], mails[cast.ivy.id]
    # by hand: Alice sees B only this week (ack 20 min, resolved in 4 h), A the week before
    assert "Mean time to acknowledge" in alice
    assert "20 min" in alice and "10 min" in alice and "+10 min" in alice
    assert "4 h 00 min" in alice and "2 h 00 min" in alice and "+2 h 00 min" in alice
    assert "Backlog now: 1 open incidents, 0 of them" in alice
    assert row_of(alice, "Satisfaction (1-5)") == ["-", "-", "-"]  # D is not hers
    assert row_of(ivy, "Satisfaction (1-5)") == ["5.00", "-", "-"]
    assert row_of(ivy, "Incidents opened") == ["3", "1", "+2"]


def test_a_quiet_week_shows_dashes_not_zeros(
    client: TestClient, db: Database, settings: Settings, cast: Cast
) -> None:
    ok(subscribe(client, cast.bob))
    assert run(db, settings, DUE).done == 1
    body = reports(db)[0].body
    assert row_of(body, "Incidents opened") == ["0", "0", "±0"]
    assert row_of(body, "Mean time to acknowledge") == ["-", "-", "-"]
    assert "Backlog now: 0 open incidents" in body


def test_durations_read_well() -> None:
    assert [jobs.duration(s) for s in (0, 45, 60, 1110, 3600, 22200, 47 * 3600, 50 * 3600)] == [
        "0 s",
        "45 s",
        "1 min",
        "18 min",
        "1 h 00 min",
        "6 h 10 min",
        "47 h 00 min",
        "2 d 2 h",
    ]
    assert jobs.iso_label(datetime(2027, 1, 1).date()) == "2026-W53"


# ----------------------------------------------------------------- the template


def test_the_template_is_overridden_previewed_and_used(
    client: TestClient, db: Database, settings: Settings, cast: Cast
) -> None:
    bob = cast.bob.headers
    builtin = ok(client.post(f"{TEMPLATES}/weekly_report/email/preview", json={}, headers=bob))
    assert "Weekly report 2026-W47" in builtin["subject"]
    assert "Incidents opened" in builtin["body"] and "Backlog now: 17" in builtin["body"]
    own = {
        "subject": "Week {{ extra.week }}",
        "body": "{% for f in extra.figures %}{{ f.key }}={{ f.current }};{% endfor %}",
    }
    assert ok(client.put(f"{TEMPLATES}/weekly_report/email", json=own, headers=bob))["overridden"]
    preview = ok(client.post(f"{TEMPLATES}/weekly_report/email/preview", json={}, headers=bob))
    assert preview["body"].startswith("opened=42;resolved=40;")
    # there is no incident in a report, and reports are not sent to chat channels
    wrong = {"subject": "{{ incident.number }}", "body": "x"}
    assert (
        client.put(f"{TEMPLATES}/weekly_report/email", json=wrong, headers=bob).status_code == 422
    )
    chat = client.put(f"{TEMPLATES}/weekly_report/slack", json=own, headers=bob)
    assert chat.status_code == 422, chat.text
    assert (
        client.post(f"{TEMPLATES}/weekly_report/teams/preview", json={}, headers=bob).status_code
        == 422
    )

    ok(subscribe(client, cast.ivy))
    assert run(db, settings, DUE).done == 1
    sent = reports(db)[0]
    assert sent.subject == "Week 2026-W47"
    assert sent.body.startswith("opened=0;resolved=0;mtta_seconds=-;")
    ok(client.delete(f"{TEMPLATES}/weekly_report/email", headers=bob))


def test_the_report_is_delivered_as_a_plain_mail_without_a_thread(
    client: TestClient,
    db: Database,
    cast: Cast,
    smtp_settings: Settings,  # noqa: F811
    inbox: Inbox,  # noqa: F811
) -> None:
    ok(subscribe(client, cast.alice))
    assert run(db, smtp_settings, DUE).done == 1
    with clock.frozen(DUE):
        assert notify_jobs.deliver_due(db, smtp_settings, DUE).done == 1
    assert reports(db)[0].state == "sent"
    (mail,) = inbox.messages
    message = mail.message
    assert message["To"] == "alice@example.com" and message["In-Reply-To"] is None
    assert message["Subject"] == "Weekly report 2026-W47 (2026-11-16 to 2026-11-22)"
    assert message["Message-ID"].endswith(".report@dutydesk.example>")
    assert "Incidents opened" in message.get_content()
    assert system_actor().user_id is None  # the report has no actor among the users
