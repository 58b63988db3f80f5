"""Outgoing webhooks: a signed JSON POST (generic, Slack-compatible or Teams-compatible).

Every request carries ``X-DutyDesk-Delivery`` (the notification id, the same on every retry,
so a receiver drops duplicates), ``X-DutyDesk-Timestamp`` (when this attempt was made) and
``X-DutyDesk-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body bytes with the
endpoint's secret. The body of one notification is the same bytes on every attempt.

2xx is delivered; 408, 429, 5xx, timeouts and connection errors are retried; any other 4xx
(and a redirect, which is not followed) will not get better by itself and is a dead letter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from functools import cache
from typing import Any

import httpx

from dutydesk import __version__
from dutydesk.notify.channels import Outcome

TIMEOUT_SECONDS = 10.0
SIGNATURE_HEADER = "X-DutyDesk-Signature"
RETRYABLE_4XX = frozenset({408, 429})
MESSAGE_CARD_CONTEXT = "https://schema.org/extensions"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute the signature over the bytes received."""
    return hmac.compare_digest(sign(secret, body), signature)


def encode_body(kind: str, *, notification_id: int, subject: str, body: str) -> bytes:
    """The request body. For a generic webhook `body` holds the JSON payload made when the
    notification was written; the notification id is added here (the same on every retry)."""
    data: dict[str, Any]
    if kind == "webhook":
        data = {**json.loads(body), "notification_id": notification_id}
    elif kind == "slack":
        data = {"text": f"*{subject}*\n{body}"}
    elif kind == "teams":
        data = {
            "@type": "MessageCard",
            "@context": MESSAGE_CARD_CONTEXT,
            "summary": subject,
            "title": subject,
            "text": body.replace("\n", "\n\n"),  # Teams markdown needs blank lines
        }
    else:
        raise ValueError(f"unknown endpoint kind {kind!r}")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def request_headers(
    *, secret: str | None, body: bytes, notification_id: int, event: str, timestamp: int
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"DutyDesk/{__version__}",
        "X-DutyDesk-Event": event,
        "X-DutyDesk-Delivery": str(notification_id),
        "X-DutyDesk-Timestamp": str(timestamp),
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return headers


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        return Outcome.retry(f"timeout: {type(exc).__name__}")
    except httpx.InvalidURL as exc:
        return Outcome.dead(f"invalid URL: {exc}")
    except httpx.HTTPError as exc:
        return Outcome.retry(f"connection error: {type(exc).__name__}: {exc}")
    status = response.status_code
    if 200 <= status < 300:
        return Outcome.sent()
    error = f"HTTP {status}: {response.text[:300]}"
    if status >= 500 or status in RETRYABLE_4XX:
        return Outcome.retry(error, _retry_after(response))
    if 300 <= status < 400:
        return Outcome.dead(f"HTTP {status}: redirects are not followed; fix the endpoint URL")
    return Outcome.dead(error)


@cache
def _tls() -> ssl.SSLContext:
    """httpx's default verification context, made once per process: loading the CA bundle
    costs ~20 ms, which every delivery batch paid when each client made its own."""
    return httpx.create_ssl_context()


def client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, verify=_tls())
