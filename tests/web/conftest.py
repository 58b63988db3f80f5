"""Helpers of the web UI tests: sign a browser in, read the CSRF token of a page, count rows
to prove a refused request wrote nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dutydesk.db import Base, Database
from tests.factories import PASSWORD

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, login: str, password: str = PASSWORD, **form: str) -> str:
    """Sign `client` in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": csrf_of(page.text), **form},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/account/password").text)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """A second browser (cookie jar) on the same app."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def row_counts(db: Database) -> dict[str, int]:
    with db.unit_of_work(write=False) as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }
