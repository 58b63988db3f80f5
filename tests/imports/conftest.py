"""The CLI run against a database of its own, for the import tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dutydesk.cli import app as cli
from dutydesk.config import get_settings
from dutydesk.db import Database


@pytest.fixture
def run(fresh_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv(
        "DUTYDESK_DATABASE_URL", fresh_db.engine.url.render_as_string(hide_password=False)
    )
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, list(args))
    get_settings.cache_clear()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)
