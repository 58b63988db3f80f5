"""The queue page: tabs and counts, filters, sorting, keyset pages, saved filters, access."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from dutydesk.db import Database
from dutydesk.incidents import queues, web_queues
from dutydesk.kernel import clock
from tests.factories import Cast, act, new_incident
from tests.web.conftest import row_counts, sign_in


@pytest.fixture
def three(client: TestClient, cast: Cast) -> dict[str, str]:
    """Acme incidents: one assigned to alice, one in her group unassigned, one P1 unassigned."""
    mine = new_incident(client, cast.dave, short_description="Printer jammed", impact=3)["number"]
    assert (
        act(
            client, cast.alice, mine, "assign", group_id=cast.desk.id, assignee_id=cast.alice.id
        ).status_code
        == 200
    )
    grouped = new_incident(client, cast.dave, short_description="VPN drops", impact=2)["number"]
    assert act(client, cast.alice, grouped, "assign", group_id=cast.desk.id).status_code == 200
    major = new_incident(
        client, cast.erin, short_description="Mail down for everyone", impact=1, urgency=1
    )["number"]
    return {"mine": mine, "grouped": grouped, "major": major}


def test_a_requester_gets_the_403_page_and_a_visitor_signs_in(
    client: TestClient, cast: Cast
) -> None:
    assert client.get("/queues", follow_redirects=False).status_code == 303
    sign_in(client, "dave")
    page = client.get("/queues")
    assert page.status_code == 403 and "<html" in page.text


def test_tabs_list_their_incidents_with_counts(
    client: TestClient, cast: Cast, three: dict[str, str]
) -> None:
    sign_in(client, "alice")
    mine = client.get("/queues")
    assert mine.status_code == 200
    assert three["mine"] in mine.text and three["grouped"] not in mine.text
    assert 'href="/queues?tab=mine" aria-current="page">My work <span class="count">1</span>' in (
        mine.text
    )
    groups = client.get("/queues?tab=groups").text
    assert three["mine"] in groups and three["grouped"] in groups
    assert three["major"] not in groups
    unassigned = client.get("/queues?tab=unassigned").text
    assert three["grouped"] in unassigned and three["mine"] not in unassigned
    # a customer's report nobody routed yet waits under Unassigned for those who serve them
    assert three["major"] in unassigned
    major = client.get("/queues?tab=major").text
    assert three["major"] in major and three["grouped"] not in major
    assert "no major-incident record yet" in major
    every = client.get("/queues?tab=all").text
    assert all(number in every for number in three.values())
    assert f'href="/incidents/{three["major"]}"' in every


def test_breaching_soon_lists_incidents_due_within_the_hours(
    client: TestClient, cast: Cast, three: dict[str, str]
) -> None:
    with clock.frozen(clock.now() - timedelta(days=30)):  # breached long ago by now
        old = new_incident(client, cast.dave, short_description="Old and late", impact=3)
    sign_in(client, "alice")
    soon = client.get("/queues?tab=breaching&hours=1").text
    assert old["number"] in soon
    assert three["mine"] not in soon  # a P3/P4 logged just now: not due within the hour
    wide = client.get("/queues?tab=breaching&hours=720").text
    assert all(number in wide for number in three.values())
    # earliest resolution due first: the breached one, then the P1
    assert wide.index(old["number"]) < wide.index(three["major"]) < wide.index(three["mine"])


def test_eve_sees_no_acme_incident_in_any_tab(
    client: TestClient, cast: Cast, three: dict[str, str]
) -> None:
    sign_in(client, "eve")
    for tab in ("mine", "groups", "unassigned", "breaching", "major", "all"):
        page = client.get(f"/queues?tab={tab}")
        assert page.status_code == 200
        assert not any(number in page.text for number in three.values()), tab
    assert "No incidents here" in client.get("/queues?tab=all").text


def test_filters_and_htmx_swap_only_the_table(
    client: TestClient, cast: Cast, three: dict[str, str]
) -> None:
    sign_in(client, "alice")
    found = client.get("/queues?tab=all&text=vpn", headers={"HX-Request": "true"})
    assert found.status_code == 200 and "<html" not in found.text
    assert found.text.lstrip().startswith('<section id="queue"')
    assert three["grouped"] in found.text and three["mine"] not in found.text
    by_priority = client.get("/queues?tab=all&priority=1").text
    assert three["major"] in by_priority and three["grouped"] not in by_priority
    none = client.get("/queues?tab=all&state=closed").text
    assert "Nothing matches these filters" in none
    # a closed state on an open queue lists nothing rather than widening the tab
    assert three["mine"] not in client.get("/queues?tab=mine&state=closed").text


def test_bad_filter_values_answer_422_and_list_nothing(client: TestClient, cast: Cast) -> None:
    sign_in(client, "alice")
    for query in ("tab=all&group=abc", "tab=all&state=bogus", "tab=all&sort=password"):
        page = client.get(f"/queues?{query}")
        assert page.status_code == 422, query
        assert 'class="alert alert--error"' in page.text
    assert client.get("/queues?tab=nope").status_code == 404


def test_sorting_and_keyset_pages(
    client: TestClient, cast: Cast, three: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_queues, "PAGE_SIZE", 2)
    sign_in(client, "alice")
    first = client.get("/queues?tab=all&sort=number").text
    assert (
        '<th scope="col" aria-sort="ascending"><a class="sort" '
        'href="/queues?tab=all&amp;sort=-number"' in first
    )
    assert first.index(three["mine"]) < first.index(three["grouped"])
    assert three["major"] not in first
    next_href = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(next_href.replace("&amp;", "&")).text
    assert three["major"] in second and three["mine"] not in second
    assert 'rel="next"' not in second and "First page" in second
    reverse = client.get("/queues?tab=all&sort=-number").text
    assert reverse.index(three["major"]) < reverse.index(three["grouped"])


def test_counts_are_capped(
    client: TestClient, cast: Cast, three: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queues, "COUNT_CAP", 1)
    sign_in(client, "alice")
    page = client.get("/queues?tab=all").text
    assert 'All <span class="count">1+</span>' in page


def test_saved_filters_are_saved_listed_and_deleted(
    client: TestClient, second: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "alice")
    saved = client.post(
        "/queues/filters",
        data={"csrf_token": csrf, "name": "P1 mail", "query": "tab=all&priority=1&cursor=x&evil=1"},
    )
    assert saved.status_code == 200 and "Filter “P1 mail” saved." in saved.text
    assert 'href="/queues?tab=all&amp;priority=1">P1 mail</a>' in saved.text
    filter_id = int(saved.text.split("/queues/filters/")[1].split("/")[0])
    # another agent neither sees nor deletes it
    other_csrf = sign_in(second, "eve")
    assert "P1 mail" not in second.get("/queues").text
    before = row_counts(db)
    refused = second.post(f"/queues/filters/{filter_id}/delete", data={"csrf_token": other_csrf})
    assert refused.status_code == 404 and row_counts(db) == before
    blank = client.post("/queues/filters", data={"csrf_token": csrf, "name": " ", "query": ""})
    assert "Not saved: give a name" in blank.text and row_counts(db) == before
    gone = client.post(f"/queues/filters/{filter_id}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 200 and "Filter “P1 mail” deleted." in gone.text
    assert "None yet." in gone.text
