"""What a clone of the repository contains: every file of the working tree
that ``.gitignore`` does not leave out. Read without git, so the tests that
use it also run from an unpacked release."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]


def gitignore_patterns() -> list[str]:
    patterns = []
    for raw in (ROOT / ".gitignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            raise AssertionError(f".gitignore negation {line!r}: teach tests/shipped.py about it")
        patterns.append(line)
    return patterns


def is_ignored(relative: PurePosixPath, patterns: list[str], *, is_dir: bool) -> bool:
    """Whether ``.gitignore`` keeps ``relative`` out of git (the subset of its
    syntax the project uses: ``name``, ``*.ext``, ``dir/``, ``a/b`` paths)."""
    for pattern in patterns:
        directory_only = pattern.endswith("/")
        body = pattern.rstrip("/")
        if directory_only and not is_dir:
            continue
        if "/" in body:
            if fnmatch.fnmatchcase(str(relative), body.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(relative.name, body):
            return True
    return False


def shipped_files() -> Iterator[Path]:
    """Every file git would carry: the tree minus ``.git`` and what ``.gitignore`` excludes."""
    patterns = gitignore_patterns()

    def walk(directory: Path) -> Iterator[Path]:
        for entry in sorted(directory.iterdir()):
            relative = PurePosixPath(entry.relative_to(ROOT).as_posix())
            if entry.name == ".git" or is_ignored(relative, patterns, is_dir=entry.is_dir()):
                continue
            if entry.is_dir():
                yield from walk(entry)
            elif entry.is_file():
                yield entry

    yield from walk(ROOT)
