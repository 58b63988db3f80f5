"""Concurrency against a real server: uvicorn in a thread, a real committing database,
and many simultaneous HTTP clients.

- idempotency: 100 concurrent POSTs with one Idempotency-Key create exactly one incident;
- incident numbers stay unique and gapless under concurrent creation;
- racing PATCH pairs with the same If-Match: one wins, one gets 412, nothing is lost;
- concurrent comments all land and the history chain still verifies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents.history import verify_chains
from dutydesk.models import Comment, IdempotencyRecord, Incident, IncidentEvent
from tests.factories import Cast, Person, make_cast
from tests.serving import serve

API = "/api/v1"


class Live:
    """A served app with its cast; `run` drives many requests at once."""

    def __init__(self, url: str, db: Database, cast: Cast) -> None:
        self.url = url
        self.db = db
        self.cast = cast

    def run(self, requests: list[tuple[str, str, Person, dict[str, Any]]]) -> list[httpx.Response]:
        """Send every (method, path, who, kwargs) concurrently; responses in the same order."""

        async def main() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=len(requests) + 10, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=self.url, limits=limits, timeout=60) as client:
                start = asyncio.Event()

                async def one(
                    method: str, path: str, who: Person, kwargs: dict[str, Any]
                ) -> httpx.Response:
                    await start.wait()  # every request leaves at once
                    headers = {**who.headers, **kwargs.pop("headers", {})}
                    return await client.request(method, path, headers=headers, **kwargs)

                tasks = [asyncio.create_task(one(m, p, w, dict(k))) for m, p, w, k in requests]
                await asyncio.sleep(0)
                start.set()
                return list(await asyncio.gather(*tasks))

        return asyncio.run(main())

    def get(self, path: str, who: Person) -> httpx.Response:
        return httpx.get(self.url + path, headers=who.headers, timeout=30)

    def post(
        self, path: str, who: Person, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return httpx.post(
            self.url + path, headers={**who.headers, **(headers or {})}, timeout=30, **kwargs
        )

    def count(self, model: Any, *where: Any) -> int:
        with self.db.unit_of_work(write=False) as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def verify(self) -> list[Any]:
        with self.db.unit_of_work(write=False) as s:
            return list(verify_chains(s))


@pytest.fixture
def live(fresh_db: Database, settings: Settings) -> Iterator[Live]:
    cast = make_cast(fresh_db)
    with serve(create_app(settings, fresh_db)) as url:
        yield Live(url, fresh_db, cast)


def new_incident(live: Live, **fields: Any) -> dict[str, Any]:
    c = live.cast
    body = {
        "short_description": "Mail is down",
        "impact": 2,
        "urgency": 2,
        "caller_id": c.dave.id,
        "assignment_group_id": c.desk.id,
        **fields,
    }
    r = live.post(f"{API}/incidents", c.alice, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_one_idempotency_key_creates_one_incident_under_100_concurrent_posts(live: Live) -> None:
    c = live.cast
    # The server helper serves the real app.
    health = httpx.get(f"{live.url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert live.get(f"{API}/me", c.alice).json()["username"] == "alice"

    body = {"short_description": "Sent twice", "impact": 2, "urgency": 1, "caller_id": c.dave.id}
    key = {"Idempotency-Key": "retry-7f3a"}
    before = live.count(Incident)
    responses = live.run(
        [("POST", f"{API}/incidents", c.alice, {"json": body, "headers": key})] * 100
    )

    assert [r.status_code for r in responses] == [201] * 100, {
        r.status_code: r.text for r in responses
    }
    numbers = {r.json()["number"] for r in responses}
    assert len(numbers) == 1
    assert live.count(Incident) == before + 1
    assert live.count(IdempotencyRecord) == 1
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 99
    original = next(r for r in responses if "Idempotent-Replayed" not in r.headers)
    assert all(r.json() == original.json() for r in replayed)  # the same response, replayed
    assert {r.headers["ETag"] for r in responses} == {original.headers["ETag"]}
    assert {r.headers["Location"] for r in responses} == {f"{API}/incidents/{numbers.pop()}"}

    # Same key, different body: refused, nothing created.
    other = live.post(f"{API}/incidents", c.alice, json={**body, "urgency": 3}, headers=key)
    assert other.status_code == 422, other.text
    # A key belongs to its user: bob's identical key is a new request.
    mine = live.post(f"{API}/incidents", c.bob, json=body, headers=key)
    assert mine.status_code == 201 and "Idempotent-Replayed" not in mine.headers
    assert mine.json()["number"] != original.json()["number"]
    assert live.count(Incident) == before + 2


def test_concurrent_creations_get_unique_gapless_numbers(live: Live) -> None:
    c = live.cast
    first = int(new_incident(live)["number"][3:])
    creators = [c.alice, c.ivy, c.bob, c.dave, c.carol]
    requests = []
    for i in range(50):
        who = creators[i % len(creators)]
        body: dict[str, Any] = {"short_description": f"burst {i}", "impact": 3, "urgency": 3}
        if who.user.role != "requester":
            body["caller_id"] = c.dave.id
        requests.append(("POST", f"{API}/incidents", who, {"json": body}))
    responses = live.run(requests)

    assert [r.status_code for r in responses] == [201] * 50, [
        r.text for r in responses if r.status_code != 201
    ]
    numbers = sorted(int(r.json()["number"][3:]) for r in responses)
    assert numbers == list(range(first + 1, first + 51))
    assert all(
        r.json()["number"] == f"INC{n:07d}"
        for r, n in zip(sorted(responses, key=lambda r: r.json()["number"]), numbers, strict=True)
    )
    assert live.count(Incident) == 51
    assert live.verify() == []


def test_racing_patches_lose_no_update(live: Live) -> None:
    """30 rounds: two clients PATCH the same version at the same moment."""
    c = live.cast
    number = new_incident(live)["number"]
    url = f"{API}/incidents/{number}"

    async def rounds() -> list[int]:
        winners: list[int] = []
        async with httpx.AsyncClient(base_url=live.url, timeout=60) as client:
            for _round in range(30):
                current = await client.get(url, headers=c.alice.headers)
                etag, urgency = current.headers["ETag"], current.json()["urgency"]
                a, b = (u for u in (1, 2, 3) if u != urgency)
                responses = await asyncio.gather(
                    client.patch(
                        url, json={"urgency": a}, headers={**c.alice.headers, "If-Match": etag}
                    ),
                    client.patch(
                        url, json={"urgency": b}, headers={**c.ivy.headers, "If-Match": etag}
                    ),
                )
                codes = sorted(r.status_code for r in responses)
                assert codes == [200, 412], [r.text for r in responses]
                won = next(r for r in responses if r.status_code == 200)
                lost = next(r for r in responses if r.status_code == 412)
                winners.append(won.json()["urgency"])
                final = await client.get(url, headers=c.alice.headers)
                assert final.json()["urgency"] == won.json()["urgency"]  # the winner's value stands
                assert (
                    final.headers["ETag"]
                    == won.headers["ETag"]
                    == f'"{int(etag.strip(chr(34))) + 1}"'
                )
                assert (
                    lost.headers.get("ETag") == won.headers["ETag"]
                )  # the loser learns the version
        return winners

    winners = asyncio.run(rounds())
    events = live.get(f"{url}/events", c.alice).json()
    changes = [e for e in events if e["kind"] == "field_changed" and e["field"] == "urgency"]
    assert [e["new"] for e in changes] == winners  # every accepted change is in the history
    assert live.verify() == []


def test_concurrent_comments_all_land_and_the_chain_verifies(live: Live) -> None:
    c = live.cast
    number = new_incident(live)["number"]
    url = f"{API}/incidents/{number}"
    history_before = len(live.get(f"{url}/events", c.alice).json())
    authors = [c.alice, c.ivy, c.bob, c.dave]
    requests = [
        ("POST", f"{url}/comments", authors[i % 4], {"json": {"body": f"comment {i}"}})
        for i in range(40)
    ]
    responses = live.run(requests)

    assert [r.status_code for r in responses] == [201] * 40, [
        r.text for r in responses if r.status_code != 201
    ]
    bodies = sorted(c_["body"] for c_ in live.get(f"{url}/comments", c.alice).json())
    assert bodies == sorted(f"comment {i}" for i in range(40))
    assert live.count(Comment) == 40
    events = live.get(f"{url}/events", c.alice).json()
    assert len(events) == history_before + 40
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    with live.db.unit_of_work(write=False) as s:
        inc = s.scalar(select(Incident).where(Incident.number == number))
        assert inc is not None and inc.history_count == len(events)
        assert s.scalar(
            select(func.count())
            .select_from(IncidentEvent)
            .where(IncidentEvent.incident_id == inc.id)
        ) == len(events)
    assert live.verify() == []


def test_creates_queued_together_open_as_a_group_and_fail_alone(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creates with one token that queue up together open as one group (one counter bump,
    one flush); a create of the group that fails rolls the group back, and each is then
    opened alone: the bad ones get their own answer, the good ones their incidents, and
    the numbers stay gapless."""
    from dutydesk.incidents import service

    groups: list[int] = []
    real = service.open_incidents

    def spy(session: Any, requests: Any, **kw: Any) -> Any:
        groups.append(len(requests))
        return real(session, requests, **kw)

    monkeypatch.setattr(service, "open_incidents", spy)
    c = live.cast
    first = int(new_incident(live)["number"][3:])
    requests = []
    for i in range(60):
        body: dict[str, Any] = {
            "short_description": f"group {i}",
            "caller_id": c.dave.id,
            "impact": 2,
            "urgency": 3,
        }
        if i % 13 == 5:  # a caller of another customer than the one named: 422
            body["customer_id"] = c.globex.id
        requests.append(("POST", f"{API}/incidents", c.alice, {"json": body}))
    responses = live.run(requests)

    bad = {i for i in range(60) if i % 13 == 5}
    assert {i for i, r in enumerate(responses) if r.status_code != 201} == bad
    assert all(responses[i].status_code in (404, 422) for i in bad)
    numbers = sorted(int(r.json()["number"][3:]) for r in responses if r.status_code == 201)
    assert numbers == list(range(first + 1, first + 61 - len(bad)))
    assert max(groups) > 1  # some creates did run as a group
    with live.db.unit_of_work(write=False) as s:
        request_ids = s.scalars(
            select(IncidentEvent.request_id).where(IncidentEvent.kind == "created")
        ).all()
    assert len(set(request_ids)) == len(request_ids) == 61 - len(bad)  # each its own
    assert live.verify() == []
