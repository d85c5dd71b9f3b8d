"""A process of the product or of a local server started by the benchmarks
(``bench/``) and the fault drills (``drills/``): in a process group of its
own, its output in ``log``, stopped with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        try:
            return [int(p) for p in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except OSError:
            return []

    def kill9(self) -> None:
        """SIGKILL the whole group: no goodbye, no acknowledgements, no unbind."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def freeze(self) -> None:
        """SIGSTOP the whole group: it reads and answers nothing until killed (or SIGCONT)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGSTOP)

    def stop(self, timeout: float = 15.0, on_timeout: Callable[[str], None] | None = None) -> None:
        """SIGTERM, ``timeout`` seconds to go, then SIGKILL for whatever is left of the group."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                if on_timeout is not None:
                    on_timeout(f"{self.name} did not stop in {timeout:.0f} s; killing it")
        self.kill9()

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])
