"""The incident page's composer (@mentions), attachments, links and long timelines."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.db import Database
from dutydesk.incidents.mentions import mentioned_usernames
from dutydesk.models import Notification
from tests.factories import Cast, new_incident
from tests.web.conftest import row_counts, sign_in


def notifications(db: Database, event: str) -> list[Notification]:
    with db.unit_of_work(write=False) as s:
        rows = list(s.scalars(select(Notification).where(Notification.event == event)))
        s.expunge_all()
        return rows


def test_mentions_are_parsed_once_and_not_from_addresses() -> None:
    text = "@bob please look, cc @ivy and @bob. Mail me at x@example.com; @-nope"
    assert mentioned_usernames(text) == ["bob", "ivy"]


def test_a_work_note_mentioning_an_agent_notifies_only_those_who_may_see_it(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    csrf = sign_in(client, "alice")
    body = "Escalating? @bob can you check, and @eve too. @nobody <script>x</script>"
    posted = client.post(
        f"/incidents/{number}/comments",
        data={"csrf_token": csrf, "body": body, "visibility": "work_note"},
    )
    assert posted.status_code == 200
    assert "Work note added. Told @bob." in posted.text
    assert "Not told (unknown or cannot see it): @eve, @nobody." in posted.text
    assert "&lt;script&gt;x&lt;/script&gt;" in posted.text  # escaped in the timeline
    assert "timeline__item--note" in posted.text
    told = notifications(db, "mentioned")
    assert [n.recipient for n in told] == ["bob@example.com"]
    assert "alice mentioned you in a work note" in told[0].body and body in told[0].body
    assert not notifications(db, "public_reply")  # a work note tells the caller nothing


def test_a_public_reply_reaches_the_caller_and_blank_text_is_refused(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = new_incident(client, cast.dave)["number"]
    csrf = sign_in(client, "alice")
    reply = client.post(
        f"/incidents/{number}/comments",
        data={"csrf_token": csrf, "body": "We are on it.", "visibility": "public"},
    )
    assert "Public reply sent." in reply.text and "timeline__item--reply" in reply.text
    assert [n.recipient for n in notifications(db, "public_reply")] == ["dave@example.com"]
    before = row_counts(db)
    blank = client.post(
        f"/incidents/{number}/comments",
        data={"csrf_token": csrf, "body": "   ", "visibility": "public"},
    )
    assert blank.status_code == 422 and row_counts(db) == before
    assert 'id="err-comment-body"' in blank.text


def test_the_mention_list_offers_staff_only(client: TestClient, cast: Cast) -> None:
    sign_in(client, "alice")
    found = client.get("/workspace/mentions", params={"body": "hello @b"})
    assert 'data-mention="bob"' in found.text
    assert "data-mention" not in client.get("/workspace/mentions", params={"body": "@da"}).text
    assert client.get("/workspace/mentions", params={"body": "no at sign"}).text.strip() == ""


def test_attachments_upload_and_download(client: TestClient, cast: Cast, db: Database) -> None:
    number = new_incident(client, cast.dave)["number"]
    csrf = sign_in(client, "alice")
    uploaded = client.post(
        f"/incidents/{number}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("trace.txt", b"stack trace here", "text/plain")},
    )
    assert uploaded.status_code == 200 and "trace.txt attached." in uploaded.text
    href = uploaded.text.split(f'href="/incidents/{number}/files/')[1].split('"')[0]
    download = client.get(f"/incidents/{number}/files/{href}")
    assert download.status_code == 200 and download.content == b"stack trace here"
    assert download.headers["content-disposition"].startswith("attachment;")
    before = row_counts(db)
    empty = client.post(
        f"/incidents/{number}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("empty.txt", b"", "text/plain")},
    )
    assert empty.status_code == 422 and row_counts(db) == before
    assert 'id="err-attach-file"' in empty.text
    assert client.get(f"/incidents/{number}/files/999999").status_code == 404


def test_links_are_shown_both_ways_and_removed(
    client: TestClient, cast: Cast, db: Database
) -> None:
    first = new_incident(client, cast.dave, short_description="Mail slow")["number"]
    second = new_incident(client, cast.dave, short_description="Mail down")["number"]
    csrf = sign_in(client, "alice")
    linked = client.post(
        f"/incidents/{first}/links", data={"csrf_token": csrf, "other": second.lower()}
    )
    assert f"Linked to {second}." in linked.text
    assert f'<a href="/incidents/{second}">{second}</a> Mail down' in linked.text
    back = client.get(f"/incidents/{second}").text
    assert f'<a href="/incidents/{first}">{first}</a> Mail slow' in back and "from there" in back
    before = row_counts(db)
    missing = client.post(
        f"/incidents/{first}/links", data={"csrf_token": csrf, "other": "INC0099999"}
    )
    assert missing.status_code == 422 and 'id="err-link-other"' in missing.text
    assert row_counts(db) == before
    removed = client.post(
        f"/incidents/{second}/links",
        data={"csrf_token": csrf, "other": first, "kind": "related", "remove": "yes"},
    )
    assert f"Unlinked from {first}." in removed.text
    assert "No links." in client.get(f"/incidents/{first}").text


def test_long_timelines_show_the_newest_entries_and_a_show_older_link(
    client: TestClient, cast: Cast
) -> None:
    number = new_incident(client, cast.dave)["number"]
    csrf = sign_in(client, "alice")
    for i in range(4):
        client.post(
            f"/incidents/{number}/comments",
            data={"csrf_token": csrf, "body": f"note {i}", "visibility": "work_note"},
        )
    short = client.get(f"/incidents/{number}?limit=2").text
    assert "note 3" in short and "note 2" in short and "note 0" not in short
    assert f'href="/incidents/{number}?limit=202"' in short
    full = client.get(f"/incidents/{number}").text
    assert "note 0" in full and "Show older entries" not in full


def test_mentions_never_reach_chat_or_webhook_endpoints(
    client: TestClient, cast: Cast, db: Database
) -> None:
    endpoint = client.post(
        "/api/v1/admin/notify/endpoints",
        json={"name": "desk chat", "kind": "slack", "url": "https://chat.example/hook"},
        headers=cast.bob.headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    number = new_incident(client, cast.dave)["number"]
    csrf = sign_in(client, "alice")
    client.post(
        f"/incidents/{number}/comments",
        data={"csrf_token": csrf, "body": "internal: @bob", "visibility": "work_note"},
    )
    client.post(
        f"/incidents/{number}/comments",
        data={"csrf_token": csrf, "body": "public: @bob", "visibility": "public"},
    )
    assert [n.channel for n in notifications(db, "mentioned")] == ["email", "email"]
    # the endpoint does get the public reply: it is subscribed to every event
    assert "slack" in [n.channel for n in notifications(db, "public_reply")]
