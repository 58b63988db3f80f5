"""`dutydesk serve` runs `served_app()`: the app with its routes built and what exists by then
frozen out of the cyclic garbage collector (in a process of its own: a freeze is for good)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import gc, json
from dutydesk.app import served_app
app = served_app()
print(json.dumps({"frozen": gc.get_freeze_count(), "routes": len(app.routes)}))
"""


def test_served_app_is_built_and_frozen(tmp_path: Path) -> None:
    env = {**os.environ, "DUTYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'probe.db'}"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["routes"] > 20
    assert found["frozen"] > 100_000  # modules, routes, validators, mappings: all of them
