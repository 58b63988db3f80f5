"""OpenID Connect single sign-on against a fake provider served on 127.0.0.1: existing users
matched by e-mail, new users created, and every broken answer refused without writing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.models import User, WebSession
from tests.factories import Cast
from tests.serving import ServerThread
from tests.web.conftest import row_counts
from tests.web.fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeProvider


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    server = ServerThread(fake.build())
    fake.url = server.url
    server.start()
    yield fake
    server.stop()


@pytest.fixture
def sso(settings: Settings, provider: FakeProvider) -> FakeProvider:
    settings.oidc_issuer = provider.url
    settings.oidc_client_id = CLIENT_ID
    settings.oidc_client_secret = CLIENT_SECRET
    return provider


def start(client: TestClient, provider: FakeProvider, next_url: str = "/") -> dict[str, str]:
    away = client.get("/login/oidc", params={"next": next_url}, follow_redirects=False)
    assert away.status_code == 303, away.text
    location = away.headers["location"]
    assert location.startswith(f"{provider.url}/authorize?")
    return dict(parse_qsl(urlsplit(location).query))


def back(client: TestClient, code: str, state: str) -> httpx.Response:
    return client.get(
        "/login/oidc/callback", params={"code": code, "state": state}, follow_redirects=False
    )


def test_the_sign_in_page_offers_sso_only_when_configured(
    client: TestClient, cast: Cast, settings: Settings, provider: FakeProvider
) -> None:
    assert "Sign in with single sign-on" not in client.get("/login").text
    assert client.get("/login/oidc").status_code == 400
    settings.oidc_issuer, settings.oidc_client_id = provider.url, CLIENT_ID
    assert "Sign in with single sign-on" in client.get("/login").text


def test_an_existing_user_is_matched_by_email(
    client: TestClient, cast: Cast, sso: FakeProvider
) -> None:
    params = start(client, sso, "/queues")
    assert params["client_id"] == CLIENT_ID and params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and "openid" in params["scope"].split()
    code = sso.issue(params, email="Alice@Example.com")
    done = back(client, code, params["state"])
    assert done.status_code == 303 and done.headers["location"] == "/queues"
    page = client.get("/queues")
    assert page.status_code == 200 and "Signed in as Alice." in page.text


def test_an_unknown_verified_address_gets_a_new_requester_account(
    client: TestClient, cast: Cast, sso: FakeProvider, db: Database
) -> None:
    params = start(client, sso)
    code = sso.issue(params, email="new.person@example.org", name="New Person")
    assert back(client, code, params["state"]).status_code == 303
    assert client.get("/", follow_redirects=False).headers["location"] == "/portal"
    with db.unit_of_work(write=False) as s:
        user = s.scalars(select(User).where(User.email == "new.person@example.org")).one()
        assert user.role == "requester" and user.password_hash is None
        assert user.full_name == "New Person"
        assert s.scalars(select(WebSession.via).where(WebSession.user_id == user.id)).one() == (
            "oidc"
        )


def test_no_new_accounts_when_creation_is_off(
    client: TestClient, cast: Cast, sso: FakeProvider, settings: Settings, db: Database
) -> None:
    settings.oidc_create_users = False
    params = start(client, sso)
    before = row_counts(db)
    refused = back(client, sso.issue(params, email="new.person@example.org"), params["state"])
    assert refused.status_code == 403 and "no DutyDesk account" in refused.text
    assert row_counts(db) == before


ANOTHER_KEY = RSAKey.generate_key(2048, {"kid": "k1"})


@pytest.mark.parametrize(
    ("case", "claims", "message"),
    [
        ("wrong nonce", {"nonce": "not-the-nonce"}, "nonce"),
        ("wrong issuer", {"iss": "https://evil.example"}, "iss"),
        ("wrong audience", {"aud": "another-client"}, "aud"),
        ("several audiences, no azp", {"aud": [CLIENT_ID, "another-client"]}, "azp"),
        ("expired", {"exp": int(time.time()) - 600}, "exp"),
        ("no expiry", {"exp": None}, "exp"),
        ("no nonce", {"nonce": None}, "nonce"),
        ("unverified e-mail", {"email_verified": False}, "verified e-mail"),
        ("no e-mail", {"email": None}, "verified e-mail"),
        ("signed by another key", {"key": ANOTHER_KEY}, "ID token was refused"),
    ],
)
def test_a_broken_id_token_is_refused_and_writes_nothing(
    client: TestClient,
    cast: Cast,
    sso: FakeProvider,
    db: Database,
    case: str,
    claims: dict[str, object],
    message: str,
) -> None:
    params = start(client, sso)
    code = sso.issue(params, **claims)
    before = row_counts(db)
    refused = back(client, code, params["state"])
    assert refused.status_code == 403, case
    assert "Single sign-on failed" in refused.text and message in refused.text, refused.text
    assert "dd_session" not in client.cookies
    assert row_counts(db) == before


def test_a_wrong_state_or_another_browser_is_refused(
    client: TestClient, second: TestClient, cast: Cast, sso: FakeProvider, db: Database
) -> None:
    params = start(client, sso)
    before = row_counts(db)
    wrong = back(client, sso.issue(params), "not-the-state")
    assert wrong.status_code == 403 and "does not belong to this browser" in wrong.text
    elsewhere = back(second, sso.issue(params), params["state"])  # no flow cookie there
    assert elsewhere.status_code == 403 and "start again" in elsewhere.text
    assert row_counts(db) == before
    assert "dd_session" not in client.cookies and "dd_session" not in second.cookies


def test_a_refused_code_or_an_error_from_the_provider_signs_nobody_in(
    client: TestClient, cast: Cast, sso: FakeProvider
) -> None:
    params = start(client, sso)
    unknown = back(client, "a-code-the-provider-never-issued", params["state"])
    assert unknown.status_code == 403 and "refused the authorization code" in unknown.text
    params = start(client, sso)
    denied = client.get(
        "/login/oidc/callback",
        params={"error": "access_denied", "state": params["state"]},
        follow_redirects=False,
    )
    assert denied.status_code == 403 and "dd_session" not in client.cookies


def test_a_public_client_works_and_a_wrong_secret_is_refused(
    client: TestClient, cast: Cast, sso: FakeProvider, settings: Settings
) -> None:
    settings.oidc_client_secret = ""  # a public client: PKCE only
    params = start(client, sso)
    assert back(client, sso.issue(params), params["state"]).status_code == 303
    client.cookies.clear()
    settings.oidc_client_secret = "not the secret"
    params = start(client, sso)
    refused = back(client, sso.issue(params), params["state"])
    assert refused.status_code == 403 and "refused the authorization code" in refused.text


def test_an_unreachable_provider_is_a_clear_error(
    client: TestClient, cast: Cast, settings: Settings
) -> None:
    settings.oidc_issuer, settings.oidc_client_id = "http://127.0.0.1:9", CLIENT_ID
    page = client.get("/login/oidc", follow_redirects=False)
    assert page.status_code == 502 and "could not be reached" in page.text
