"""Tampering with the history behind the application's back is detected and named.

The history table refuses UPDATE and DELETE through triggers; each test first shows that,
then drops the triggers inside the test's transaction (DDL is transactional on SQLite and
PostgreSQL, so the rollback at the end of the test restores them), edits, deletes or
inserts history rows with SQL, and expects verify_chains / `dutydesk audit verify` to name
the incident and the event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Boolean, bindparam, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dutydesk.app import create_app
from dutydesk.config import Settings, get_settings
from dutydesk.db import Database
from dutydesk.incidents.history import ChainBreak, event_hash, verify_chains
from dutydesk.kernel.types import UTCDateTime
from dutydesk.models import IncidentEvent
from tests.factories import Cast, make_cast

API = "/api/v1"
EVENTS = IncidentEvent.__table__


# ----------------------------------------------------------------- helpers


def make_incident(client: Any, cast: Cast, comments: int = 4) -> str:
    """An incident with a history of 4 + `comments` events (created, priority, assigned…)."""
    body = {
        "short_description": "Printer on fire",
        "impact": 2,
        "urgency": 2,
        "caller_id": cast.dave.id,
        "assignment_group_id": cast.desk.id,
    }
    r = client.post(f"{API}/incidents", json=body, headers=cast.alice.headers)
    assert r.status_code == 201, r.text
    number = str(r.json()["number"])
    for i in range(comments):
        r = client.post(
            f"{API}/incidents/{number}/comments",
            json={"body": f"note {i}"},
            headers=cast.alice.headers,
        )
        assert r.status_code == 201, r.text
    return number


def incident_id(session: Session, number: str) -> int:
    return int(
        session.execute(
            text("SELECT id FROM incident WHERE number = :n"), {"n": number}
        ).scalar_one()
    )


def events_of(session: Session, number: str) -> list[Any]:
    """The incident's history rows as stored (Core select: the column types apply)."""
    rows = session.execute(
        select(EVENTS)
        .where(EVENTS.c.incident_id == incident_id(session, number))
        .order_by(EVENTS.c.seq)
    )
    return list(rows.mappings())


def breaks(session: Session, **kwargs: Any) -> list[ChainBreak]:
    session.expire_all()  # the ORM must read the tampered rows, not what it remembers
    return list(verify_chains(session, **kwargs))


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def assert_history_is_protected(session: Session, number: str) -> None:
    """Plain UPDATE and DELETE of history rows fail (the trigger works)."""
    iid = incident_id(session, number)
    for statement in (
        "UPDATE incident_event SET new = '\"forged\"' WHERE incident_id = :i AND seq = 2",
        "DELETE FROM incident_event WHERE incident_id = :i AND seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement), {"i": iid})
    assert breaks(session) == []


def drop_history_triggers(session: Session) -> None:
    """Only inside the test's transaction: the rollback at the end restores them."""
    if is_sqlite(session):
        session.execute(text("DROP TRIGGER incident_event_no_update"))
        session.execute(text("DROP TRIGGER incident_event_no_delete"))
    else:
        session.execute(text("DROP TRIGGER incident_event_append_only ON incident_event"))


@pytest.fixture
def tamper(client: Any, cast: Cast, session: Session) -> Iterator[Session]:
    """The test session, after checking the triggers, with them dropped."""
    number = make_incident(client, cast, comments=1)
    assert_history_is_protected(session, number)
    drop_history_triggers(session)
    yield session


INSERT_EVENT = text(
    "INSERT INTO incident_event (incident_id, seq, at, actor_id, actor_name, actor_type, channel, "
    "kind, field, old, new, reason, rule_id, request_id, imported, prev_hash, hash) VALUES "
    "(:incident_id, :seq, :at, :actor_id, :actor_name, :actor_type, :channel, :kind, :field, :old, "
    ":new, :reason, :rule_id, :request_id, :imported, :prev_hash, :hash)"
).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("imported", type_=Boolean()))


def forge(session: Session, number: str, *, seq: int, prev_hash: str, like: Any, new: str) -> None:
    """Insert an event with a correct hash, as a forger who knows the scheme would."""
    values = {
        c: like[c]
        for c in (
            "at",
            "actor_id",
            "actor_name",
            "actor_type",
            "channel",
            "field",
            "old",
            "reason",
            "rule_id",
            "request_id",
            "imported",
        )
    }
    values.update(
        incident_id=incident_id(session, number),
        seq=seq,
        kind="public_reply",
        new=new,
        prev_hash=prev_hash,
    )
    probe = IncidentEvent(**{k: v for k, v in values.items() if k != "incident_id"})
    values["hash"] = event_hash(number, probe)
    session.execute(INSERT_EVENT, values)


