"""Email: build a plain-text message that threads per incident, and send it by SMTP.

No user-supplied text reaches a header unchecked: header values are collapsed to one line
(CR, LF and every other control character become spaces) and addresses must be exactly one
plain ``local@domain`` without any control character, whitespace or list separator, so a
short description or a name with ``\\r\\nBcc: x`` can neither add a header nor a recipient.
The envelope recipients are given to SMTP explicitly; headers never decide who gets a mail.

Without ``smtp_host`` an email notification becomes a dead letter at its first attempt
("SMTP is not configured"): it stays visible in the outbox and an admin can retry it once
SMTP is set up, and the worker never loops on mail it cannot send.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr
from types import TracebackType

from dutydesk.config import Settings
from dutydesk.notify.channels import Outcome
from dutydesk.notify.templates import one_line

MESSAGE_ID_RE = re.compile(r"^<[A-Za-z0-9._\-]{1,100}@[A-Za-z0-9.\-]{1,100}>$")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029,;<>\"()\[\]\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NOT_CONFIGURED = "SMTP is not configured (DUTYDESK_SMTP_HOST is empty)"


class BadAddress(ValueError):
    """An address that is not exactly one plain mailbox."""


class BadSetting(ValueError):
    """DUTYDESK_MAIL_FROM is not one mailbox: every mail waits until it is fixed."""


def check_address(raw: str) -> str:
    """`raw` if it is one plain address (local@domain), else BadAddress.

    parseaddr alone is not enough: it silently drops whatever follows a CR/LF or a comma
    ("a@x\\r\\nBcc: b@y" parses as "a@x"), so anything but the bare address is refused.
    """
    if not raw or len(raw) > 254 or _UNSAFE.search(raw) or raw.count("@") != 1:
        raise BadAddress(f"not a single plain e-mail address: {raw!r}")
    name, addr = parseaddr(raw)
    if name or addr != raw or len(getaddresses([raw])) != 1:
        raise BadAddress(f"not a single plain e-mail address: {raw!r}")
    local, _, domain = raw.rpartition("@")
    try:
        Address(username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise BadAddress(f"not a valid e-mail address: {raw!r}") from exc
    if not local or not domain or domain.startswith(".") or domain.endswith("."):
        raise BadAddress(f"not a valid e-mail address: {raw!r}")
    return raw


def sender(settings: Settings) -> Address:
    """The From mailbox of settings.mail_from ('Name <addr>' or 'addr')."""
    raw = settings.mail_from
    try:
        if _CONTROL.search(raw) or len(getaddresses([raw])) != 1:
            raise BadAddress(raw)
        name, addr = parseaddr(raw)
        local, _, domain = check_address(addr).rpartition("@")
    except BadAddress as exc:
        raise BadSetting(f"DUTYDESK_MAIL_FROM is not one mailbox: {raw!r}") from exc
    return Address(display_name=one_line(name), username=local, domain=domain)


def build_message(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    thread_id: str | None,
    date: datetime,
) -> EmailMessage:
    """The message of one notification; raises BadAddress for an unusable recipient or
    message id, BadSetting for an unusable From."""
    recipient = check_address(to)
    local, _, domain = recipient.rpartition("@")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender(settings)
    msg["To"] = Address(username=local, domain=domain)
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(date)
    for name, value in (("Message-ID", message_id), ("In-Reply-To", thread_id)):
        if value is None:
            continue
        if not MESSAGE_ID_RE.match(value):
            raise BadAddress(f"not a valid message id: {value!r}")
        msg[name] = value
    if thread_id is not None:
        msg["References"] = thread_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders stay quiet
    msg["X-Auto-Response-Suppress"] = "All"  # the same for Exchange
    msg.set_content(body.replace("\r\n", "\n").replace("\r", "\n"), charset="utf-8")
    return msg


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class SmtpSender:
    """One SMTP connection reused for a batch of messages; reconnects when it went stale."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password)
        return smtp

    def send(self, msg: EmailMessage, recipient: str) -> Outcome:
        """Deliver to the server; a refusal of this recipient or message is permanent,
        anything else (connection, timeout, 4xx, authentication) is retried. A reused
        connection the server has dropped meanwhile is replaced once, at once."""
        if not self.settings.smtp_host:
            return Outcome.dead(NOT_CONFIGURED)
        if self.settings.smtp_security not in ("none", "starttls", "tls"):
            return Outcome.retry(f"unknown smtp_security {self.settings.smtp_security!r}")
        envelope_from = msg["From"].addresses[0].addr_spec
        while True:
            reused = self._smtp is not None
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.send_message(msg, from_addr=envelope_from, to_addrs=[recipient])
                return Outcome.sent()
            except smtplib.SMTPRecipientsRefused as exc:  # the session stays usable (RSET)
                code, reply = next(iter(exc.recipients.values()))
                text = f"recipient refused: {code} {_text(reply)}"
                return Outcome.dead(text) if code >= 500 else Outcome.retry(text)
            except smtplib.SMTPDataError as exc:
                text = f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}"
                return Outcome.dead(text) if exc.smtp_code >= 500 else Outcome.retry(text)
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if not reused:
                    return Outcome.retry(f"SMTP error: {type(exc).__name__}: {exc}")
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                return Outcome.retry(f"SMTP error: {type(exc).__name__}: {exc}")
