"""Parsing one raw message into what intake needs (pure: no database, no I/O).

The standard library's ``email`` package with the modern policy does the MIME work: RFC 2047
encoded words, RFC 2231 parameters. On top of it: charset repair (mislabelled cp1252/UTF-8,
ISO-2022-JP without a label), HTML-only mail turned into text through ``nh3``, attachment
limits, and trimming of the quoted part of replies. Anything the parser cannot make sense of
raises ``MailError`` with a reason; the caller quarantines the raw bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import time
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses

import nh3

MSGID_RE = re.compile(r"<([^<>\s]{1,250})>")
TAG_RE = re.compile(r"\[(INC\d{7,12})\]")
PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|aw|fwd?|wg|sv|vs|antw|tr|rif|r)(?:\[\d+\]|\(\d+\))?\s*[:：]\s*|\[external\]\s*)",
    re.IGNORECASE,
)
FORWARD_RE = re.compile(r"^\s*(?:re\s*:\s*)?(?:fwd?|wg|tr|doorst)\s*:", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_LINEBREAK_TAGS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h[1-6]|/table|hr)\b[^>]*>", re.IGNORECASE)
_ITEM_TAGS = re.compile(r"<\s*li\b[^>]*>", re.IGNORECASE)
# Where the quoted history starts in HTML replies (Outlook, Gmail, Thunderbird, Apple Mail).
_HTML_QUOTE = re.compile(
    r'<div[^>]*id="?(?:divRplyFwdMsg|appendonsend)"?|<div[^>]*class="?gmail_quote'
    r'|<blockquote[^>]*type="?cite"?|<div[^>]*class="?moz-cite-prefix'
    r"|<hr[^>]*id=\"?stopSpelling",
    re.IGNORECASE,
)
# Lines that start the quoted part of a plain-text reply.
_CUT_LINE = re.compile(
    r"^(?:"
    r"-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original)"
    r"\s*-{2,}"
    r"|_{20,}"
    r"|#+\s*-\s*please type your reply above this line\s*-\s*#+"
    r"|-{2,}\s*reply above this line\s*-{2,}"
    r"|-{2,}\s*bitte oberhalb dieser zeile antworten\s*-{2,}"
    r"|>.*"
    r")\s*$",
    re.IGNORECASE,
)
_WROTE = re.compile(
    r"^(?:on\s.{4,250}\swrote|am\s.{4,250}\sschrieb\s.{0,200}|le\s.{4,250}\sa\sécrit"
    r"|el\s.{4,250}\sescribió|op\s.{4,250}\sschreef)\s?:\s*$",
    re.IGNORECASE,
)
_FROM_LINE = re.compile(r"^\*?(?:from|von|de|van)\s*:\*?\s", re.IGNORECASE)
_SENT_LINE = re.compile(
    r"^\*?(?:sent|date|gesendet|datum|envoyé|enviado|verzonden)\s*:\*?\s", re.IGNORECASE
)


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 25 * 1024 * 1024
    max_headers: int = 1000
    max_parts: int = 200
    max_depth: int = 20
    max_attachments: int = 20
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_text_chars: int = 200_000
    # Wall-clock budget of one parse (M5: hostile mail parses in at most 10 s). Checked
    # between stages and parts; the size, header, part and depth limits keep each stage short.
    max_seconds: float = 10.0


class MailError(ValueError):
    """The message cannot be ingested; `str(exc)` says why (kept with the quarantined mail)."""


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: str  # lower-case address, "" when there is none
    sender_name: str
    recipients: tuple[str, ...]
    subject: str
    body: str  # the whole text
    reply: str  # the text without the quoted history (the body when nothing was quoted)
    content_type: str
    headers: dict[str, tuple[str, ...]]  # lower-case name -> decoded values, one line each
    attachments: tuple[MailAttachment, ...] = ()
    dropped: tuple[str, ...] = field(default=())  # attachments over the limits, with why
    body_hash: str = ""
    # Message-IDs of mail enclosed whole or as headers (message/rfc822, text/rfc822-headers):
    # in a delivery report, the message that bounced.
    enclosed_ids: tuple[str, ...] = ()
    delivery_status: str = ""  # a delivery report's action, status and diagnostic, one line

    @property
    def key(self) -> str:
        """The exactly-once key: the Message-ID, else a hash of the raw message."""
        return self.message_id or f"sha256:{self.body_hash}"

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """In-Reply-To first, then References newest first: the best match wins."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen:
                seen.append(mid)
        return tuple(seen)

    @property
    def tag(self) -> str | None:
        found = TAG_RE.search(self.subject)
        return found.group(1) if found else None