def assert_names(
    found: list[ChainBreak], number: str, seq: int | tuple[int, ...], *words: str
) -> ChainBreak:
    assert len(found) == 1, found
    b = found[0]
    seqs = seq if isinstance(seq, tuple) else (seq,)
    assert b.incident_number == number, b
    assert b.event_seq in seqs, f"expected event #{seqs}, got: {b}"
    assert number in str(b) and f"#{b.event_seq}" in str(b)
    for word in words:
        assert word in b.problem, b
    return b


# ----------------------------------------------------------------- tests


def test_an_untouched_history_verifies(client, cast, session) -> None:
    numbers = [make_incident(client, cast, comments=n) for n in (0, 2, 5)]
    assert breaks(session) == []
    for number in numbers:
        rows = events_of(session, number)
        assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))


def test_the_database_refuses_update_and_delete(client, cast, session) -> None:
    number = make_incident(client, cast)
    before = events_of(session, number)
    assert_history_is_protected(session, number)
    # Nothing changed, and the transaction is still usable after the refused statements.
    assert events_of(session, number) == before


def test_an_edited_event_is_named(client, cast, tamper) -> None:
    number = make_incident(client, cast)
    make_incident(client, cast)  # an intact neighbour
    tamper.execute(
        text("UPDATE incident_event SET new = :v WHERE incident_id = :i AND seq = 4"),
        {"v": '{"body":"everything is fine","comment_id":1}', "i": incident_id(tamper, number)},
    )
    assert_names(breaks(tamper), number, 4, "edited")


def test_an_edited_and_rehashed_event_is_caught_at_the_link(client, cast, tamper) -> None:
    """A forger who recomputes the edited event's hash breaks the link to the next one."""
    number = make_incident(client, cast)
    rows = events_of(tamper, number)
    edited = {**rows[3], "new": '"nothing happened"'}
    probe = IncidentEvent(
        **{k: v for k, v in edited.items() if k not in ("id", "incident_id", "hash")}
    )
    tamper.execute(
        text("UPDATE incident_event SET new = :v, hash = :h WHERE id = :id"),
        {"v": edited["new"], "h": event_hash(number, probe), "id": rows[3]["id"]},
    )
    assert_names(breaks(tamper), number, (4, 5))


def test_a_deleted_middle_event_is_named(client, cast, tamper) -> None:
    number = make_incident(client, cast)
    tamper.execute(
        text("DELETE FROM incident_event WHERE incident_id = :i AND seq = 3"),
        {"i": incident_id(tamper, number)},
    )
    b = assert_names(breaks(tamper), number, 4, "deleted")
    assert "#3" in b.problem  # the missing one is named too


def test_a_deleted_last_event_is_named(client, cast, tamper) -> None:
    number = make_incident(client, cast)
    last = len(events_of(tamper, number))
    tamper.execute(
        text("DELETE FROM incident_event WHERE incident_id = :i AND seq = :s"),
        {"i": incident_id(tamper, number), "s": last},
    )
    assert_names(breaks(tamper), number, last, "deleted")


def test_a_deleted_first_event_is_named(client, cast, tamper) -> None:
    number = make_incident(client, cast)
    tamper.execute(
        text("DELETE FROM incident_event WHERE incident_id = :i AND seq = 1"),
        {"i": incident_id(tamper, number)},
    )
    b = assert_names(breaks(tamper), number, 2, "deleted")
    assert "#1" in b.problem


def test_a_forged_event_after_the_last_is_named(client, cast, tamper) -> None:
    number = make_incident(client, cast)
    rows = events_of(tamper, number)
    last = rows[-1]
    forge(
        tamper,
        number,
        seq=last["seq"] + 1,
        prev_hash=last["hash"],
        like=last,
        new='{"body":"approved by the CEO"}',
    )
    assert_names(breaks(tamper), number, last["seq"] + 1, "inserted")


