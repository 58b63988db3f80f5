"""Attachments: stored under random names, size-limited, typed by content (never by the
client's word), served as downloads, safe against path tricks in names, and scoped to
their incident and to what the caller may see."""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.app import create_app
from dutydesk.models import Attachment
from tests.factories import act, new_incident

API = "/api/v1"
STORAGE_NAME = re.compile(r"^[0-9a-f]{32}$")
# Types a browser renders or runs; a download must never be served as one of these.
ACTIVE = ("text/html", "image/svg+xml", "application/xml", "text/xml", "application/xhtml+xml")


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


PNG = png_bytes()
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def url_of(number: str) -> str:
    return f"{API}/incidents/{number}/attachments"


def upload(
    client: TestClient,
    who: Any,
    number: str,
    name: str,
    data: bytes,
    declared: str = "text/html",
    visibility: str | None = None,
) -> Any:
    form = {"visibility": visibility} if visibility is not None else None
    return client.post(
        url_of(number), files={"file": (name, data, declared)}, data=form, headers=who.headers
    )


def upload_raw(
    client: TestClient,
    who: Any,
    number: str,
    filename: bytes,
    data: bytes,
    declared: bytes = b"application/octet-stream",
) -> Any:
    """A hand-made multipart body, so the filename reaches the server byte for byte."""
    boundary = "ddtest" + secrets.token_hex(8)
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\n'
        + b"Content-Type: "
        + declared
        + b"\r\n\r\n"
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {**who.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return client.post(url_of(number), content=body, headers=headers)


def stored_files(settings: Any) -> list[Path]:
    root = Path(settings.storage_dir)
    return sorted(root.iterdir()) if root.exists() else []


def assert_download_headers(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    served = response.headers["content-type"].split(";")[0].strip().lower()
    assert served not in ACTIVE, served
    assert "sandbox" in response.headers.get("content-security-policy", "")


@pytest.fixture
def number(client: TestClient, cast: Any) -> str:
    """An incident of dave's (Acme), assigned to the Service Desk (alice)."""
    return str(
        new_incident(
            client,
            cast.alice,
            caller_id=cast.dave.id,
            assignment_group_id=cast.desk.id,
            category_id=cast.hardware.id,
        )["number"]
    )


# ----------------------------------------------------------------- content types


def test_a_png_declared_as_html_is_stored_and_served_as_png(client, cast, number, settings) -> None:
    r = upload(client, cast.alice, number, "photo.html", PNG, declared="text/html")
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["content_type"] == "image/png"
    assert a["size"] == len(PNG) and a["sha256"] == hashlib.sha256(PNG).hexdigest()
    got = client.get(f"{url_of(number)}/{a['id']}", headers=cast.dave.headers)
    assert_download_headers(got)
    assert got.headers["content-type"] == "image/png"
    assert got.content == PNG


@pytest.mark.parametrize(
    ("data", "declared", "stored"),
    [
        (HTML, "image/png", "text/html"),
        (b"  \n<!doctype HTML><p onmouseover=alert(1)>hi", "text/plain", "text/html"),
        (b"<script>alert(1)</script>", "application/pdf", "text/html"),
        (SVG, "image/png", "image/svg+xml"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            "image/svg+xml",
            "image/svg+xml",
        ),
    ],
    ids=["html", "html-lowercase-doctype", "bare-script", "svg-with-prolog", "svg"],
)
def test_active_content_is_sniffed_and_served_as_an_opaque_download(
    client, cast, number, data, declared, stored
) -> None:
    r = upload(client, cast.alice, number, "innocent.png", data, declared=declared)
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == stored
    got = client.get(f"{url_of(number)}/{r.json()['id']}", headers=cast.alice.headers)
    assert_download_headers(got)
    assert got.headers["content-type"].startswith("application/octet-stream")
    assert got.content == data


@pytest.mark.parametrize(
    ("data", "stored"),
    [
        (b"just some log lines\n", "text/plain"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (bytes(range(256)) * 4, "application/octet-stream"),
    ],
    ids=["text", "pdf", "binary"],
)
def test_the_declared_type_is_ignored(client, cast, number, data, stored) -> None:
    r = upload(client, cast.alice, number, "file.html", data, declared="text/html")
    assert r.status_code == 201 and r.json()["content_type"] == stored
    got = client.get(f"{url_of(number)}/{r.json()['id']}", headers=cast.alice.headers)
    assert_download_headers(got)
    assert got.content == data


@pytest.mark.parametrize(
    "data",
    [
        HTML,
        SVG,
        b"\xef\xbb\xbf<!DOCTYPE html><script>alert(1)</script>",  # BOM first
        b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
        b"<?xml version='1.0'?><!-- "
        + b"x" * 600
        + b" --><svg xmlns='http://www.w3.org/2000/svg'/>",
        b"<body onload=alert(1)>",
    ],
    ids=["html", "svg", "bom-html", "xhtml", "late-svg", "body"],
)
def test_no_upload_is_ever_served_as_renderable_markup(client, cast, number, data) -> None:
    r = upload(client, cast.alice, number, "page.xhtml", data, declared="application/xhtml+xml")
    assert r.status_code == 201, r.text
    assert_download_headers(
        client.get(f"{url_of(number)}/{r.json()['id']}", headers=cast.alice.headers)
    )


# ----------------------------------------------------------------- size


@pytest.fixture
def small_client(settings, db) -> Iterator[TestClient]:
    settings.max_attachment_bytes = 1024
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        yield c


def test_the_size_limit_is_413_and_stores_nothing(small_client, cast, settings) -> None:
    number = new_incident(small_client, cast.alice, caller_id=cast.dave.id)["number"]
    events = len(
        small_client.get(f"{API}/incidents/{number}/events", headers=cast.alice.headers).json()
    )
    exact = upload(small_client, cast.alice, number, "exact.txt", b"a" * 1024, "text/plain")
    assert exact.status_code == 201, exact.text
    files = stored_files(settings)
    for size in (1025, 4096, 1024 + 200_000):  # just over, over, over the request limit too
        r = upload(small_client, cast.alice, number, "big.txt", b"a" * size, "text/plain")
        assert r.status_code == 413, (size, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert stored_files(settings) == files
    listed = small_client.get(url_of(number), headers=cast.alice.headers).json()
    assert [a["filename"] for a in listed] == ["exact.txt"]
    after = len(
        small_client.get(f"{API}/incidents/{number}/events", headers=cast.alice.headers).json()
    )
    assert after == events + 1


def test_an_oversized_chunked_upload_is_413(small_client, cast, settings) -> None:
    """Without Content-Length the body limit is enforced while reading: still 413."""
    number = new_incident(small_client, cast.alice, caller_id=cast.dave.id)["number"]
    boundary = "ddtestchunked"
    disposition = 'Content-Disposition: form-data; name="file"; filename="big.bin"'
    head = f"--{boundary}\r\n{disposition}\r\n\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(40):
            yield b"a" * 8192  # 320 KiB, far over the 1 KiB (+64 KiB form overhead) limit
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**cast.alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = small_client.post(url_of(number), content=body(), headers=headers)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413, (r.status_code, r.text)
    assert stored_files(settings) == []


def test_an_empty_file_is_refused(client, cast, number, settings) -> None:
    r = upload(client, cast.alice, number, "empty.txt", b"", "text/plain")
    assert r.status_code == 422, r.text
    assert stored_files(settings) == []


# ----------------------------------------------------------------- names and storage


def _label(name: bytes) -> str:
    return name.decode("utf-8", "replace")


TRICKY_NAMES: list[tuple[bytes, str | None]] = [
    (b"../../../../etc/passwd", "passwd"),
    (b"..\\..\\..\\windows\\win.ini", "win.ini"),
    (b"C:\\Users\\Public\\evil.exe", "evil.exe"),
    (b"/absolute/path/report.txt", "report.txt"),
    (b"a\x00b.txt", "ab.txt"),
    (b"nul\x00/../../x.txt", "x.txt"),
    (b"tab\there\x1b[31m.txt", None),
    (b"x" * 1000 + b".txt", None),
    ("résumé – 報告 📎.pdf".encode(), "résumé – 報告 📎.pdf"),
    (unicodedata.normalize("NFD", "Café.txt").encode(), "Café.txt"),
    ("ﬁle／with\u202efdp.exe".encode(), None),  # fullwidth solidus, RTL override
    (b"..", "attachment"),
    (b".", "attachment"),
    (b"/", "attachment"),
    (b"", "attachment"),
    (b"%2e%2e%2fetc%2fpasswd", "%2e%2e%2fetc%2fpasswd"),
    (b'quote".txt', None),
]


@pytest.mark.parametrize(
    ("raw", "expected"), TRICKY_NAMES, ids=[repr(_label(n))[:40] for n, _ in TRICKY_NAMES]
)
def test_path_tricks_in_names_are_harmless(
    client, cast, number, settings, db, tmp_path, raw, expected
) -> None:
    data = b"payload " + secrets.token_bytes(8)
    r = upload_raw(client, cast.alice, number, raw, data)
    assert r.status_code == 201, r.text
    name = r.json()["filename"]
    assert name and name not in (".", "..")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not any(unicodedata.category(ch) == "Cc" for ch in name)
    assert not any(
        ch in name for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )  # bidi
    assert len(name) <= 255
    if expected is not None:
        assert name == expected
    if len(raw) > 255:
        assert name.endswith(".txt")

    # On disk: one file, with a random name, directly inside the storage directory.
    files = stored_files(settings)
    assert len(files) == 1 and files[0].is_file()
    assert STORAGE_NAME.match(files[0].name) and files[0].read_bytes() == data
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert everything == files, "a file was written outside the storage directory"
    with db.unit_of_work(write=False) as s:
        row = s.execute(
            select(Attachment.storage_name, Attachment.filename).where(
                Attachment.id == r.json()["id"]
            )
        ).one()
    assert tuple(row) == (files[0].name, name)

    # Served under the cleaned name, in one well-formed header.
    got = client.get(f"{url_of(number)}/{r.json()['id']}", headers=cast.alice.headers)
    assert_download_headers(got)
    disposition = got.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition and disposition.isascii()
    quoted = re.fullmatch(r'attachment; filename="([^"]*)"; filename\*=UTF-8\'\'(\S+)', disposition)
    assert quoted is not None, disposition
    assert unquote(quoted.group(2)) == name


def test_files_get_random_names_even_when_names_repeat(client, cast, number, settings, db) -> None:
    ids = [
        upload(client, cast.alice, number, "same.txt", f"copy {i}".encode(), "text/plain").json()[
            "id"
        ]
        for i in range(3)
    ]
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(Attachment.id, Attachment.storage_name, Attachment.filename).where(
                Attachment.id.in_(ids)
            )
        ).all()
    names = {storage_name for _id, storage_name, _name in rows}
    assert len(names) == 3 and all(STORAGE_NAME.match(n) for n in names)
    assert {p.name for p in stored_files(settings)} == names
    for attachment_id, storage_name, filename in rows:
        assert (
            Path(settings.storage_dir) / storage_name
        ).read_bytes() == f"copy {ids.index(attachment_id)}".encode()
        assert filename == "same.txt"


def test_a_file_missing_from_storage_is_404(client, cast, number, settings) -> None:
    r = upload(client, cast.alice, number, "gone.txt", b"soon gone", "text/plain")
    for path in stored_files(settings):
        path.unlink()
    assert (
        client.get(f"{url_of(number)}/{r.json()['id']}", headers=cast.alice.headers).status_code
        == 404
    )


# ----------------------------------------------------------------- who sees what


def test_requesters_cannot_see_internal_attachments(client, cast, number) -> None:
    public = upload(client, cast.alice, number, "public.txt", b"for everyone", "text/plain").json()
    internal = upload(
        client,
        cast.alice,
        number,
        "internal.txt",
        b"agents only",
        "text/plain",
        visibility="work_note",
    )
    assert internal.status_code == 201 and internal.json()["visibility"] == "work_note"
    internal_id = internal.json()["id"]

    assert [a["id"] for a in client.get(url_of(number), headers=cast.dave.headers).json()] == [
        public["id"]
    ]
    assert (
        client.get(f"{url_of(number)}/{internal_id}", headers=cast.dave.headers).status_code == 404
    )
    assert (
        client.get(f"{url_of(number)}/{public['id']}", headers=cast.dave.headers).status_code == 200
    )
    assert {a["id"] for a in client.get(url_of(number), headers=cast.alice.headers).json()} == {
        public["id"],
        internal_id,
    }
    assert (
        client.get(f"{url_of(number)}/{internal_id}", headers=cast.alice.headers).status_code == 200
    )
    events = client.get(f"{API}/incidents/{number}/events", headers=cast.dave.headers).json()
    assert "internal_attachment" not in {e["kind"] for e in events}
    assert "internal.txt" not in str(events)
    # A requester cannot file an internal attachment.
    r = upload(client, cast.dave, number, "mine.txt", b"x", "text/plain", visibility="work_note")
    assert r.status_code == 403, r.text
    assert upload(client, cast.dave, number, "mine.txt", b"x", "text/plain").status_code == 201


def test_an_attachment_id_of_another_incident_is_404(client, cast, number) -> None:
    other = new_incident(
        client, cast.alice, caller_id=cast.dave.id, assignment_group_id=cast.desk.id
    )["number"]
    theirs = upload(client, cast.alice, other, "other.txt", b"other incident", "text/plain").json()[
        "id"
    ]
    mine = upload(client, cast.alice, number, "mine.txt", b"this incident", "text/plain").json()[
        "id"
    ]
    for who in (cast.alice, cast.dave, cast.bob):
        assert client.get(f"{url_of(number)}/{theirs}", headers=who.headers).status_code == 404
        assert client.get(f"{url_of(other)}/{mine}", headers=who.headers).status_code == 404
        assert client.get(f"{url_of(number)}/{mine}", headers=who.headers).status_code == 200
    assert client.get(f"{url_of(number)}/999999", headers=cast.alice.headers).status_code == 404


def test_uploading_to_an_incident_you_cannot_see_is_404(client, cast, number, settings) -> None:
    for who in (cast.carol, cast.erin, cast.eve):
        r = upload(client, who, number, "x.txt", b"let me in", "text/plain")
        assert r.status_code == 404, (who.user.username, r.text)
        assert client.get(url_of(number), headers=who.headers).status_code == 404
    assert stored_files(settings) == []
    assert client.get(url_of(number), headers=cast.alice.headers).json() == []


def test_closed_and_cancelled_incidents_refuse_uploads(client, cast, number, settings) -> None:
    a = cast.alice
    r = act(
        client,
        a,
        number,
        "resolve",
        resolution_code="fixed",
        resolution_notes="rebooted",
        is_workaround=False,
    )
    assert r.status_code == 200, r.text
    assert (
        upload(client, a, number, "late.txt", b"still open for comments", "text/plain").status_code
        == 201
    )
    assert act(client, cast.dave, number, "confirm").json()["state"] == "closed"
    before = stored_files(settings)
    for who in (a, cast.dave, cast.bob):
        r = upload(client, who, number, "too-late.txt", b"closed", "text/plain")
        assert r.status_code == 409, r.text
    cancelled = new_incident(client, a, caller_id=cast.dave.id)["number"]
    assert act(client, a, cancelled, "cancel", reason="duplicate").json()["state"] == "cancelled"
    assert upload(client, a, cancelled, "x.txt", b"x", "text/plain").status_code == 409
    assert stored_files(settings) == before
