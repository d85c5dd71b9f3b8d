"""The fault drills of issue 14 at their short sizes, in CI: every drill once, on one shared
stack (``python -m drills --short --shared``), in a process of its own.

The drills start their own PostgreSQL cluster (the Debian server binaries in
``/usr/lib/postgresql/*/bin``) and their own ``redis-server`` on free loopback ports, so the
suite's database and Redis are never touched; they need neither. A drill that cannot run
(no server binaries) fails here, it is never skipped. All tests are in this one file, so
``--dist loadfile`` gives the whole run to one worker.

One test per drill: it passes when the drill passed, and prints the drill's figures and
failed checks when it did not. The run's log is ``var/drills/ci-short.log``; each
process's log is under ``var/drills/runs/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drills.scenarios import DRILLS

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "var" / "drills" / "ci-short.log"
RESULTS = ROOT / "var" / "drills" / "ci-short.json"
TIMEOUT = 900  # seconds: the run takes about 5 minutes on two cores; this is the hard stop

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "TESTING"}
    with LOG.open("wb") as log:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "drills", "--short", "--shared", "--json", str(RESULTS)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"the short drills did not finish within {TIMEOUT} s:\n{_tail()}")
    found = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    if not found:
        pytest.fail(f"the drills did not run (exit {done.returncode}):\n{_tail()}")
    return {r["drill"]: r for r in found}


def _tail(lines: int = 60) -> str:
    return "\n".join(LOG.read_text(errors="replace").splitlines()[-lines:]) if LOG.exists() else "(no log)"


@pytest.mark.parametrize("name", list(DRILLS))
def test_drill_passes(results: dict[str, dict[str, Any]], name: str) -> None:
    result = results.get(name)
    assert result is not None, f"drill {name} did not run:\n{_tail()}"
    report = json.dumps({k: result.get(k) for k in ("error", "failures", "figures", "seconds")}, indent=2, default=str)
    assert result["passed"], f"drill {name} failed:\n{report}"
    figures = result["figures"]
    # What every drill proves (drills.verify), restated: nothing lost, nothing sent or
    # charged twice without cause, the books balanced.
    assert figures["accepted"] == figures["sends"] > 0, report
    assert figures["lost"] == 0, report
    assert figures["duplicated_unexplained"] == 0, report
    assert figures["charges_without_message"] == figures["messages_charged_without_charge"] == 0, report
    assert figures["reconcile_differences"] == 0, report
