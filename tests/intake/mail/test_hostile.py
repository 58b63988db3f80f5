"""M5, hostile mail: mutated copies of the golden corpus (byte flips, truncation, duplicated
headers, damaged boundaries, extra nesting, spliced messages, stray bytes) go through
`ingest_mail`; it never raises, and every message ends recorded, or quarantined with its
exact raw bytes. Plus a 500,000-header message and a 1,000-deep MIME nesting, each parsed
(and quarantined) within the 10 s parse limit.

The mutator is seeded, so a failure names a reproducible case. `make test` runs 1,000
messages; `DUTYDESK_MAIL_FUZZ=10000` runs the goal's 10,000 (make bench does).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from dutydesk.intake.mail.parse import Limits, MailError, parse
from dutydesk.intake.mail.service import MailOutcome, Outcome, ingest_mail
from dutydesk.models import MailMessage, MailQuarantine
from tests.intake.mail.conftest import DOMAIN, World

CORPUS = Path(__file__).parent / "corpus"
COUNT = int(os.environ.get("DUTYDESK_MAIL_FUZZ", "1000"))
SEED = int(os.environ.get("DUTYDESK_MAIL_FUZZ_SEED", "20261206"))
BATCH = 50
PARSE_LIMIT = Limits().max_seconds
Mutation = Callable[[random.Random, bytes, list[bytes]], bytes]


def _flip(rng: random.Random, raw: bytes, _: list[bytes]) -> bytes:
    data = bytearray(raw or b"x")
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _truncate(rng: random.Random, raw: bytes, _: list[bytes]) -> bytes:
    return raw[: rng.randrange(len(raw) + 1)]


def _duplicate_headers(rng: random.Random, raw: bytes, _: list[bytes]) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    picked = [rng.choice(lines) for _ in range(rng.randint(1, 30))]
    lines[rng.randrange(len(lines) + 1) : 0] = picked
    return b"\r\n".join(lines) + sep + body


def _damage_boundary(rng: random.Random, raw: bytes, _: list[bytes]) -> bytes:
    for marker in (b"boundary=", b"\r\n--", b"--\r\n"):
        at = raw.find(marker, rng.randrange(len(raw) + 1))
        if at >= 0:
            cut = at + rng.randrange(len(marker) + 4)
            return raw[:at] + rng.choice([b"", b"--", b"\r\n", b'"', b"boundary=\r\n"]) + raw[cut:]
    return raw + b"\r\n--broken--\r\n"


def _nest(rng: random.Random, raw: bytes, _: list[bytes]) -> bytes:
    depth = rng.choice([1, 3, 19, 21, 60])
    head = b"From: dave@example.com\r\nMessage-ID: <nest-%d@x>\r\n" % rng.randrange(10**9)
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="z%d"\r\n\r\n--z%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--z%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + raw + closing


def _splice(rng: random.Random, raw: bytes, corpus: list[bytes]) -> bytes:
    other = rng.choice(corpus)
    return raw[: rng.randrange(len(raw) + 1)] + other[rng.randrange(len(other) + 1) :]


def _stray(rng: random.Random, raw: bytes, _: list[bytes]) -> bytes:
    junk = rng.choice(
        [b"\x00" * 5, b"\xff\xfe", b"=?utf-8?b?!!!?=", b"\r\r\n\n", "é€\u2028".encode(), b"\x1b$B"]
    )
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + junk + raw[at:]


MUTATIONS: list[Mutation] = [
    _flip,
    _truncate,
    _duplicate_headers,
    _damage_boundary,
    _nest,
    _splice,
    _stray,
]


def corpus(world: World) -> list[bytes]:
    found = []
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes()
        for key, value in (("{{A}}", world.a), ("{{R}}", world.r), ("{{DOMAIN}}", DOMAIN)):
            raw = raw.replace(key.encode(), value.encode())
        found.append(raw)
    return found


def mutants(world: World, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    base = [raw for raw in corpus(world) if raw]
    out = []
    for _ in range(count):
        raw = rng.choice(base)
        for _ in range(rng.randint(1, 3)):
            raw = rng.choice(MUTATIONS)(rng, raw, base)
        out.append(raw)
    return out


def check(world: World, sent: list[tuple[bytes, MailOutcome]]) -> None:
    with world.db.unit_of_work(write=False) as s:
        for raw, result in sent:
            record = s.get(MailMessage, result.record_id)
            assert record is not None, result
            if result.outcome == Outcome.duplicate:
                continue  # an earlier message had the same key: that one is recorded
            assert record.outcome == result.outcome.value
            if result.outcome in (Outcome.quarantined, Outcome.held):
                held = s.get(MailQuarantine, record.quarantine_id)
                assert held is not None and held.raw == raw


def test_mutated_corpus_never_raises_and_loses_nothing(world: World) -> None:
    messages = mutants(world, COUNT, SEED)
    seen: dict[str, int] = {}
    slowest = 0.0
    for start in range(0, len(messages), BATCH):
        sent = []
        with world.db.unit_of_work() as s:
            for n, raw in enumerate(messages[start : start + BATCH], start):
                began = time.monotonic()
                try:
                    # a mailbox per message: mutants keeping their Message-ID are routed too
                    result = ingest_mail(s, world.settings, f"fuzz-{n}", raw)
                except Exception as exc:  # reported with the seed and index to reproduce
                    raise AssertionError(f"message {n} (seed {SEED}) raised {exc!r}") from exc
                slowest = max(slowest, time.monotonic() - began)
                sent.append((raw, result))
                seen[result.outcome.value] = seen.get(result.outcome.value, 0) + 1
        check(world, sent)
    print(f"\nmail fuzz: {COUNT} messages, seed {SEED}, slowest {slowest:.3f} s, {seen}")
    assert sum(seen.values()) == COUNT
    assert slowest < PARSE_LIMIT
    # the mutations reach both sides: some mail still routes, some is quarantined
    assert seen.get("quarantined", 0) > 0
    assert seen.get("created", 0) + seen.get("commented", 0) > 0


def huge_header_message() -> bytes:
    head = b"From: dave@example.com\r\nSubject: many headers\r\nMessage-ID: <many@x>\r\n"
    return head + b"".join(b"X-H%d: v\r\n" % i for i in range(500_000)) + b"\r\nbody\r\n"


def deep_message(depth: int = 1000) -> bytes:
    head = b"From: dave@example.com\r\nSubject: deep\r\nMessage-ID: <deep-1000@x>\r\n"
    nest = b"".join(
        b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (i, i + 1)
        for i in range(depth)
    )
    top = b'Content-Type: multipart/mixed; boundary="n0"\r\n\r\n'
    return head + top + nest + b"--n%d\r\nContent-Type: text/plain\r\n\r\nbottom\r\n" % depth


def test_pathological_messages_are_quarantined_within_the_parse_limit(world: World) -> None:
    for raw, why in (
        (huge_header_message(), "header"),
        (deep_message(), "MIME parts"),
    ):
        began = time.monotonic()
        try:
            parse(raw)
        except MailError as exc:
            assert why in str(exc)
        else:
            raise AssertionError("a pathological message parsed")
        assert time.monotonic() - began < PARSE_LIMIT
        began = time.monotonic()
        result = world.ingest(raw)
        assert time.monotonic() - began < PARSE_LIMIT
        assert result.outcome == Outcome.quarantined and why in result.reason
        with world.db.unit_of_work(write=False) as s:
            held = s.scalars(
                select(MailQuarantine).where(MailQuarantine.id == _quarantine_id(world, result))
            ).one()
            assert held.raw == raw


def _quarantine_id(world: World, result: MailOutcome) -> int | None:
    with world.db.unit_of_work(write=False) as s:
        record = s.get(MailMessage, result.record_id)
        return record.quarantine_id if record else None


def test_the_parse_time_limit_is_enforced() -> None:
    """A budget of zero seconds: even a small, valid message is refused by the limit."""
    raw = b"From: dave@example.com\r\nSubject: x\r\n\r\nhello\r\n"
    try:
        parse(raw, Limits(max_seconds=0.0))
    except MailError as exc:
        assert "longer than 0 s" in str(exc)
    else:
        raise AssertionError("the time limit was not checked")


def test_a_nul_in_the_message_id_of_unparseable_mail_is_not_stored(world: World) -> None:
    """Found by the 10,000-message run on PostgreSQL (seed 20261206, message 7098): the key
    of mail that does not parse came from the raw header and kept a NUL byte."""
    raw = b"Message-ID: <n\x00\x00id@x.example>\r\n" + b"X-H: v\r\n" * 5000 + b"\r\nbody\r\n"
    result = world.ingest(raw)
    assert result.outcome == Outcome.quarantined
    with world.db.unit_of_work(write=False) as s:
        record = s.get(MailMessage, result.record_id)
        assert record is not None and "\x00" not in record.message_key
        held = s.get(MailQuarantine, record.quarantine_id)
        assert held is not None and held.raw == raw
