"""End to end with a real Prometheus Alertmanager (Debian package prometheus-alertmanager):
alerts posted to Alertmanager's API reach DutyDesk through its webhook as one correlated
incident, and their resolution resolves it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.models import Alert, Incident
from tests.intake.helpers import make_integration
from tests.serving import serve

PACKAGE = "prometheus-alertmanager"
BINARY = "/usr/bin/prometheus-alertmanager"
DEADLINE = 60.0  # seconds for Alertmanager to deliver (group_wait/interval are 1 s)


def _binary() -> str:
    found = shutil.which("prometheus-alertmanager") or (BINARY if Path(BINARY).exists() else None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", PACKAGE], capture_output=True, timeout=600
        )
        found = shutil.which("prometheus-alertmanager") or (
            BINARY if Path(BINARY).exists() else None
        )
    if found is None:
        message = f"needs the Debian package {PACKAGE} (apt-get install {PACKAGE})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(check: Any, what: str) -> Any:
    pause = threading.Event()  # never set: a bounded pause between polls
    waited = 0.0
    while waited < DEADLINE:
        found = check()
        if found:
            return found
        pause.wait(0.25)
        waited += 0.25
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An Alertmanager on a loopback port; the test writes its config before reloading."""
    binary = _binary()
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "alertmanager.log", "wb"),  # noqa: SIM115 - lives with proc
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(ready, "Alertmanager to start")
        yield url, config
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _post_alerts(url: str, ends: datetime | None) -> None:
    now = datetime.now(UTC)
    alerts = []
    for name, severity in (("HighErrorRate", "critical"), ("DiskFull", "warning")):
        alert: dict[str, Any] = {
            "labels": {
                "alertname": name,
                "service": "Payments",
                "instance": "db01:9100",
                "severity": severity,
            },
            "annotations": {"summary": f"{name} on db01"},
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
        }
        if ends is not None:
            alert["endsAt"] = ends.isoformat()
        alerts.append(alert)
    response = httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=10)
    assert response.status_code == 200, response.text


def test_real_alertmanager_opens_and_resolves_a_correlated_incident(
    fresh_db: Database, alertmanager: tuple[str, Path], tmp_path: Path
) -> None:
    am_url, config = alertmanager
    iid, token = make_integration(fresh_db, "alertmanager", kind="alertmanager")
    settings = Settings(database_url="sqlite://", storage_dir=tmp_path / "files")
    with serve(create_app(settings, fresh_db)) as desk:
        config.write_text(
            json.dumps(
                {
                    "route": {
                        "receiver": "dutydesk",
                        "group_by": ["service"],
                        "group_wait": "1s",
                        "group_interval": "1s",
                        "repeat_interval": "1h",
                    },
                    "receivers": [
                        {
                            "name": "dutydesk",
                            "webhook_configs": [
                                {
                                    "url": f"{desk}/integrations/alertmanager/{token}",
                                    "send_resolved": True,
                                }
                            ],
                        }
                    ],
                }
            )
        )
        assert httpx.post(f"{am_url}/-/reload", timeout=10).status_code == 200
        _post_alerts(am_url, ends=None)

        def linked() -> list[Alert]:
            with fresh_db.unit_of_work(write=False) as s:
                rows = list(s.scalars(select(Alert).where(Alert.integration_id == iid)).all())
                s.expunge_all()
            return rows if len(rows) == 2 and all(a.incident_id for a in rows) else []

        rows = _wait_for(linked, "both alerts to arrive")
        assert len({a.incident_id for a in rows}) == 1  # correlated: same service
        incident_id = rows[0].incident_id
        _post_alerts(am_url, ends=datetime.now(UTC) - timedelta(seconds=1))

        def resolved() -> str | None:
            with fresh_db.unit_of_work(write=False) as s:
                state = s.scalar(select(Incident.state).where(Incident.id == incident_id))
            return state if state == "resolved" else None

        _wait_for(resolved, "the incident to resolve")
    with fresh_db.unit_of_work(write=False) as s:
        statuses = s.scalars(select(Alert.status).where(Alert.integration_id == iid)).all()
    assert sorted(statuses) == ["resolved", "resolved"]