def one_line(value: str) -> str:
    """Header text as one line: CR, LF and other controls become spaces."""
    return re.sub(
        r"\s+", " ", _CONTROL.sub(" ", value.replace("\r", " ").replace("\n", " "))
    ).strip()


def clean_subject(subject: str) -> str:
    """The subject without Re:/AW:/Fwd: prefixes (repeated) and without our tag."""
    subject = TAG_RE.sub("", subject)
    previous = None
    while previous != subject:
        previous = subject
        subject = PREFIX_RE.sub("", subject)
    return one_line(subject)


def message_ids(value: str) -> tuple[str, ...]:
    found = tuple(f"<{m}>" for m in MSGID_RE.findall(value))
    if found:
        return found
    # Some systems strip the angle brackets: accept bare tokens that look like ids.
    return tuple(f"<{t}>" for t in value.split() if "@" in t and len(t) <= 250 and "<" not in t)


def _fix_surrogates(value: str) -> str:
    """Raw 8-bit header bytes come back as surrogates: decode them as UTF-8, else cp1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("ascii", "surrogateescape")
    return decode_bytes(raw, None)


def _header(msg: Message, name: str) -> list[str]:
    values: list[str] = []
    for raw_name, raw_value in msg.raw_items():
        if raw_name.lower() != name:
            continue
        text: str
        try:
            text = str(make_header(decode_header(str(raw_value))))
        except Exception:  # a broken encoded word: keep the raw text
            text = str(raw_value)
        values.append(one_line(_fix_surrogates(text)))
    return values


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip('"').lower()
    aliases = {
        "iso-8859-1": "cp1252",
        "latin1": "cp1252",
        "latin-1": "cp1252",
        "us-ascii": "ascii",
        "ascii": "ascii",
        "utf8": "utf-8",
        "x-unknown": "",
        "unknown-8bit": "",
        "gb2312": "gb18030",
        "gbk": "gb18030",
        "ks_c_5601-1987": "cp949",
        "shift_jis": "cp932",
        "windows-31j": "cp932",
    }
    name = aliases.get(name, name)
    if not name:
        return None
    try:
        "".encode(name)
    except LookupError:
        return None
    return name


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text from bytes in a declared (possibly wrong or missing) charset; never raises."""
    codec = _codec(declared)
    if b"\x1b$B" in data or b"\x1b$@" in data or b"\x1b(J" in data:
        codec = "iso2022_jp"  # ISO-2022-JP with or without a label
    is_ascii = data.isascii()
    if not is_ascii and codec in (None, "ascii", "cp1252"):
        try:  # mislabelled UTF-8 (the commonest case) is valid UTF-8
            return data.decode("utf-8")
        except UnicodeDecodeError:
            codec = codec if codec == "cp1252" else None
    for candidate in (codec, "utf-8", "cp1252"):
        if candidate is None:
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")


def html_to_text(markup: str) -> str:
    """Sanitised text of an HTML body: every tag removed by nh3, script/style dropped."""
    markup = _LINEBREAK_TAGS.sub("\n", markup)
    markup = _ITEM_TAGS.sub("\n- ", markup)
    cleaned = nh3.clean(markup, tags=set(), attributes={}, strip_comments=True)
    text = html.unescape(cleaned).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def trim_reply(text: str) -> str:
    """The new part of a reply: everything before the quoted history (or the whole text)."""
    lines = text.splitlines()
    cut = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        joined = f"{stripped} {lines[i + 1].strip()}" if i + 1 < len(lines) else stripped
        if _WROTE.match(stripped) or (_WROTE.match(joined) and not stripped.startswith(">")):
            cut = i
            break
        if _CUT_LINE.match(stripped):
            if stripped.startswith(">") and any(
                not rest.strip().startswith(">") and rest.strip() for rest in lines[i + 1 :]
            ):
                continue  # an interleaved answer: keep the whole text
            cut = i
            break
        if _FROM_LINE.match(stripped) and any(
            _SENT_LINE.match(nxt.strip()) for nxt in lines[i + 1 : i + 4]
        ):
            cut = i
            break
    kept = "\n".join(lines[:cut])
    if "\n-- \n" in f"\n{kept}\n":  # the signature separator (RFC 3676)
        kept = f"\n{kept}\n".split("\n-- \n", 1)[0]
    kept = kept.strip()
    return kept or text.strip()


