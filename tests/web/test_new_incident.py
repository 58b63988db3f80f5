"""The new-incident form: caller look-up, live priority, references, checklist errors."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.db import Database
from dutydesk.models import Incident
from tests.factories import Cast
from tests.web.conftest import row_counts, sign_in


def test_the_form_is_for_staff_only(client: TestClient, cast: Cast) -> None:
    sign_in(client, "dave")
    assert client.get("/incidents/new").status_code == 403
    assert client.get("/incidents/new/callers?caller_q=da").status_code == 403


def test_the_form_defaults_to_a_phone_call(client: TestClient, cast: Cast) -> None:
    sign_in(client, "alice")
    page = client.get("/incidents/new")
    assert page.status_code == 200
    assert '<option value="phone" selected>Phone</option>' in page.text
    assert '<option value="walk_in">Walk-in</option>' in page.text
    assert 'value="monitoring"' not in page.text


def test_caller_look_up_offers_requesters_of_served_customers(
    client: TestClient, cast: Cast
) -> None:
    sign_in(client, "alice")  # serves Acme, not Globex
    found = client.get("/incidents/new/callers", params={"caller_q": "example.com"})
    assert f'value="{cast.dave.id}"' in found.text and f'value="{cast.erin.id}"' in found.text
    assert f'value="{cast.carol.id}"' not in found.text
    assert "Nobody matches" in client.get("/incidents/new/callers?caller_q=zzz").text
    assert client.get("/incidents/new/callers?caller_q=d").text.strip() == ""


def test_priority_is_computed_live_and_services_follow_the_customer(
    client: TestClient, cast: Cast
) -> None:
    sign_in(client, "alice")
    block = client.get(
        "/incidents/new/refresh",
        params={"impact": "1", "urgency": "2", "caller_id": str(cast.dave.id)},
        headers={"HX-Request": "true"},
    )
    assert block.status_code == 200 and "<html" not in block.text
    assert '<span class="badge badge--p2">P2</span>' in block.text
    assert "E-mail" in block.text  # a service offered to every customer
    unknown = client.get("/incidents/new/refresh", params={"impact": "9", "urgency": "1"})
    assert "choose impact and urgency" in unknown.text


def test_missing_fields_are_shown_next_to_them_and_nothing_is_written(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "alice")
    before = row_counts(db)
    refused = client.post(
        "/incidents/new", data={"csrf_token": csrf, "channel": "phone", "impact": "2"}
    )
    assert refused.status_code == 422 and row_counts(db) == before
    assert 'id="err-short_description"' in refused.text and 'id="err-caller_id"' in refused.text
    assert 'id="err-urgency"' in refused.text
    assert '<option value="2" selected>2</option>' in refused.text  # values are kept
    bad = client.post(
        "/incidents/new",
        data={
            "csrf_token": csrf,
            "short_description": "x",
            "caller_id": str(cast.carol.id),
            "impact": "1",
            "urgency": "1",
            "channel": "phone",
        },
    )
    assert bad.status_code == 422 and 'id="err-caller_id"' in bad.text  # Globex: not served
    assert row_counts(db) == before


def test_logging_a_call_opens_the_incident_and_shows_it(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "alice")
    done = client.post(
        "/incidents/new",
        data={
            "csrf_token": csrf,
            "caller_id": str(cast.dave.id),
            "channel": "walk_in",
            "short_description": "Screen flickers",
            "description": "Since this morning",
            "impact": "2",
            "urgency": "1",
            "service_id": str(cast.email_service.id),
            "assignment_group_id": str(cast.desk.id),
            "assignee_id": str(cast.alice.id),
        },
    )
    assert done.status_code == 200
    assert "logged." in done.text and "Screen flickers" in done.text
    with db.unit_of_work(write=False) as s:
        row = s.scalar(select(Incident).where(Incident.short_description == "Screen flickers"))
        assert row is not None
        assert (row.channel, row.caller_id, row.customer_id) == (
            "walk_in",
            cast.dave.id,
            cast.acme.id,
        )
        assert (row.priority, row.assignee_id, row.state) == (2, cast.alice.id, "assigned")
