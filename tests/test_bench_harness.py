"""The benchmark harness (issue 11) runs end to end with one command: ``bench/run.py``
(what ``make bench`` calls) on a quick case, against PostgreSQL and Redis on loopback,
with its own gunicorn, ceiling and wrk, and writes each case's JSON and the table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_quick_bench_run_measures_a_case_against_its_ceiling(tmp_path: Path) -> None:
    assert shutil.which("wrk"), "wrk is installed by make install (Debian package)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--case",
            "me",
            "--quick",
            "--duration",
            "3",
            "--readme",
            "no",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| me " in done.stdout and "| c1 " in done.stdout  # the table
    me = json.loads((tmp_path / "me.json").read_text())
    c1 = json.loads((tmp_path / "c1.json").read_text())
    assert me["case"] == "me" and me["target"] == "≥ 0.8 × C1"
    assert me["value"] > 0 and c1["value"] > 0
    assert 0 < me["ratio"] < 5  # measured against the C1 of the same run
    assert me["details"]["errors"] == 0
    assert {check["what"] for check in me["checks"]} >= {"≥ 0.8 × C1"}
    assert me["run"]["code"]  # what was measured
    readme = (ROOT / "bench" / "README.md").read_text()
    assert "<!-- bench:latest:start -->" in readme  # a quick run leaves the README's table alone
