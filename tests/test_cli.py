"""The `dutydesk` command line against a real, committed database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dutydesk.app import create_app
from dutydesk.cli import app as cli
from dutydesk.config import Settings, get_settings
from dutydesk.db import Database


@pytest.fixture
def run(fresh_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DUTYDESK_DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), input=input)

    yield invoke
    get_settings.cache_clear()


def test_user_token_round_trip(run, fresh_db: Database, tmp_path) -> None:
    r = run(
        "user",
        "add",
        "bob",
        "--role",
        "admin",
        "--email",
        "bob@example.com",
        "--password-stdin",
        input="a long password\n",
    )
    assert r.exit_code == 0, r.output
    r = run("token", "create", "bob", "--scope", "read")
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("ddt_")
    client = TestClient(create_app(Settings(storage_dir=tmp_path), fresh_db))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "bob"
    r = run("user", "list")
    assert "bob" in r.output and "admin" in r.output
    r = run("token", "revoke", "1")
    assert r.exit_code == 0
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_disable_revokes_tokens_and_set_role(run, fresh_db: Database, tmp_path) -> None:
    assert (
        run("user", "add", "alice", "--role", "agent", "--email", "alice@example.com").exit_code
        == 0
    )
    token = run("token", "create", "alice").output.strip().splitlines()[-1]
    assert run("user", "set-role", "alice", "incident_manager").exit_code == 0
    client = TestClient(create_app(Settings(storage_dir=tmp_path), fresh_db))
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["role"]
        == "incident_manager"
    )
    assert run("user", "disable", "alice").exit_code == 0
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_bad_input_gives_a_clear_message(run) -> None:
    r = run("user", "add", "x y", "--role", "agent", "--email", "not-an-email")
    assert r.exit_code == 1 and "username" in r.output and "email" in r.output
    r = run(
        "user",
        "add",
        "zed",
        "--role",
        "requester",
        "--email",
        "zed@example.com",
        "--customer",
        "Nobody",
    )
    assert r.exit_code == 1 and "not found" in r.output
    r = run("user", "add", "zed", "--role", "wizard", "--email", "zed@example.com")
    assert r.exit_code == 2
    assert run("token", "create", "ghost").exit_code == 1
    assert run("user", "disable", "ghost").exit_code == 1


def test_init_creates_one_admin(run) -> None:
    r = run("init", "--password-stdin", input="another long password\n")
    assert r.exit_code == 0 and "administrator 'admin' created" in r.output
    r = run("init")
    assert r.exit_code == 0 and "exists already" in r.output


def test_audit_verify_on_intact_history(run) -> None:
    r = run("audit", "verify")
    assert r.exit_code == 0 and "intact" in r.output


def test_bad_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    for name, value, expected in (
        ("DUTYDESK_DATABASE_URL", "not a url", "DUTYDESK_DATABASE_URL"),
        ("DUTYDESK_MAX_BODY_BYTES", "lots", "DUTYDESK_MAX_BODY_BYTES"),
        ("DUTYDESK_SQLITE_SYNCHRONOUS", "SOMETIMES", "SYNCHRONOUS"),
    ):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            get_settings.cache_clear()
            r = runner.invoke(cli, ["user", "list"])
            assert r.exit_code == 2 and expected in r.output, r.output
    get_settings.cache_clear()
