"""The KPI dashboard through TestClient: figures, empty states, filters, the group and
customer views, visibility, the CSV and bad input."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.reports.definitions import DEFINITIONS
from tests.factories import Cast, act, new_incident
from tests.web.conftest import row_counts, sign_in

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
RESOLVE = {"resolution_code": "fixed", "resolution_notes": "done", "is_workaround": False}
TILE_RE = re.compile(
    r'<li class="kpi-tile[^"]*" title="([^"]*)">\s*<p class="kpi-tile__label"[^>]*>([^<]+)<'
)


def ok(response: object) -> None:
    assert getattr(response, "status_code", 0) == 200, getattr(response, "text", "")


@pytest.fixture
def now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
def world(client: TestClient, cast: Cast) -> Iterator[dict[str, str]]:
    """In the last 30 days: A (Acme, P1, Service Desk, resolved after 2 h) and B (Globex,
    Application Support, open). In the 30 days before: C (Acme, Service Desk, resolved)."""
    cat = {"category_id": cast.hardware.id}
    with clock.frozen(NOW - timedelta(days=40)) as move:
        c = new_incident(client, cast.bob, caller_id=cast.dave.id, **cat)["number"]
        ok(act(client, cast.bob, c, "assign", group_id=cast.desk.id))
        move(timedelta(hours=5))
        ok(act(client, cast.bob, c, "resolve", **RESOLVE))
        move(NOW - timedelta(days=3) - clock.now())
        a = new_incident(client, cast.bob, caller_id=cast.dave.id, impact=1, urgency=1, **cat)[
            "number"
        ]
        b = new_incident(
            client, cast.bob, caller_id=cast.carol.id, short_description="<b>Globex</b> down"
        )["number"]
        ok(act(client, cast.bob, a, "assign", group_id=cast.desk.id))
        ok(act(client, cast.bob, b, "assign", group_id=cast.apps.id))
        move(timedelta(hours=2))
        ok(act(client, cast.bob, a, "resolve", **RESOLVE))
        move(NOW - clock.now())
        yield {"A": a, "B": b, "C": c}


def tiles(html: str) -> dict[str, str]:
    return {label.strip(): title for title, label in TILE_RE.findall(html)}


def tile_value(html: str, label: str) -> tuple[str, str]:
    found = re.search(
        re.escape(label) + r'</p>\s*<p class="kpi-tile__value"[^>]*>([^<]*)</p>.*?before: ([^<]*)<',
        html,
        re.S,
    )
    assert found, label
    return found.group(1), found.group(2)


def test_the_dashboard_shows_every_kpi_with_its_definition_charts_and_breakdown(
    client: TestClient, cast: Cast, world: dict[str, str]
) -> None:
    sign_in(client, "bob")
    page = client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    shown = tiles(html)
    assert len(shown) == len(DEFINITIONS)
    for d in DEFINITIONS.values():  # each tile's tooltip is its definition
        assert shown[d.label] == str(escape(d.definition))
        assert f'id="kpi-{d.key}-def"' in html  # and an accessible description
    assert tile_value(html, "Opened") == ("2", "1")
    assert tile_value(html, "Resolved") == ("1", "1")
    assert tile_value(html, "Backlog") == ("1", "0")
    assert tile_value(html, "Major incidents (P1)") == ("1", "0")
    assert tile_value(html, "MTTR mean")[0] == "2.0 h"
    assert tile_value(html, "MTTR mean")[1] == "5.0 h"
    assert 'kpi-tile kpi-tile--good" title="' + DEFINITIONS["mttr_seconds"].definition[:20] in html
    assert html.count('<svg class="chart') == 4
    assert html.count("<desc id=") == 4 and "Data table" in html
    assert "Service Desk" in html and "Application Support" in html
    assert "&lt;b&gt;" not in html or "<b>Globex" not in html  # titles are not shown raw
    assert 'href="/dashboard/groups/' in html
    assert 'href="/dashboard/kpis.csv?range=30&amp;by=group"' in html
    assert "/api/v1/reports/kpis?group_by=group&amp;format=csv" in html


def test_with_no_incidents_the_page_shows_empty_states(
    client: TestClient, cast: Cast, now: None
) -> None:
    sign_in(client, "alice")
    page = client.get("/dashboard?range=7")
    assert page.status_code == 200
    assert "No incidents in this period" in page.text
    assert "Nothing to break down" in page.text
    assert tile_value(page.text, "MTTA") == ("–", "–")
    assert tile_value(page.text, "Opened") == ("0", "0")


def test_filters_narrow_every_figure(client: TestClient, cast: Cast, world: dict[str, str]) -> None:
    sign_in(client, "bob")
    globex = client.get(f"/dashboard?customer={cast.globex.id}")
    assert tile_value(globex.text, "Opened") == ("1", "0")
    assert "Application Support" in globex.text and ">Service Desk</a>" not in globex.text
    p1 = client.get("/dashboard?priority=1&by=customer")
    assert tile_value(p1.text, "Opened") == ("1", "0")
    assert f'href="/dashboard/customers/{cast.acme.id}"' in p1.text
    custom = client.get("/dashboard?range=custom&from=2026-02-01&to=2026-02-28")
    assert custom.status_code == 200
    assert tile_value(custom.text, "Opened") == ("1", "0")  # only C, opened 8 February
    assert "01 Feb 2026 00:00 – 28 Feb 2026 23:59 UTC, by day" in custom.text
    weeks = client.get("/dashboard?range=90")
    assert "by week" in weeks.text


def test_sorting_the_breakdown(client: TestClient, cast: Cast, world: dict[str, str]) -> None:
    sign_in(client, "bob")
    up = client.get("/dashboard?range=90&sort=key&dir=asc").text.split("breakdown-title")[-1]
    down = client.get("/dashboard?range=90&sort=key&dir=desc").text.split("breakdown-title")[-1]
    assert up.index(">Application Support<") < up.index(">Service Desk<")
    assert down.index(">Service Desk<") < down.index(">Application Support<")
    assert 'aria-sort="ascending"' in up and 'aria-sort="descending"' in down


def test_htmx_gets_only_the_dashboard_block(
    client: TestClient, cast: Cast, world: dict[str, str]
) -> None:
    sign_in(client, "bob")
    part = client.get("/dashboard?range=7", headers={"HX-Request": "true"})
    assert part.status_code == 200
    assert part.text.lstrip().startswith('<div id="dashboard"')
    assert "<html" not in part.text


def test_group_and_customer_views_and_agent_visibility(
    client: TestClient, cast: Cast, world: dict[str, str]
) -> None:
    sign_in(client, "bob")
    desk = client.get(f"/dashboard/groups/{cast.desk.id}")
    assert desk.status_code == 200 and "Group: Service Desk" in desk.text
    assert tile_value(desk.text, "Opened") == ("1", "1")
    assert client.get("/dashboard/groups/999999").status_code == 404
    assert client.get("/dashboard/customers/999999").status_code == 404
    assert client.get("/dashboard/groups/999999/kpis.csv").status_code == 404
    client.cookies.clear()
    sign_in(client, "alice")  # Service Desk, serves Acme: does not see Globex's B
    everything = client.get("/dashboard")
    assert tile_value(everything.text, "Opened") == ("1", "1")
    assert "Application Support" not in everything.text.split('id="breakdown-title"')[1]
    globex = client.get(f"/dashboard/customers/{cast.globex.id}")
    assert globex.status_code == 200 and "Customer: Globex" in globex.text
    assert tile_value(globex.text, "Opened") == ("0", "0")
    assert "No incidents in this period" in globex.text


def test_the_csv_is_the_report_apis_table(
    client: TestClient, cast: Cast, world: dict[str, str]
) -> None:
    sign_in(client, "bob")
    got = client.get("/dashboard/kpis.csv?range=30&by=group")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [r["key"] for r in rows] == ["Service Desk", "Application Support", "TOTAL"]
    assert rows[-1]["count"] == "2"
    api = client.get(
        "/api/v1/reports/kpis",
        params={
            "group_by": "group",
            "format": "csv",
            "opened_from": (NOW - timedelta(days=30)).isoformat(),
            "opened_to": NOW.isoformat(),
        },
        headers=cast.bob.headers,
    )
    assert api.text == got.text
    scoped = client.get(f"/dashboard/groups/{cast.desk.id}/kpis.csv?range=90&by=customer")
    assert [r["key"] for r in csv.DictReader(io.StringIO(scoped.text))] == ["Acme", "TOTAL"]
    assert client.get("/dashboard/kpis.csv?range=12").status_code == 422


def test_a_requester_gets_the_403_page(
    client: TestClient, cast: Cast, world: dict[str, str]
) -> None:
    sign_in(client, "dave")
    for path in (
        "/dashboard",
        f"/dashboard/groups/{cast.desk.id}",
        f"/dashboard/customers/{cast.acme.id}",
        "/dashboard/kpis.csv",
    ):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "kpi-tile" not in page.text


def test_a_visitor_is_sent_to_sign_in(client: TestClient, cast: Cast) -> None:
    page = client.get("/dashboard?range=7", follow_redirects=False)
    assert page.status_code in (302, 303, 307)
    assert page.headers["location"].startswith("/login?next=/dashboard")


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("range=12", "range", "Choose 7, 30 or 90 days"),
        ("range=custom&from=2026-03-10&to=2026-03-01", "to", "must not be before the start"),
        ("range=custom&from=yesterday&to=2026-03-01", "from", "Enter a date as YYYY-MM-DD"),
        ("range=custom&from=2024-01-01&to=2026-03-01", "to", "at most 366 days"),
        ("customer=abc", "customer", "Choose a value from the list"),
        ("priority=9", "priority", "Choose a value from the list (1–5)"),
        ("channel=fax", "channel", "Choose a channel"),
        ("by=state", "by", "Choose group, customer, service or category"),
    ],
)
def test_bad_filters_are_shown_next_to_the_field_and_change_nothing(
    client: TestClient, cast: Cast, db: Database, now: None, query: str, field: str, message: str
) -> None:
    sign_in(client, "bob")
    before = row_counts(db)
    page = client.get(f"/dashboard?{query}")
    assert page.status_code == 422
    assert message in page.text
    assert "Check the filters marked below." in page.text
    assert "kpi-tile" not in page.text
    if field not in ("range", "by"):
        assert f'id="f-{field}-error"' in page.text
    assert row_counts(db) == before


def test_an_unknown_view_is_404(client: TestClient, cast: Cast, now: None) -> None:
    sign_in(client, "bob")
    assert client.get(f"/dashboard/services/{cast.email_service.id}").status_code == 404
    assert client.get("/dashboard/groups/abc").status_code in (404, 422)
