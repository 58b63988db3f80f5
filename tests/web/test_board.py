"""The kanban board through TestClient: the page, and moving cards (allowed, refused with the
reason, a stale version, a form when the move needs input, requesters and strangers)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

from dutydesk.db import Database
from dutydesk.incidents.board import COLUMN_BY_KEY, moves_into
from dutydesk.incidents.lifecycle import Action, Status
from tests.factories import Cast, act, new_incident
from tests.web.conftest import row_counts, sign_in


def state_of(client: TestClient, cast: Cast, number: str) -> tuple[str, int]:
    body = client.get(f"/api/v1/incidents/{number}", headers=cast.bob.headers).json()
    return body["state"], body["version"]


def move(
    client: TestClient, csrf: str, number: str, version: int, to: str, **form: str
) -> Response:
    data = {"csrf_token": csrf, "number": number, "version": str(version), "to": to, **form}
    return client.post("/board/move", data=data, follow_redirects=False)


def flash_after(client: TestClient, response: Response) -> str:
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    found = re.findall(r'class="flash flash--(\w+)">([^<]*)<', page.text)
    assert found, "no flash message"
    return " | ".join(f"{kind}: {text}" for kind, text in found)


def test_moves_come_from_the_transition_table() -> None:
    new = Status.new
    assert [m.action for m in moves_into(new, COLUMN_BY_KEY["in_progress"], "agent")] == [
        Action.start
    ]
    assert {m.action for m in moves_into(new, COLUMN_BY_KEY["assigned"], "agent")} == {
        Action.assign,
        Action.escalate,
    }
    assert len(moves_into(new, COLUMN_BY_KEY["pending"], "agent")) == 3  # one per pending state
    assert moves_into(Status.resolved, COLUMN_BY_KEY["new"], "agent") == []
    assert moves_into(new, COLUMN_BY_KEY["in_progress"], "requester") == []


def test_the_board_shows_cards_by_state_and_refuses_requesters(
    client: TestClient, second: TestClient, cast: Cast
) -> None:
    number = new_incident(client, cast.dave, short_description="Printer <b>jams</b>")["number"]
    sign_in(client, "alice")
    page = client.get("/board?group=all")
    assert page.status_code == 200
    column = page.text.split('data-column="new"', 1)[1].split('data-column="assigned"', 1)[0]
    assert f'data-card="{number}"' in column
    assert "Printer &lt;b&gt;jams&lt;/b&gt;" in page.text  # escaped
    assert 'src="/static/board.js"' in page.text and 'data-live="/live"' in page.text
    assert client.get("/board?priority=9").status_code == 422
    sign_in(second, "dave")
    assert second.get("/board").status_code == 403


def test_the_board_is_empty_for_an_agent_who_sees_nothing(client: TestClient, cast: Cast) -> None:
    new_incident(client, cast.dave)  # Acme's: eve neither serves Acme nor is in its group
    sign_in(client, "eve")
    page = client.get("/board?group=all")
    assert page.status_code == 200
    assert "data-card=" not in page.text
    assert page.text.count("No incidents here.") == 5


def test_dropping_a_card_runs_the_one_action_that_leads_there(
    client: TestClient, cast: Cast
) -> None:
    number = new_incident(client, cast.dave)["number"]
    _, version = state_of(client, cast, number)
    csrf = sign_in(client, "alice")
    message = flash_after(client, move(client, csrf, number, version, "in_progress"))
    assert message == f"success: {number} is now in progress."
    assert state_of(client, cast, number)[0] == "in_progress"
    column = client.get("/board?group=all").text.split('data-column="in_progress"', 1)[1]
    assert f'data-card="{number}"' in column.split("</section>", 1)[0]
    assert "Alice" in column.split("</section>", 1)[0]  # start took it: the assignee shows"


def test_a_move_that_needs_input_asks_for_it_then_runs(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave, category_id=cast.hardware.id)["number"]
    _, version = state_of(client, cast, number)
    csrf = sign_in(client, "alice")
    before = row_counts(db)
    asked = move(client, csrf, number, version, "resolved")
    assert asked.status_code == 200
    assert 'name="resolution_code"' in asked.text and 'value="resolve:resolved"' in asked.text
    assert row_counts(db) == before  # asking wrote nothing
    missing = move(client, csrf, number, version, "resolved", choice="resolve:resolved")
    assert missing.status_code == 422
    assert "field--error" in missing.text and row_counts(db) == before
    done = move(
        client,
        csrf,
        number,
        version,
        "resolved",
        choice="resolve:resolved",
        resolution_code="fixed",
        resolution_notes="Restarted the relay.",
        is_workaround="no",
    )
    assert flash_after(client, done) == f"success: {number} is now resolved."
    assert state_of(client, cast, number)[0] == "resolved"


def test_pending_asks_which_pending_state_and_why(client: TestClient, cast: Cast) -> None:
    number = new_incident(client, cast.dave)["number"]
    _, version = state_of(client, cast, number)
    csrf = sign_in(client, "alice")
    asked = move(client, csrf, number, version, "pending")
    assert asked.status_code == 200
    assert 'value="pend:pending_vendor"' in asked.text and 'name="reason"' in asked.text
    done = move(
        client, csrf, number, version, "pending", choice="pend:pending_vendor", reason="RMA"
    )
    assert flash_after(client, done) == f"success: {number} is now pending vendor."


def test_a_refused_move_says_why_and_writes_nothing(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    act(client, cast.alice, number, "start")
    act(client, cast.alice, number, "pend", target="pending_user", reason="waiting")
    state, version = state_of(client, cast, number)
    assert state == "pending_user"
    csrf = sign_in(client, "alice")
    before = row_counts(db)
    message = flash_after(client, move(client, csrf, number, version, "new"))
    assert message == f"error: {number}: an incident cannot go from pending user to new"
    assert row_counts(db) == before and state_of(client, cast, number) == (state, version)


def test_a_stale_card_is_refused_as_changed_meanwhile(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    _, version = state_of(client, cast, number)
    act(client, cast.alice, number, "start")
    csrf = sign_in(client, "alice")
    before = row_counts(db)
    message = flash_after(client, move(client, csrf, number, version, "pending"))
    assert message == f"error: {number} changed meanwhile: look at it again and retry."
    assert row_counts(db) == before
    assert state_of(client, cast, number)[0] == "in_progress"


def test_requesters_and_strangers_cannot_move_cards(
    client: TestClient, second: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    _, version = state_of(client, cast, number)
    dave = sign_in(client, "dave")
    eve = sign_in(second, "eve")  # may not see Acme's incident: the same 404 as a missing one
    before = row_counts(db)
    assert move(client, dave, number, version, "in_progress").status_code == 403
    assert move(second, eve, number, version, "in_progress").status_code == 404
    assert move(second, eve, "INC9999999", 1, "in_progress").status_code == 404
    assert row_counts(db) == before
    assert state_of(client, cast, number)[0] == "new"


def test_bad_input_is_refused_with_a_message(client: TestClient, cast: Cast, db: Database) -> None:
    number = new_incident(client, cast.dave)["number"]
    _, version = state_of(client, cast, number)
    csrf = sign_in(client, "alice")
    before = row_counts(db)
    assert "unknown column" in flash_after(client, move(client, csrf, number, version, "closed"))
    bad = client.post(
        "/board/move",
        data={"csrf_token": csrf, "number": number, "version": "x", "to": "new"},
    )
    assert bad.status_code == 422
    wrong = move(client, csrf, number, version, "assigned", choice="start:in_progress")
    assert wrong.status_code == 422 and "choose one of the moves" in wrong.text
    assert row_counts(db) == before


def test_assigning_asks_which_action_and_group(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    _, version = state_of(client, cast, number)
    csrf = sign_in(client, "alice")
    asked = move(client, csrf, number, version, "assigned")
    assert asked.status_code == 200
    assert 'value="assign:assigned"' in asked.text and 'value="escalate:assigned"' in asked.text
    assert f'<option value="{cast.desk.id}">Service Desk</option>' in asked.text
    no_group = client.get(f"/api/v1/incidents/{number}", headers=cast.bob.headers).json()
    assert no_group["assignment_group_id"] is None  # so assign needs one
    before = row_counts(db)
    refused = move(client, csrf, number, version, "assigned", choice="assign:assigned")
    assert refused.status_code == 422 and "assign needs a group" in refused.text
    assert "field--error" in refused.text and row_counts(db) == before
    done = move(
        client,
        csrf,
        number,
        version,
        "assigned",
        choice="assign:assigned",
        group=str(cast.desk.id),
    )
    assert flash_after(client, done) == f"success: {number} is now assigned."
    body = client.get(f"/api/v1/incidents/{number}", headers=cast.bob.headers).json()
    assert (body["state"], body["assignment_group_id"]) == ("assigned", cast.desk.id)
