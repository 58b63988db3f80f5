"""The incident page: header, clocks and buttons, edit in place with conflicts shown, actions."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.db import Database
from dutydesk.models import Incident
from tests.factories import Cast, new_incident
from tests.web.conftest import row_counts, sign_in


def version_of(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found
    return found.group(1)


def incident_row(db: Database, number: str) -> Incident:
    with db.unit_of_work(write=False) as s:
        row = s.scalar(select(Incident).where(Incident.number == number))
        assert row is not None
        s.expunge(row)
        return row


def test_the_page_shows_header_clocks_and_the_lifecycle_buttons(
    client: TestClient, cast: Cast
) -> None:
    number = new_incident(client, cast.dave, short_description="Mail <b>down</b>")["number"]
    sign_in(client, "alice")
    page = client.get(f"/incidents/{number}")
    assert page.status_code == 200
    assert f"<h1>{number} " in page.text and "Mail &lt;b&gt;down&lt;/b&gt;" in page.text
    assert '<span class="badge badge--new">new</span>' in page.text
    # new: assign, start, escalate, resolve, cancel, pend (lifecycle.allowed_actions)
    for action in ("assign", "start", "resolve", "cancel"):
        assert f'action="/incidents/{number}/actions/{action}"' in page.text
    assert '/actions/close"' not in page.text
    assert "Resolution" in page.text and " left</strong>" in page.text  # SLA time left
    assert "logged the incident" in page.text  # the timeline


def test_requesters_get_403_and_agents_without_access_404(
    client: TestClient, second: TestClient, cast: Cast
) -> None:
    number = new_incident(client, cast.dave)["number"]
    sign_in(client, "dave")
    assert client.get(f"/incidents/{number}").status_code == 403
    sign_in(second, "eve")  # serves no customer, not in the group
    page = second.get(f"/incidents/{number}")
    assert page.status_code == 404 and "Cannot send e-mail" not in page.text
    assert second.get("/incidents/INC9999999").status_code == 404


def test_editing_recomputes_the_priority(client: TestClient, cast: Cast, db: Database) -> None:
    number = new_incident(client, cast.dave, impact=3, urgency=3)["number"]
    csrf = sign_in(client, "alice")
    page = client.get(f"/incidents/{number}").text
    form = {
        "csrf_token": csrf,
        "version": version_of(page),
        "orig_impact": "3",
        "impact": "1",
        "orig_urgency": "3",
        "urgency": "1",
        "orig_short_description": "Cannot send e-mail",
        "short_description": "Cannot send e-mail",
    }
    saved = client.post(f"/incidents/{number}/edit", data=form)
    assert saved.status_code == 200 and f"{number} saved." in saved.text
    row = incident_row(db, number)
    assert (row.impact, row.urgency, row.priority) == (1, 1, 1)
    assert "badge--p1" in saved.text


def test_a_stale_edit_shows_the_difference_and_can_be_reapplied(
    client: TestClient, second: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave, short_description="Printer offline")["number"]
    csrf = sign_in(client, "alice")
    other = sign_in(second, "bob")
    seen = client.get(f"/incidents/{number}").text
    # bob saves first
    bob_form = {
        "csrf_token": other,
        "version": version_of(second.get(f"/incidents/{number}").text),
        "orig_short_description": "Printer offline",
        "short_description": "Printer offline on floor 2",
    }
    assert second.post(f"/incidents/{number}/edit", data=bob_form).status_code == 200
    before = row_counts(db)
    mine = {
        "csrf_token": csrf,
        "version": version_of(seen),
        "orig_short_description": "Printer offline",
        "short_description": "Printer offline again",
    }
    stale = client.post(f"/incidents/{number}/edit", data=mine)
    assert stale.status_code == 412 and row_counts(db) == before
    assert "changed while you were editing" in stale.text
    assert "<strong>Printer offline again</strong>" in stale.text
    assert "<td>Printer offline on floor 2</td>" in stale.text
    assert incident_row(db, number).short_description == "Printer offline on floor 2"
    # "Apply my values" posts the agent's values against the current version
    again = {
        "csrf_token": csrf,
        "version": version_of(stale.text.split('class="card conflict"')[1]),
        "short_description": "Printer offline again",
        "orig_short_description": "Printer offline on floor 2",
    }
    applied = client.post(f"/incidents/{number}/edit", data=again)
    assert applied.status_code == 200 and f"{number} saved." in applied.text
    assert incident_row(db, number).short_description == "Printer offline again"


def test_invalid_edits_show_errors_next_to_the_fields(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    csrf = sign_in(client, "alice")
    version = version_of(client.get(f"/incidents/{number}").text)
    before = row_counts(db)
    bad = client.post(
        f"/incidents/{number}/edit",
        data={
            "csrf_token": csrf,
            "version": version,
            "orig_subcategory_id": "",
            "subcategory_id": str(cast.hardware.id),
        },
    )
    assert bad.status_code == 422 and row_counts(db) == before
    assert 'id="err-edit-subcategory_id"' in bad.text
    nothing = client.post(
        f"/incidents/{number}/edit", data={"csrf_token": csrf, "version": version}
    )
    assert "Nothing changed." in nothing.text


def test_actions_run_and_refusals_show_next_to_fields(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave, category_id=cast.hardware.id)["number"]
    csrf = sign_in(client, "alice")
    version = version_of(client.get(f"/incidents/{number}").text)
    assigned = client.post(
        f"/incidents/{number}/actions/assign",
        data={
            "csrf_token": csrf,
            "version": version,
            "group_id": str(cast.desk.id),
            "assignee_id": str(cast.alice.id),
        },
    )
    assert assigned.status_code == 200 and f"Assign: {number} is now assigned." in assigned.text
    assert incident_row(db, number).assignee_id == cast.alice.id
    before = row_counts(db)
    refused = client.post(
        f"/incidents/{number}/actions/resolve",
        data={"csrf_token": csrf, "version": version_of(assigned.text), "resolution_code": "fixed"},
    )
    assert refused.status_code == 422 and row_counts(db) == before
    assert 'id="err-action-resolve-resolution_notes"' in refused.text
    assert '<details class="action" open>' in refused.text
    # an action on a version that is no longer current does nothing and says so
    stale = client.post(
        f"/incidents/{number}/actions/start", data={"csrf_token": csrf, "version": version}
    )
    assert "changed since you opened it, so nothing was done" in stale.text
    assert incident_row(db, number).state == "assigned" and row_counts(db) == before
    resolved = client.post(
        f"/incidents/{number}/actions/resolve",
        data={
            "csrf_token": csrf,
            "version": version_of(assigned.text),
            "resolution_code": "fixed",
            "resolution_notes": "Restarted the relay",
            "fix": "permanent",
        },
    )
    assert f"{number} is now resolved" in resolved.text
    assert incident_row(db, number).is_workaround is False
