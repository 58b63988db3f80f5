"""The rendering helper: HTMX requests get one block of the page, flash messages travel in a
signed cookie and are shown once, a tampered flash cookie is ignored."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Cast
from tests.web.conftest import sign_in

HX = {"HX-Request": "true"}


def test_an_htmx_request_gets_only_the_named_block(client: TestClient, cast: Cast) -> None:
    sign_in(client, "alice")
    full = client.get("/queues")
    assert full.text.startswith("<!doctype html>") and "Skip to content" in full.text
    part = client.get("/queues", headers=HX)
    assert part.status_code == 200 and "<html" not in part.text and "<nav" not in part.text
    assert part.text.lstrip().startswith('<section id="queue"')  # the queue page's block
    boosted = client.get("/queues", headers={**HX, "HX-Boosted": "true"})
    assert "<html" in boosted.text  # a boosted link swaps the whole body


def test_a_pending_flash_comes_with_an_htmx_fragment_out_of_band(
    client: TestClient, cast: Cast
) -> None:
    page = client.get("/login")
    client.post(
        "/login",
        data={
            "login": "alice",
            "password": "correct horse battery",
            "csrf_token": page.text.split('name="csrf_token" value="')[1].split('"')[0],
        },
        follow_redirects=False,
    )
    part = client.get("/queues", headers=HX)
    assert 'id="flash"' in part.text and 'hx-swap-oob="true"' in part.text
    assert "Signed in as Alice." in part.text
    assert "Signed in as Alice." not in client.get("/queues").text  # shown once


def test_a_tampered_flash_cookie_is_ignored(client: TestClient, cast: Cast) -> None:
    sign_in(client, "alice")
    client.cookies.set("dd_flash", "W1sic3VjY2VzcyIsICI8Yj5oaTwvYj4iXV0.forged.signature")
    page = client.get("/queues")
    assert page.status_code == 200 and "flash--" not in page.text
    assert "dd_flash=" in page.headers.get("set-cookie", "")  # and cleared
