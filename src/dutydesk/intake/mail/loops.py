"""Mail-loop protection (pure): which mail is automatic, and when to stop answering a sender.

RFC 3834 (Auto-Submitted), RFC 3464 (delivery status notifications, multipart/report),
the de-facto Precedence and Exchange headers, and our own addresses. Nothing automatic is
opened or answered from such mail; it is recorded as ``ignored_loop``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from dutydesk.intake.mail.parse import ParsedMail

BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@", "mail-daemon@")
SUPPRESS_VALUES = frozenset({"all", "oof", "autoreply", "dr", "ndr", "rn", "nrn"})


def own_addresses(mail_from: str, extra: str) -> frozenset[str]:
    """Lower-case addresses of DutyDesk's own mailboxes (settings mail_from + mail_in_addresses)."""
    found: set[str] = set()
    for item in [mail_from, *extra.split(",")]:
        item = item.strip()
        if "<" in item and ">" in item:
            item = item[item.index("<") + 1 : item.index(">")]
        if "@" in item:
            found.add(item.strip().lower())
    return frozenset(found)


def _first(headers: Mapping[str, tuple[str, ...]], name: str) -> str:
    values = headers.get(name, ())
    return values[0].strip().lower() if values else ""


def loop_reason(mail: ParsedMail, own: Iterable[str]) -> str | None:
    """Why this mail is automatic (and must open nothing), or None for a person's mail."""
    headers = mail.headers
    auto = _first(headers, "auto-submitted")
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _first(headers, "precedence")
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if mail.content_type == "multipart/report":
        return "a delivery or disposition report (multipart/report)"
    if any(mail.sender.startswith(prefix) for prefix in BOUNCE_SENDERS):
        return f"a bounce from {mail.sender}"
    if _first(headers, "return-path") == "<>" and "delivery" in mail.subject.lower():
        return "a bounce (empty Return-Path)"
    suppress = {v.strip() for v in _first(headers, "x-auto-response-suppress").split(",")}
    if suppress & SUPPRESS_VALUES and (
        "x-ms-exchange-generated-message-source" in headers
        or "x-ms-exchange-inbox-rules-loop" in headers
        or _first(headers, "x-auto-response-suppress") == "all"
    ):
        return "an Exchange automatic message (X-Auto-Response-Suppress)"
    for name in ("x-autoreply", "x-autorespond", "x-auto-reply"):
        if name in headers:
            return f"{name} header"
    if not mail.sender:
        return None
    ours = {a.lower() for a in own}
    if mail.sender in ours:
        return f"sent by our own address {mail.sender}"
    loop_marks = {v.strip().lower() for v in headers.get("x-loop", ())}
    if loop_marks & ours:
        return "X-Loop names our own address"
    return None


def is_bounce(mail: ParsedMail) -> bool:
    """A delivery failure report (RFC 3464 or a MAILER-DAEMON/postmaster mail); a read receipt
    (report-type=disposition-notification) is not one."""
    if mail.content_type == "multipart/report":
        return "delivery-status" in _first(mail.headers, "content-type")
    if any(mail.sender.startswith(prefix) for prefix in BOUNCE_SENDERS):
        return True
    return _first(mail.headers, "return-path") == "<>" and "delivery" in mail.subject.lower()


_BODY_MSGID = re.compile(r"(?im)^[ \t>]*message-id:[ \t]*(<[^<>\s]{1,250}>)")


def bounced_ids(mail: ParsedMail) -> tuple[str, ...]:
    """Message-IDs that may name the mail that bounced, best first: the enclosed original's,
    those quoted in the text (plain MAILER-DAEMON bounces), then the report's own references.
    The report's own Message-ID is never one of them."""
    found = [
        *mail.enclosed_ids,
        *(m.group(1) for m in _BODY_MSGID.finditer(mail.body[:100_000])),
        *mail.thread_ids,
    ]
    own = mail.message_id
    return tuple(mid for mid in dict.fromkeys(found) if mid != own)[:50]


def window_start(now: datetime) -> datetime:
    """The hour a sender's automatic-reply counter belongs to."""
    return now.replace(minute=0, second=0, microsecond=0)


def may_answer(count_in_window: int, limit: int) -> bool:
    """Whether the n-th mail of a sender in this hour may still cause automatic mail to them."""
    return count_in_window <= limit
