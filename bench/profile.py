"""Profile an HTTP case of the bench: run it, attach py-spy to the product's gunicorn
workers while wrk drives them, and print where the time goes.

    .venv/bin/python bench/profile.py send                 # wall time (waits on PostgreSQL included)
    .venv/bin/python bench/profile.py check --gil          # only what holds the GIL (the worker's CPU)
    .venv/bin/python bench/profile.py me --seconds 30 --top 80
    .venv/bin/python bench/profile.py --summary FILE       # summarise a py-spy raw file again

The case runs through ``bench/run.py --case CASE`` (its own database and processes, the
README's table left alone) with a longer measuring time, so that py-spy samples the
measured part only: it starts once the case's measured wrk run (after its warm-up run)
drives the product's gunicorn, not C1's. The raw samples of each worker are written to
``bench/results/profile-<case>.txt`` (py-spy's ``--format raw``: one collapsed stack per
line), and the summary lists, per function, the share of samples in which it is on the
stack (inclusive) and at the top of it (self).
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
PRODUCT_APP = "otpportal.wsgi:application"


def summarise(path: Path, top: int, contains: str = "") -> str:
    """Inclusive and self shares per function (line numbers dropped) of a py-spy raw file."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        if contains and not any(contains in frame for frame in frames):
            continue
        samples = int(count)
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    if not total:
        return f"{path}: no samples"
    lines = [f"{total} samples in {path.name}", " incl   self  function (file)"]
    for frame, samples in inclusive.most_common(top):
        lines.append(f"{100 * samples / total:5.1f}% {100 * own[frame] / total:5.1f}%  {frame[:160]}")
    return "\n".join(lines)


def _pids(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def _port_of(pid: int) -> str | None:
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    for line in listening.splitlines():
        if f"pid={pid}," in line:
            return line.split()[3].rsplit(":", 1)[-1]
    return None


def _pause(seconds: float) -> None:
    """Wait a little between two looks at a condition."""
    threading.Event().wait(seconds)


def _wrk_at(port: str) -> set[int]:
    listed = subprocess.run(["pgrep", "-af", "^wrk"], capture_output=True, text=True).stdout
    return {int(line.split()[0]) for line in listed.splitlines() if f":{port}" in line}


def _product_workers(deadline: float) -> list[int]:
    """The product gunicorn's workers, once the case's measured wrk run drives them: the case
    runs wrk twice against the product's port (a warm-up, then the measured run), so this waits
    for a second wrk process there."""
    warm_up: set[int] = set()
    while time.monotonic() < deadline:
        for master in _pids(f"gunicorn {PRODUCT_APP}"):
            port = _port_of(master)
            running = _wrk_at(port) if port else set()
            if running and warm_up and not running & warm_up:
                return _children(master)
            warm_up |= running
        _pause(0.2)
    raise SystemExit("profile: the case never started its measured run against the product's gunicorn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", nargs="?", help="an HTTP case: send, send-hot, check, me")
    parser.add_argument("--seconds", type=int, default=20, help="seconds py-spy samples (default 20)")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL (CPU, not waits)")
    parser.add_argument("--top", type=int, default=60, help="functions listed (default 60)")
    parser.add_argument("--contains", default="", help="only stacks with a frame containing this text")
    parser.add_argument("--summary", type=Path, help="summarise this raw file and stop")
    options = parser.parse_args()
    if options.summary:
        print(summarise(options.summary, options.top, options.contains))
        return
    if not options.case:
        parser.error("name a case (or --summary FILE)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    duration = options.seconds + 10  # room on both sides of the sampling
    bench = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--case", options.case, "--duration", str(duration)]
        + ["--readme", "no"],
        cwd=ROOT,
    )
    try:
        workers = _product_workers(time.monotonic() + 900)
        raw = []
        spies = []
        for worker in workers:
            out = RESULTS / f"profile-{options.case}-{worker}.txt"
            argv = [str(PY_SPY), "record", "-p", str(worker), "-d", str(options.seconds), "-r", "200"]
            argv += ["-f", "raw", "-o", str(out)] + (["--gil"] if options.gil else [])
            spies.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            raw.append(out)
        for spy in spies:
            spy.wait(timeout=options.seconds + 60)
        bench.wait(timeout=1800)
    finally:
        if bench.poll() is None:
            bench.terminate()
    combined = RESULTS / f"profile-{options.case}.txt"
    combined.write_text("".join(path.read_text() for path in raw if path.exists()))
    for path in raw:
        path.unlink(missing_ok=True)
    print(summarise(combined, options.top, options.contains))


if __name__ == "__main__":
    main()
