"""Results: ``var/drills/<name>.json`` (``<name>.short.json`` for CI sizes), a table on the
terminal, and the results table of ``drills/README.md`` (``--readme``, full runs only)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills.infra import ROOT

RESULTS = ROOT / "var" / "drills"
README = ROOT / "drills" / "README.md"
BEGIN = "<!-- drills:begin (written by `python -m drills --readme`) -->"
END = "<!-- drills:end -->"


def result_path(name: str, size: str) -> Path:
    return RESULTS / (f"{name}.json" if size == "full" else f"{name}.{size}.json")


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = result_path(result["drill"], result["size"])
    path.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
    return path


def load_results(names: list[str], size: str = "full") -> list[dict[str, Any]]:
    out = []
    for name in names:
        path = result_path(name, size)
        if path.exists():
            out.append(json.loads(path.read_text()))
    return out


def _figure(result: dict[str, Any], key: str) -> str:
    value = result.get("figures", {}).get(key)
    return "–" if value is None else str(value)


COLUMNS = [
    ("accepted", "accepted"),
    ("delivered", "delivered"),
    ("failed+rejected", None),
    ("lost", "lost"),
    ("duplicated (lost resp)", None),
    ("charges reconciled", None),
    ("503s", "clean_503"),
    ("5xx other", None),
]


def row(result: dict[str, Any]) -> list[str]:
    f = result.get("figures", {})
    cells = [f"{result['number']}. {result['title']}", "pass" if result["passed"] else "**FAIL**"]
    for label, key in COLUMNS:
        if key:
            cells.append(_figure(result, key))
        elif label == "failed+rejected":
            cells.append(str(f.get("failed", 0) + f.get("rejected", 0)) if f else "–")
        elif label.startswith("duplicated"):
            cells.append(f"{f.get('duplicated', '–')} ({f.get('duplicated_lost_resp', '–')})" if f else "–")
        elif label == "charges reconciled":
            cells.append(
                f"{f.get('charges_reconciled', '–')}/{f.get('charges', '–')}, reconcile {f.get('reconcile_differences', '–')}"
                if f
                else "–"
            )
        elif label == "5xx other":
            cells.append(str(f.get("contract_breaches", "–")))
    cells.append(f"{result.get('seconds', 0):.0f} s")
    cells.append(result["finished"][:16].replace("T", " "))
    return cells


def table(results: list[dict[str, Any]]) -> str:
    header = ["drill", "result", *(label for label, _ in COLUMNS), "time", "run (UTC)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row(r)) + " |" for r in results]
    return "\n".join(lines)


def terminal(results: list[dict[str, Any]]) -> str:
    out = [table(results), ""]
    for result in results:
        for failure in result.get("failures", []):
            out.append(f"  {result['drill']}: FAILED {failure}")
        if result.get("error"):
            out.append(f"  {result['drill']}: ERROR {result['error']}")
    return "\n".join(out)


def write_readme(results: list[dict[str, Any]]) -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{README} has no {BEGIN} … {END} block to write into")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = f"{BEGIN}\nLast full run: {stamp} (`make drill`; figures per drill in `var/drills/<name>.json`).\n\n"
    block += table(results) + f"\n{END}"
    text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.DOTALL)
    README.write_text(text)