def test_a_forged_event_with_a_wrong_hash_is_named(client, cast, tamper) -> None:
    number = make_incident(client, cast)
    last = events_of(tamper, number)[-1]
    values = {**last, "seq": last["seq"] + 1, "prev_hash": last["hash"], "hash": "f" * 64}
    values.pop("id")
    tamper.execute(INSERT_EVENT, values)
    assert_names(breaks(tamper), number, last["seq"] + 1)


def test_a_forged_event_in_the_middle_is_named(client, cast, tamper) -> None:
    """Insert at #3 and renumber the later events: the first genuine event after the
    forgery no longer links to its predecessor."""
    number = make_incident(client, cast)
    rows = events_of(tamper, number)
    for row in reversed(rows[2:]):  # from the end, so (incident_id, seq) stays unique
        tamper.execute(
            text("UPDATE incident_event SET seq = seq + 1 WHERE id = :id"), {"id": row["id"]}
        )
    forge(tamper, number, seq=3, prev_hash=rows[1]["hash"], like=rows[1], new='{"body":"forged"}')
    assert [r["seq"] for r in events_of(tamper, number)] == list(range(1, len(rows) + 2))
    assert_names(breaks(tamper), number, (3, 4))


def test_every_broken_incident_is_reported(client, cast, tamper) -> None:
    first, intact, second = (make_incident(client, cast) for _ in range(3))
    for number, seq in ((first, 2), (second, 5)):
        tamper.execute(
            text("DELETE FROM incident_event WHERE incident_id = :i AND seq = :s"),
            {"i": incident_id(tamper, number), "s": seq},
        )
    found = breaks(tamper)
    assert [(b.incident_number, b.event_seq) for b in found] == [(first, 3), (second, 6)]
    assert intact not in {b.incident_number for b in found}
    assert [b.incident_number for b in breaks(tamper, stop_at_first=True)] == [first]


# ----------------------------------------------------------------- the CLI, end to end


@pytest.fixture
def cli_env(fresh_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DUTYDESK_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield fresh_db
    finally:
        get_settings.cache_clear()


def audit(*args: str) -> tuple[int, str]:
    from dutydesk.cli import app

    result = CliRunner().invoke(app, ["audit", "verify", *args])
    return result.exit_code, result.output


def tamper_committed(db: Database, sql: str, params: dict[str, Any]) -> None:
    """Tamper with a real database: drop the triggers, change history, put them back."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER incident_event_no_update"))
            conn.execute(text("DROP TRIGGER incident_event_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER incident_event_append_only ON incident_event"))
        conn.execute(text(sql), params)
        if db.engine.dialect.name == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                conn.execute(
                    text(
                        f"CREATE TRIGGER incident_event_no_{verb.lower()} "
                        f"BEFORE {verb} ON incident_event "
                        "BEGIN SELECT RAISE(ABORT, 'incident history is append-only'); END"
                    )
                )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER incident_event_append_only "
                    "BEFORE UPDATE OR DELETE ON incident_event "
                    "FOR EACH ROW EXECUTE FUNCTION incident_event_append_only()"
                )
            )


def test_audit_verify_command_end_to_end(cli_env: Database, tmp_path) -> None:
    from fastapi.testclient import TestClient

    cast = make_cast(cli_env)
    settings = Settings(database_url="sqlite://", storage_dir=tmp_path / "files")
    with TestClient(create_app(settings, cli_env)) as client:
        numbers = [make_incident(client, cast, comments=2) for _ in range(3)]

    code, output = audit()
    assert code == 0, output
    assert "intact" in output

    def incident_id_of(number: str) -> int:
        with cli_env.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT id FROM incident WHERE number = :n"), {"n": number}
                ).scalar_one()
            )

    tamper_committed(
        cli_env,
        "UPDATE incident_event SET reason = 'nobody asked' WHERE incident_id = :i AND seq = 2",
        {"i": incident_id_of(numbers[1])},
    )
    code, output = audit()
    assert code == 1, output
    assert numbers[1] in output and "#2" in output and "edited" in output
    assert numbers[0] not in output and numbers[2] not in output

    tamper_committed(
        cli_env,
        "DELETE FROM incident_event WHERE incident_id = :i AND seq = 5",
        {"i": incident_id_of(numbers[2])},
    )
    code, output = audit()  # the first break only
    assert code == 1 and numbers[1] in output and numbers[2] not in output, output
    code, output = audit("--all")
    assert code == 1, output
    assert numbers[1] in output and numbers[2] in output and numbers[0] not in output
    assert "#5" in output and "deleted" in output
