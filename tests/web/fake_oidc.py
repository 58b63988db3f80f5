"""A small OpenID Connect provider for the tests: discovery, JWKS, and a token endpoint that
answers each authorization code with an ID token whose claims the test chose."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "dutydesk"
CLIENT_SECRET = "provider-secret-for-tests"


@dataclass
class Grant:
    claims: dict[str, Any]
    challenge: str
    key: RSAKey


@dataclass
class FakeProvider:
    url: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def issue(self, params: dict[str, str], *, key: RSAKey | None = None, **claims: Any) -> str:
        """A code for the authorization request `params` (from DutyDesk's redirect); its ID
        token has sound claims unless `claims` override them (None removes one)."""
        now = int(time.time())
        sound: dict[str, Any] = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": "subject-1",
            "iat": now,
            "exp": now + 300,
            "nonce": params["nonce"],
            "email": "alice@example.com",
            "email_verified": True,
            "name": "Alice Example",
        }
        sound.update(claims)
        code = secrets.token_urlsafe(16)
        final = {k: v for k, v in sound.items() if v is not None}
        self.grants[code] = Grant(final, params["code_challenge"], key or self.key)
        return code

    def build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/healthz")
        def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.post("/token")
        def token(
            request: Request,
            code: Annotated[str, Form()],
            code_verifier: Annotated[str, Form()],
            grant_type: Annotated[str, Form()],
            client_id: Annotated[str, Form()] = "",
        ) -> JSONResponse:
            self.token_requests.append({"code": code, "grant_type": grant_type})
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            given = request.headers.get("authorization")
            public = given is None and client_id == CLIENT_ID  # PKCE-only public client
            if given != f"Basic {expected}" and not public:
                return JSONResponse({"error": "invalid_client"}, 401)
            grant = self.grants.pop(code, None)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if grant is None or challenge != grant.challenge:
                return JSONResponse({"error": "invalid_grant"}, 400)
            kid = grant.key.kid or "k1"
            id_token = jwt.encode({"alg": "RS256", "kid": kid}, grant.claims, grant.key)
            return JSONResponse({"access_token": "x", "token_type": "Bearer", "id_token": id_token})

        return app
