"""Opening incidents, the CLI and the worker do not import scikit-learn: it costs seconds and
~100 MB per process, and only training, evaluating and loading a model need it."""

from __future__ import annotations

import subprocess
import sys


def test_scikit_learn_loads_only_when_a_model_is_used() -> None:
    code = (
        "import sys, dutydesk.cli, dutydesk.incidents.service, dutydesk.worker\n"
        "dutydesk.worker.default_jobs()\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'joblib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
