"""The requester's answers in the portal: replies and files, confirming or rejecting a
resolution, and the rating after closure."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.db import Database
from dutydesk.models import Comment
from tests.factories import Cast, act, new_incident
from tests.incidents.test_confirmation import incident, resolved
from tests.web.conftest import row_counts, sign_in


def test_a_reply_with_a_file_is_public_and_shown(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    csrf = sign_in(client, "dave")
    sent = client.post(
        f"/portal/incidents/{number}/reply",
        data={"csrf_token": csrf, "body": "It happens on my phone too."},
        files=[("files", ("shot.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png"))],
        follow_redirects=False,
    )
    assert sent.status_code == 303
    page = client.get(f"/portal/incidents/{number}")
    assert "Your reply was sent." in page.text and "It happens on my phone too." in page.text
    with db.unit_of_work(write=False) as s:
        comment = s.scalars(select(Comment).where(Comment.body.like("It happens%"))).one()
        assert (comment.visibility, comment.author_id) == ("public", cast.dave.id)
    agent_view = client.get(f"/api/v1/incidents/{number}/attachments", headers=cast.alice.headers)
    [file] = agent_view.json()
    assert file["visibility"] == "public" and file["filename"] == "shot.png"
    download = client.get(f"/portal/incidents/{number}/files/{file['id']}")
    assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
    assert download.headers["content-disposition"].startswith("attachment;")


def test_an_empty_reply_is_refused_next_to_the_field_and_writes_nothing(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    csrf = sign_in(client, "dave")
    before = row_counts(db)
    empty = client.post(f"/portal/incidents/{number}/reply", data={"csrf_token": csrf, "body": " "})
    assert empty.status_code == 422 and 'id="body-error"' in empty.text
    no_token = client.post(f"/portal/incidents/{number}/reply", data={"body": "hello"})
    assert no_token.status_code == 403
    assert row_counts(db) == before


def test_a_reply_while_the_desk_waits_for_the_requester_keeps_the_record_waiting(
    client: TestClient, cast: Cast, db: Database
) -> None:
    """Resuming is the agent's action (RES-*): the reply notifies the desk, the state stays."""
    number = new_incident(client, cast.dave)["number"]
    act(client, cast.alice, number, "assign", group_id=cast.desk.id)
    pend = act(client, cast.alice, number, "pend", target="pending_user", reason="which printer?")
    assert pend.json()["state"] == "pending_user"
    csrf = sign_in(client, "dave")
    page = client.get(f"/portal/incidents/{number}")
    assert "Waiting for you" in page.text and 'aria-current="step">Waiting for you' in page.text
    client.post(f"/portal/incidents/{number}/reply", data={"csrf_token": csrf, "body": "Floor 2"})
    assert incident(db, number).state == "pending_user"


def test_confirming_closes_and_the_rating_is_taken_once(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = resolved(client, cast)
    csrf = sign_in(client, "dave")
    page = client.get(f"/portal/incidents/{number}")
    assert "Restarted the mail relay" in page.text and "Yes, it is fixed" in page.text
    assert 'id="body"' not in page.text  # the answer comes first, not a reply
    done = client.post(
        f"/portal/incidents/{number}/answer", data={"csrf_token": csrf, "answer": "confirm"}
    )
    assert done.status_code == 200 and f"{number} is closed" in done.text
    assert incident(db, number).state == "closed"
    assert "Send my rating" in done.text
    bad = client.post(
        f"/portal/incidents/{number}/rating", data={"csrf_token": csrf, "rating": "9"}
    )
    assert bad.status_code == 422 and 'id="rating-error"' in bad.text
    rated = client.post(
        f"/portal/incidents/{number}/rating",
        data={"csrf_token": csrf, "rating": "4", "comment": "Quick, thanks"},
    )
    assert rated.status_code == 200 and "You rated this 4 out of 5" in rated.text
    again = client.post(
        f"/portal/incidents/{number}/rating", data={"csrf_token": csrf, "rating": "1"}
    )
    assert again.status_code == 409 and "already rated" in again.text
    row = incident(db, number)
    assert (row.csat_rating, row.csat_comment) == (4, "Quick, thanks")
    twice = client.post(
        f"/portal/incidents/{number}/answer", data={"csrf_token": csrf, "answer": "confirm"}
    )
    assert twice.status_code == 410


def test_not_fixed_needs_a_reason_then_reopens(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = resolved(client, cast)
    csrf = sign_in(client, "dave")
    before = row_counts(db)
    bare = client.post(
        f"/portal/incidents/{number}/answer", data={"csrf_token": csrf, "answer": "reject"}
    )
    assert bare.status_code == 422 and 'id="reason-error"' in bare.text
    assert row_counts(db) == before and incident(db, number).state == "resolved"
    rejected = client.post(
        f"/portal/incidents/{number}/answer",
        data={"csrf_token": csrf, "answer": "reject", "reason": "Still bounces"},
    )
    assert rejected.status_code == 200 and "open again" in rejected.text
    row = incident(db, number)
    assert (row.state, row.reopen_count) == ("in_progress", 1)


def test_only_the_caller_answers_and_rates(client: TestClient, cast: Cast, db: Database) -> None:
    number = resolved(client, cast)
    csrf = sign_in(client, "carol")
    refused = client.post(
        f"/portal/incidents/{number}/answer", data={"csrf_token": csrf, "answer": "confirm"}
    )
    assert refused.status_code == 404  # not hers: as if missing
    assert incident(db, number).state == "resolved"
