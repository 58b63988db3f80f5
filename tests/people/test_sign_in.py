"""Sign-in with a password: tokens, failures, rate limiting."""

from __future__ import annotations

from datetime import timedelta

from dutydesk.kernel import clock
from tests.factories import PASSWORD


def login(client, login: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"login": login, "password": password})


def test_password_gives_a_working_token(client, cast) -> None:
    r = login(client, "alice", PASSWORD)
    assert r.status_code == 200 and r.json()["role"] == "agent"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.json()["username"] == "alice"
    assert login(client, "alice@example.com", PASSWORD).status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(client, cast) -> None:
    a = login(client, "alice", "wrong password!")
    b = login(client, "nobody", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"]


def test_failed_sign_ins_are_rate_limited(client, cast) -> None:
    for _ in range(5):
        assert login(client, "alice", "wrong password!").status_code == 401
    r = login(client, "alice", PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_limit_lifts_after_the_window(client, cast) -> None:
    with clock.frozen(clock.now()) as advance:
        for _ in range(5):
            login(client, "alice", "wrong password!")
        assert login(client, "alice", PASSWORD).status_code == 429
        advance(timedelta(minutes=16))
        assert login(client, "alice", PASSWORD).status_code == 200


def test_disabled_user_cannot_sign_in(client, cast) -> None:
    r = client.patch(
        f"/api/v1/admin/users/{cast.alice.id}", json={"is_active": False}, headers=cast.bob.headers
    )
    assert r.status_code == 200
    assert login(client, "alice", PASSWORD).status_code == 401
    assert client.get("/api/v1/me", headers=cast.alice.headers).status_code == 401


def test_tokens_are_listed_without_secrets_and_revocable(client, cast) -> None:
    r = client.post(
        "/api/v1/tokens", json={"name": "ci", "scope": "read"}, headers=cast.alice.headers
    )
    assert r.status_code == 201
    created = r.json()
    listed = client.get("/api/v1/tokens", headers=cast.alice.headers).json()
    assert all("token" not in t for t in listed) and any(t["id"] == created["id"] for t in listed)
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert (
        client.delete(f"/api/v1/tokens/{created['id']}", headers=cast.dave.headers).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/tokens/{created['id']}", headers=cast.alice.headers).status_code
        == 200
    )
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_passwords_are_stored_as_argon2id(db, cast) -> None:
    from dutydesk.models import User

    with db.unit_of_work() as s:
        stored = s.get(User, cast.alice.id).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
