"""The self-service portal through TestClient: submitting, the record page, privacy."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.models import Customer, IncidentEvent, Service
from tests.factories import Cast, new_incident
from tests.incidents.test_confirmation import incident
from tests.web.conftest import row_counts, sign_in


def submit(client: TestClient, csrf: str, files: Any = None, **fields: str) -> Response:
    form = {
        "csrf_token": csrf,
        "kind": "incident",
        "short_description": "Printer on floor 2 jams",
        "description": "Every page since Monday.",
        "urgency": "workaround",
        **fields,
    }
    return client.post("/portal/new", data=form, files=files, follow_redirects=False)


def test_the_home_page_has_both_buttons_and_empty_states(client: TestClient, cast: Cast) -> None:
    sign_in(client, "dave")
    page = client.get("/portal")
    assert page.status_code == 200
    assert 'href="/portal/new?kind=incident"' in page.text
    assert 'href="/portal/new?kind=request"' in page.text
    assert "Nothing open" in page.text and "Nothing closed yet." in page.text
    assert "My organization" not in page.text  # Acme does not share its records


def test_a_problem_report_is_logged_as_the_requester_through_the_portal(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "dave")
    sent = submit(
        client,
        csrf,
        service=str(cast.email_service.id),
        urgency="blocking",
        files=[("files", ("error.txt", b"550 relay denied", "text/plain"))],
    )
    assert sent.status_code == 303
    number = sent.headers["location"].rsplit("/", 1)[-1]
    row = incident(db, number)
    assert (row.caller_id, row.opened_by_id, row.customer_id) == (
        cast.dave.id,
        cast.dave.id,
        cast.acme.id,
    )
    assert (row.channel, row.service_id, row.urgency, row.impact) == (
        "portal",
        cast.email_service.id,
        1,
        3,
    )
    assert row.description == "Every page since Monday."
    page = client.get(f"/portal/incidents/{number}")
    assert "is logged as " + number in page.text  # the flash message
    assert "error.txt" in page.text and "Logged: the service desk" in page.text
    home = client.get("/portal")
    assert number in home.text and "Nothing open" not in home.text


def test_a_request_is_flagged_as_a_service_request_with_the_reason_in_its_history(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "dave")
    page = client.get("/portal/new?kind=request")
    assert page.status_code == 200 and "What do you need?" in page.text
    sent = submit(
        client, csrf, kind="request", short_description="A second screen", urgency="can_wait"
    )
    number = sent.headers["location"].rsplit("/", 1)[-1]
    row = incident(db, number)
    assert row.is_service_request and row.urgency == 3
    with db.unit_of_work(write=False) as s:
        flagged = s.scalars(
            select(IncidentEvent.field).where(
                IncidentEvent.incident_id == row.id, IncidentEvent.rule_id == "REQ-PTL"
            )
        ).all()
    assert flagged == ["is_service_request"]
    shown = client.get(f"/portal/incidents/{number}").text
    assert "Request" in shown


def test_bad_input_is_shown_next_to_the_fields_and_writes_nothing(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "dave")
    with db.unit_of_work() as s:
        secret = Service(
            name="Globex ERP", customer_id=cast.globex.id, created_at=cast.acme.created_at
        )
        s.add(secret)
        s.flush()
        secret_id = secret.id
    before = row_counts(db)
    blank = submit(client, csrf, short_description="   ", urgency="whenever")
    assert blank.status_code == 422
    assert 'id="short_description-error"' in blank.text
    assert 'id="urgency-error"' in blank.text
    other = submit(client, csrf, service=str(secret_id))
    assert other.status_code == 422 and 'id="service-error"' in other.text
    assert "Globex ERP" not in client.get("/portal/new").text  # not offered to Acme
    assert client.get("/portal/new?kind=nonsense").status_code == 404
    assert row_counts(db) == before


def test_the_logging_checklist_is_shown_and_writes_nothing(
    client: TestClient, cast: Cast, db: Database
) -> None:
    required = {"required": ["caller", "impact", "urgency", "service", "category"]}
    put = client.put("/api/v1/admin/logging-checklist", json=required, headers=cast.bob.headers)
    assert put.status_code == 200
    csrf = sign_in(client, "dave")
    before = row_counts(db)
    refused = submit(client, csrf)
    assert refused.status_code == 422
    assert 'id="service-error"' in refused.text
    assert "category: required by the logging checklist" in refused.text
    assert row_counts(db) == before


def test_the_record_page_shows_the_public_conversation_only(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    for visibility, body in (("work_note", "caller seems confused"), ("public", "Try webmail")):
        added = client.post(
            f"/api/v1/incidents/{number}/comments",
            json={"body": body, "visibility": visibility},
            headers=cast.alice.headers,
        )
        assert added.status_code == 201
    internal = client.post(
        f"/api/v1/incidents/{number}/attachments",
        files={"file": ("trace.log", b"internal trace", "text/plain")},
        data={"visibility": "work_note"},
        headers=cast.alice.headers,
    )
    assert internal.status_code == 201
    sign_in(client, "dave")
    page = client.get(f"/portal/incidents/{number}")
    assert page.status_code == 200
    assert "Try webmail" in page.text and "Service desk" in page.text
    assert "caller seems confused" not in page.text and "trace.log" not in page.text
    assert "Alice" not in page.text  # agents' names stay with the desk
    hidden = client.get(f"/portal/incidents/{number}/files/{internal.json()['id']}")
    assert hidden.status_code == 404


def test_another_customers_record_is_the_same_404_as_a_missing_one(
    client: TestClient, cast: Cast
) -> None:
    number = new_incident(client, cast.dave)["number"]
    sign_in(client, "carol")
    theirs = client.get(f"/portal/incidents/{number}")
    missing = client.get("/portal/incidents/INC9999999")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text.replace(number, "X") == missing.text.replace("INC9999999", "X")
    assert number not in client.get("/portal").text
    assert client.get("/queues").status_code == 403  # staff pages are not for requesters


def test_the_organization_tab_appears_only_when_the_customer_shares(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.erin, short_description="Erin's VPN drops")["number"]
    sign_in(client, "dave")
    assert client.get("/portal?tab=organization").status_code == 404
    assert client.get(f"/portal/incidents/{number}").status_code == 404
    with db.unit_of_work() as s:
        s.execute(update(Customer).where(Customer.id == cast.acme.id).values(share_incidents=True))
    home = client.get("/portal")
    assert "My organization" in home.text and "VPN drops" not in home.text
    shared = client.get("/portal?tab=organization")
    assert shared.status_code == 200 and "Erin&#39;s VPN drops" in shared.text
    page = client.get(f"/portal/incidents/{number}")
    assert page.status_code == 200 and "It&#39;s not fixed" not in page.text


def test_a_file_over_the_limit_is_refused_next_to_the_field_and_writes_nothing(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    settings.max_attachment_bytes = 10
    csrf = sign_in(client, "dave")
    before = row_counts(db)
    big = submit(client, csrf, files=[("files", ("big.log", b"x" * 11, "text/plain"))])
    assert big.status_code == 413 and 'id="files-error"' in big.text
    assert "larger than the limit of 10 bytes" in big.text
    assert row_counts(db) == before


def test_staff_see_only_records_they_are_the_caller_of(client: TestClient, cast: Cast) -> None:
    logged = new_incident(client, cast.alice, caller_id=cast.dave.id)["number"]
    own = new_incident(client, cast.alice, caller_id=cast.alice.id)["number"]
    sign_in(client, "alice")
    home = client.get("/portal")
    assert home.status_code == 200 and own in home.text and logged not in home.text
