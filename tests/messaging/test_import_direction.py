"""Imports in messaging go one way: tasks → services → providers (house rule). Lazy imports
inside functions count too: a circle hidden in a function is still a circle. The local test
servers (``devservers``) are never imported by the shipped apps."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "billing", "senderids", "messaging", "otpportal")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (``from a import b`` gives a and a.b, so
    ``from messaging import services`` counts as an import of messaging.services)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(package: str) -> dict[str, set[str]]:
    return {
        module_name(path): imports_of(path)
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def offenders(graph: dict[str, set[str]], importer: str, forbidden: str) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.startswith(importer)
        for target in targets
        if target == forbidden or target.startswith(forbidden + ".")
    )


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return sources("messaging")


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("messaging.providers", "messaging.services"),
        ("messaging.providers", "messaging.tasks"),
        ("messaging.services", "messaging.tasks"),
        ("messaging.queueing", "messaging.tasks"),
        ("messaging.queueing", "messaging.services"),
        ("messaging.models", "messaging.services"),
    ],
)
def test_imports_go_one_way(graph: dict[str, set[str]], importer: str, forbidden: str) -> None:
    assert offenders(graph, importer, forbidden) == []


def test_the_service_modules_import_each_other_without_a_circle(graph: dict[str, set[str]]) -> None:
    services = {m for m in graph if m.startswith("messaging.services.")}
    edges = {m: {t for t in graph[m] if t in services and t != m} for m in services}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for target in edges[module]:
            visit(target, (*path, module))
        done.add(module)

    for module in sorted(services):
        visit(module, ())


def test_nothing_but_tasks_names_the_tasks_module(graph: dict[str, set[str]]) -> None:
    assert [m for m, t in graph.items() if m != "messaging.tasks" and "messaging.tasks" in t] == []


def test_the_shipped_apps_never_import_the_local_test_servers() -> None:
    for app in APPS:
        assert offenders(sources(app), app, "devservers") == [], app
    assert not (ROOT / "messaging" / "devservers").exists()