class _Budget:
    """The parse's time budget (elapsed time, so the monotonic clock, not kernel.clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise MailError(f"parsing took longer than {self.seconds:g} s")


def _walk(msg: Message, limits: Limits, depth: int = 0) -> list[Message]:
    if depth > limits.max_depth:
        raise MailError(f"MIME nesting deeper than {limits.max_depth} levels")
    parts = [msg]
    if msg.is_multipart():
        payload = msg.get_payload()
        if not isinstance(payload, list):
            raise MailError("a multipart part without parts")
        for sub in payload:
            if isinstance(sub, Message):
                parts.extend(_walk(sub, limits, depth + 1))
                if len(parts) > limits.max_parts:
                    raise MailError(f"more than {limits.max_parts} MIME parts")
    return parts


_HEADER_MSGID = re.compile(r"(?im)^message-id:[ \t]*(<[^<>\s]{1,250}>)")
_STATUS_FIELDS = ("action", "status", "diagnostic-code")


def _enclosed(part: Message, ctype: str) -> tuple[list[str], list[str]]:
    """(Message-IDs, delivery-status words) a report part carries; nothing for other parts."""
    if ctype in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        subs = inner if isinstance(inner, list) else []
        return [m.group(1) for s in subs for m in _HEADER_MSGID.finditer(_head_text(s))], []
    if ctype in ("text/rfc822-headers", "message/rfc822-headers"):
        text = decode_bytes(_payload_bytes(part), None)
        return [m.group(1) for m in _HEADER_MSGID.finditer(text)], []
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        blocks = part.get_payload()
        found = [
            one_line(str(block.get(name, "")))[:200]
            for block in (blocks if isinstance(blocks, list) else [])
            if isinstance(block, Message)
            for name in _STATUS_FIELDS
            if block.get(name)
        ]
        return [], found
    return [], []


def _head_text(sub: object) -> str:
    if not isinstance(sub, Message):
        return ""
    return "\n".join(f"{k}: {v}" for k, v in sub.raw_items())


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return None
    name = _fix_surrogates(str(name))
    if "=?" in name:  # RFC 2047 inside a parameter: wrong but common (Outlook)
        with contextlib.suppress(Exception):  # undecodable: keep the name as it is
            name = str(make_header(decode_header(name)))
    return one_line(name)[:200] or None


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    try:
        return [(n, a.lower()) for n, a in getaddresses(values) if "@" in a]
    except Exception:
        return []


def _content_hash(sender: str, date: list[str], subject: str, body: str) -> str:
    """The key of a message without Message-ID: who, when, what (not the Received trail)."""
    text = "\x1f".join((sender, " ".join(date), subject, body))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def raw_key(raw: bytes) -> str:
    """A key for mail that cannot be parsed: its Message-ID if one is visible, else a hash."""
    head = raw[:65536].split(b"\n\n", 1)[0].decode("latin-1")
    # no control characters: the key is stored as text (PostgreSQL refuses NUL)
    found = re.search(r"(?im)^message-id:[ \t]*(<[^<>\s\x00-\x1f\x7f]{1,250}>)", head)
    return found.group(1) if found else f"sha256:{hashlib.sha256(raw).hexdigest()}"


def parse(raw: bytes, limits: Limits | None = None) -> ParsedMail:
    """One message; raises MailError for mail that must be quarantined."""
    limits = limits or Limits()
    if len(raw) > limits.max_bytes:
        raise MailError(f"the message is larger than {limits.max_bytes} bytes")
    if not raw.strip():
        raise MailError("the message is empty")
    head_end = raw.find(b"\n\n")
    head = raw if head_end < 0 else raw[:head_end]
    if head.count(b"\n") > limits.max_headers * 4:
        raise MailError(f"more than {limits.max_headers} header lines")
    if raw.lower().count(b"multipart/") > limits.max_parts:
        # each nested multipart declares itself: refuse deep or wide trees before the
        # standard library's recursive parser spends seconds on them
        raise MailError(f"more than {limits.max_parts} MIME parts")
    budget = _Budget(limits.max_seconds)
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; this is a last line of defence
        raise MailError(f"unparseable message: {exc.__class__.__name__}") from exc
    budget.check()
    if len(msg.keys()) > limits.max_headers:
        raise MailError(f"more than {limits.max_headers} headers")
    if not msg.keys():
        raise MailError("the message has no headers")
    headers: dict[str, list[str]] = {}
    for name in {k.lower() for k in msg}:
        headers[name] = _header(msg, name)
    ids = message_ids(" ".join(headers.get("message-id", [])))
    senders = _addresses(headers.get("from", [])) or _addresses(headers.get("sender", []))
    sender_name, sender = senders[0] if senders else ("", "")
    recipients = tuple(a for _, a in _addresses(headers.get("to", []) + headers.get("cc", [])))
    plain: list[str] = []
    markup: list[str] = []
    attachments: list[MailAttachment] = []
    dropped: list[str] = []
    enclosed: list[str] = []
    status: list[str] = []
    for part in _walk(msg, limits):
        budget.check()
        ctype = part.get_content_type()
        ids_in, status_in = _enclosed(part, ctype)
        enclosed += ids_in
        status += status_in
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            text = decode_bytes(_payload_bytes(part), part.get_param("charset"))  # type: ignore[arg-type]
            (plain if ctype == "text/plain" else markup).append(text)
            continue
        if ctype == "message/rfc822" or (ctype.startswith("message/") and not filename):
            continue  # an attached mail's parts are walked above
        if ctype == "text/rfc822-headers":
            continue  # a delivery report's copy of the headers: read above
        data = _payload_bytes(part)
        label = filename or f"attachment-{len(attachments) + len(dropped) + 1}"
        if not data:
            continue
        if len(attachments) >= limits.max_attachments:
            dropped.append(f"{label}: more than {limits.max_attachments} attachments")
        elif len(data) > limits.max_attachment_bytes:
            dropped.append(f"{label}: larger than {limits.max_attachment_bytes} bytes")
        else:
            attachments.append(MailAttachment(label, ctype, data))
    subject = one_line(" ".join(headers.get("subject", [])))[:500]
    budget.check()
    if plain:
        body = "\n\n".join(p.replace("\r\n", "\n").replace("\r", "\n").strip() for p in plain)
        reply = trim_reply(body)
    elif markup:
        whole = "\n".join(markup)
        body = html_to_text(whole)
        found = _HTML_QUOTE.search(whole)
        reply = trim_reply(html_to_text(whole[: found.start()])) if found else trim_reply(body)
        reply = reply or body
    else:
        body = reply = ""
    budget.check()
    if FORWARD_RE.match(subject):
        reply = body  # a forward's quoted part is what the sender wants us to read
    body = body.replace("\x00", "")[: limits.max_text_chars]
    reply = reply.replace("\x00", "")[: limits.max_text_chars]
    return ParsedMail(
        message_id=ids[0] if ids else None,
        in_reply_to=message_ids(" ".join(headers.get("in-reply-to", []))),
        references=message_ids(" ".join(headers.get("references", [])))[-50:],
        sender=sender,
        sender_name=one_line(sender_name)[:200],
        recipients=recipients,
        subject=subject,
        body=body,
        reply=reply,
        content_type=msg.get_content_type(),
        headers={k: tuple(v) for k, v in headers.items()},
        attachments=tuple(attachments),
        dropped=tuple(dropped),
        body_hash=_content_hash(sender, headers.get("date", []), subject, body),
        enclosed_ids=tuple(dict.fromkeys(enclosed))[:20],
        delivery_status=" ".join(status)[:500],
    )


__all__ = [
    "Limits",
    "MailAttachment",
    "MailError",
    "ParsedMail",
    "clean_subject",
    "decode_bytes",
    "html_to_text",
    "message_ids",
    "parse",
    "raw_key",
    "trim_reply",
]
