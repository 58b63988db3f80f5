"""Security headers on every response: a strict Content-Security-Policy (no inline script, no
inline style), no MIME sniffing, no framing, a same-origin referrer. A page that sets its own
header (the link pages send no referrer) keeps it."""

from __future__ import annotations

from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent.parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The API reference (FastAPI's Swagger UI) loads its bundle from a CDN and starts it with an
# inline script: it gets its own, looser policy; no page of the web UI does.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/api/v1/docs", "/api/v1/docs/oauth2-redirect"})
DEFAULTS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
RAW_DEFAULTS = tuple((name.encode(), value.encode()) for name, value in DEFAULTS.items())


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw: list[tuple[bytes, bytes]] = list(message.get("headers") or [])
                present = {name.lower() for name, _value in raw}
                if scope.get("path") in DOCS_PATHS and b"content-security-policy" not in present:
                    raw.append((b"content-security-policy", DOCS_CSP.encode()))
                    present.add(b"content-security-policy")
                raw += [pair for pair in RAW_DEFAULTS if pair[0] not in present]
                if scope.get("scheme") == "https" and b"strict-transport-security" not in present:
                    raw.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, with_headers)
