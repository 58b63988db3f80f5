"""OpenID Connect single sign-on, authorization-code flow with PKCE: the provider's discovery
document, the authorization URL, the code exchange and the ID token's checks (signature
against the provider's JWKS, issuer, audience, authorized party, expiry, nonce). No database:
``sessions.user_for_sso`` turns the verified identity into a user.

State, nonce and the PKCE verifier travel in a short-lived signed cookie (``people.web``), so
no server-side session is needed before sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlencode

from dutydesk.config import Settings
from dutydesk.kernel import clock

if TYPE_CHECKING:
    import httpx

# httpx (with its command line, which loads rich) and joserfc load at the first sign-in
# through the provider, not with the web app: ~0.2 s of every process start.
TIMEOUT_SECONDS = 10.0
LEEWAY_SECONDS = 60  # clock skew allowed on exp/iat/nbf
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class SsoError(Exception):
    """Single sign-on could not complete; `reason` is safe to show the user."""

    def __init__(self, reason: str, *, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Flow:
    """What the browser carries (signed) from the redirect to the callback."""

    state: str
    nonce: str
    verifier: str
    next_url: str


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    email_verified: bool
    name: str


def is_enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_base_url.rstrip('/')}/login/oidc/callback"


def new_flow(next_url: str) -> Flow:
    return Flow(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        next_url=next_url,
    )


async def _get_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    import httpx  # cycle: none; deferred: see TIMEOUT_SECONDS

    try:
        response = await client.get(url)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoError("the identity provider could not be reached", status=502) from exc
    if not isinstance(body, dict):
        raise SsoError("the identity provider answered something unexpected", status=502)
    return body


async def discover(settings: Settings, client: httpx.AsyncClient) -> dict[str, Any]:
    """The provider's metadata; its issuer must be exactly the configured one (OIDC
    Discovery §4.3), or an attacker-controlled document could name other endpoints."""
    issuer = settings.oidc_issuer.rstrip("/")
    meta = await _get_json(client, f"{issuer}/.well-known/openid-configuration")
    if meta.get("issuer") != settings.oidc_issuer and meta.get("issuer") != issuer:
        raise SsoError("the identity provider's metadata names another issuer", status=502)
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise SsoError(f"the identity provider's metadata has no {key}", status=502)
    return meta


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorization_url(settings: Settings, flow: Flow) -> str:
    import httpx  # cycle: none; deferred: see TIMEOUT_SECONDS

    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        meta = await discover(settings, client)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": redirect_uri(settings),
            "scope": "openid email profile",
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": _challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
    )
    endpoint = str(meta["authorization_endpoint"])
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


async def complete(settings: Settings, flow: Flow, *, state: str, code: str) -> Identity:
    """Check the callback's state, exchange the code, verify the ID token; the identity."""
    if not state or not secrets.compare_digest(state.encode(), flow.state.encode()):
        raise SsoError("the sign-in answer does not belong to this browser; start again")
    if not code or len(code) > 2000:
        raise SsoError("the identity provider sent no authorization code", status=400)
    import httpx  # cycle: none; deferred: see TIMEOUT_SECONDS

    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        meta = await discover(settings, client)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri(settings),
            "code_verifier": flow.verifier,
        }
        # client_secret_basic (RFC 6749 §2.3.1: both parts form-encoded); a public client
        # without a secret names itself in the form and relies on PKCE alone
        auth = httpx.Auth()  # the base class adds nothing
        if settings.oidc_client_secret:
            client_id, secret = settings.oidc_client_id, settings.oidc_client_secret
            auth = httpx.BasicAuth(quote_plus(client_id), quote_plus(secret))
        else:
            form["client_id"] = settings.oidc_client_id
        try:
            response = await client.post(str(meta["token_endpoint"]), data=form, auth=auth)
            tokens = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SsoError("the identity provider could not be reached", status=502) from exc
        if response.status_code != 200 or not isinstance(tokens, dict):
            raise SsoError("the identity provider refused the authorization code")
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SsoError("the identity provider sent no ID token")
        jwks = await _get_json(client, str(meta["jwks_uri"]))
    return verify_id_token(settings, id_token, jwks, nonce=flow.nonce)


def verify_id_token(
    settings: Settings, id_token: str, jwks: dict[str, Any], *, nonce: str
) -> Identity:
    """OIDC Core §3.1.3.7: signature, iss, aud (and azp when several audiences), exp, iat,
    nonce."""
    from joserfc import jwt  # cycle: none; deferred: see TIMEOUT_SECONDS
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    issuer = settings.oidc_issuer
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        checks = jwt.JWTClaimsRegistry(
            now=int(clock.now().timestamp()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "values": [issuer, issuer.rstrip("/")]},
            aud={"essential": True, "value": settings.oidc_client_id},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        checks.validate(token.claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise SsoError(f"the identity provider's ID token was refused ({_why(exc)})") from exc
    claims = token.claims
    audience = claims["aud"]
    if (
        isinstance(audience, list)
        and len(audience) > 1
        and claims.get("azp") != (settings.oidc_client_id)
    ):
        raise SsoError("the identity provider's ID token was refused (azp)")
    verified = claims.get("email_verified")
    return Identity(
        subject=str(claims["sub"]),
        email=str(claims.get("email") or ""),
        email_verified=verified is True or verified == "true",
        name=str(claims.get("name") or ""),
    )


def _why(exc: Exception) -> str:
    """The claim or check that failed, without echoing token contents."""
    claim = getattr(exc, "claim", None)
    if isinstance(claim, str):
        return claim
    error = getattr(exc, "error", None)
    return str(error) if isinstance(error, str) else type(exc).__name__
