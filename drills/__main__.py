"""``python -m drills [NAME …] [--short] [--shared] [--json PATH] [--readme]``: run the drills.

Full size (``make drill``) gives each drill a fresh stack of its own; ``--short`` runs the
CI sizes; ``--shared`` runs them all on one stack (``SHARED_OVERRIDES``), as the tests do;
``--json`` writes every drill's result to PATH as well (tests/drills/ reads it).
Exits non-zero when a drill fails or cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpportal.settings")

from drills import report  # noqa: E402 - the settings module must be named first
from drills.common import DEPOSIT  # noqa: E402
from drills.infra import DrillError, say  # noqa: E402
from drills.scenarios import DRILLS, FULL, SHARED_OVERRIDES, SHORT, Drill, Size, wait_healthy  # noqa: E402
from drills.stack import Stack  # noqa: E402


def run_one(drill: Drill, size: Size, stack: Stack | None = None) -> dict[str, Any]:
    """Run one drill (on ``stack``, or a fresh one) and save its result."""
    started = time.monotonic()
    result: dict[str, Any] = {
        "drill": drill.name,
        "number": drill.number,
        "title": drill.title,
        "size": size.name,
        "started": datetime.now(UTC).isoformat(),
    }
    say(f"drill {drill.number} {drill.name} ({size.name})")
    try:
        if stack is None:
            with Stack(drill.name, overrides=drill.overrides) as own:
                verdict = drill.run(own, size)
        else:
            wait_healthy(stack)
            verdict = drill.run(stack, size)
        result.update(
            passed=verdict.passed,
            figures=verdict.figures,
            checks=[{"name": c.name, "ok": c.ok, "detail": "" if c.ok else c.detail} for c in verdict.checks],
            failures=verdict.failures(),
        )
    except (DrillError, Exception) as exc:  # noqa: BLE001 - a drill that cannot run is reported, the rest go on
        result.update(passed=False, figures={}, checks=[], failures=[], error=f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
    result["seconds"] = round(time.monotonic() - started, 1)
    result["finished"] = datetime.now(UTC).isoformat()
    path = report.save(result)
    say(f"drill {drill.name}: {'passed' if result['passed'] else 'FAILED'} in {result['seconds']} s ({path})")
    return result


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"signal {signum}")  # unwinds the stacks: every process stopped, the cluster removed


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"drills to run (default: all): {', '.join(DRILLS)}")
    parser.add_argument("--short", action="store_true", help="CI sizes")
    parser.add_argument("--shared", action="store_true", help="one stack for every drill (as the tests run them)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results (a JSON list) to PATH")
    parser.add_argument("--readme", action="store_true", help="write the full results table into drills/README.md")
    options = parser.parse_args()
    unknown = set(options.names) - set(DRILLS)
    if unknown:
        parser.error(f"unknown drill(s): {', '.join(sorted(unknown))}")
    drills = [DRILLS[n] for n in (options.names or list(DRILLS))]
    size = SHORT if options.short else FULL
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    try:
        if options.shared:
            with Stack("shared", overrides=SHARED_OVERRIDES) as stack:
                stack.spare = stack.add_customers(len(drills), deposit=DEPOSIT)  # one setup run for all
                for drill in drills:
                    results.append(run_one(drill, size, stack))
        else:
            for drill in drills:
                results.append(run_one(drill, size))
    finally:
        if options.json:
            options.json.parent.mkdir(parents=True, exist_ok=True)
            options.json.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    say(f"{len(results)} drill(s) in {time.monotonic() - started:.0f} s")
    print(report.terminal(results), flush=True)
    if options.readme:
        if size is not FULL:
            parser.error("--readme takes full-size results only")
        report.write_readme(report.load_results(list(DRILLS)))
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
