"""Pure loop rules and parsing details (M1, M4)."""

from __future__ import annotations

import pytest

from dutydesk.intake.mail import loops
from dutydesk.intake.mail.parse import clean_subject, decode_bytes, parse, trim_reply
from tests.intake.mail.conftest import message

OWN = loops.own_addresses("DutyDesk <dutydesk@localhost>", "desk@desk.example, help@x.example")


@pytest.mark.parametrize(
    ("headers", "sender", "looping"),
    [
        ({}, "dave@example.com", False),
        ({"Auto-Submitted": "no"}, "dave@example.com", False),
        ({"Auto-Submitted": "auto-replied"}, "dave@example.com", True),
        ({"Auto-Submitted": "auto-generated; owner-email=x"}, "dave@example.com", True),
        ({"Precedence": "bulk"}, "dave@example.com", True),
        ({"Precedence": "junk"}, "dave@example.com", True),
        ({"Precedence": "list"}, "dave@example.com", True),
        ({"Precedence": "first-class"}, "dave@example.com", False),
        ({"X-Autoreply": "yes"}, "dave@example.com", True),
        ({}, "help@x.example", True),
        ({}, "MAILER-DAEMON@mx.example.com", True),
        ({"X-Loop": "desk@desk.example"}, "dave@example.com", True),
    ],
)
def test_loop_rules(headers: dict[str, str], sender: str, looping: bool) -> None:
    mail = parse(message(sender, headers=headers))
    assert (loops.loop_reason(mail, OWN) is not None) is looping


def test_rate_limit_rule() -> None:
    assert loops.may_answer(10, 10) and not loops.may_answer(11, 10)


@pytest.mark.parametrize(
    ("subject", "clean"),
    [
        ("Re: AW: Fwd: [INC0000012] Printer", "Printer"),
        ("RE[2]: WG: Drucker", "Drucker"),
        ("[EXTERNAL] Re: VPN", "VPN"),
        ("SV: Skrivare", "Skrivare"),
    ],
)
def test_clean_subject(subject: str, clean: str) -> None:
    assert clean_subject(subject) == clean


@pytest.mark.parametrize(
    ("data", "label", "text"),
    [
        ("Grüße".encode("cp1252"), "utf-8", "Grüße"),
        ("Grüße".encode(), "iso-8859-1", "Grüße"),
        ("Grüße".encode(), None, "Grüße"),
        ("日本語".encode("iso2022_jp"), None, "日本語"),
        ("日本語".encode("iso2022_jp"), "us-ascii", "日本語"),
        (b"\x93quoted\x94", "iso-8859-1", "\u201cquoted\u201d"),
        (b"plain", "x-unknown-charset", "plain"),
    ],
)
def test_decode_bytes(data: bytes, label: str | None, text: str) -> None:
    assert decode_bytes(data, label) == text


def test_trim_keeps_everything_when_nothing_is_quoted() -> None:
    assert trim_reply("Just text.\nTwo lines.") == "Just text.\nTwo lines."


def test_bounce_rules_and_the_ids_they_name() -> None:
    plain = parse(
        message(
            "MAILER-DAEMON@mx.example.com",
            subject="failure notice",
            body="Could not deliver.\n\n> Message-ID: <abc.INC0000001@desk.example>\n",
            message_id="<dsn@mx>",
            headers={"In-Reply-To": "<dsn@mx> <t.INC0000001@desk.example>"},
        )
    )
    assert loops.is_bounce(plain)
    # the quoted original first, then the report's references; never the report itself
    assert loops.bounced_ids(plain) == (
        "<abc.INC0000001@desk.example>",
        "<t.INC0000001@desk.example>",
    )
    report = (
        "From: dave@example.com\r\nMessage-ID: <mdn@x>\r\nContent-Type: multipart/report; "
        'report-type={kind}; boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\n'
        "about your mail\r\n--r--\r\n"
    )
    receipt = parse(report.format(kind="disposition-notification").encode())
    assert receipt.content_type == "multipart/report"
    assert loops.is_bounce(parse(report.format(kind="delivery-status").encode()))
    assert not loops.is_bounce(receipt)
    assert not loops.is_bounce(parse(message()))
