"""The drill's own servers and processes: a PostgreSQL cluster and a redis-server of its own
on free loopback ports, and the product's processes, each in a process group of its own.

The shared PostgreSQL (5432) and Redis (6379) are never touched: ``Postgres`` and
``RedisServer`` refuse those ports, and every product process gets the drill's URLs.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from devservers.procs import Proc

ROOT = Path(__file__).resolve().parents[1]
SHARED_PORTS = frozenset({5432, 6379})  # other engineers' servers: never ours to stop

T = TypeVar("T")


class DrillError(RuntimeError):
    """A drill could not run (a server did not start): not a finding about the product."""


def say(message: str) -> None:
    print(f"[drill {time.strftime('%H:%M:%S')}] {message}", flush=True)


def pause(seconds: float) -> None:
    """A bounded, interruptible wait (the fault's duration, a poll interval)."""
    threading.Event().wait(max(0.0, seconds))


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``predicate`` until it is truthy and return it; DrillError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DrillError(f"not within {timeout:.0f} s: {what}")
        pause(interval)


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in SHARED_PORTS:
            return port


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    with log.open("ab") as handle:
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, popen, log)


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise DrillError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return Path(found[-1]).parent


class Postgres:
    """A PostgreSQL cluster of the drill's own (initdb into ``base``), run as the ``postgres``
    OS user when the drill runs as root (the server refuses root)."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.bin = _pg_bin()
        self.base = base
        self.data = base / "data"
        self.port = port or free_port()
        if self.port in SHARED_PORTS:
            raise DrillError(f"port {self.port} is a shared server's: a drill never runs its own there")
        self.as_postgres = os.geteuid() == 0

    def _run(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd="/")
        if done.returncode:
            raise DrillError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--no-sync", "--no-instructions"])  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "server.log"), "-w",
                   "-t", "60", "-o", options, "start"])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists() and port_open(self.port)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(DrillError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


class RedisServer:
    """A redis-server of the drill's own, without persistence: a restart loses every key,
    the broker's queues included (the harder case: the outbox must bring the work back)."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise DrillError("redis-server is not installed (apt-get install redis-server)")
        self.base = base
        self.port = port or free_port()
        if self.port in SHARED_PORTS:
            raise DrillError(f"port {self.port} is a shared server's: a drill never runs its own there")
        self.proc: Proc | None = None

    def start(self, logs: Path) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        argv = [self.binary or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.base), "--protected-mode", "yes"]  # fmt: skip
        self.proc = spawn("redis", argv, dict(os.environ), logs)
        wait_until(lambda: port_open(self.port), 20, f"redis-server on {self.port}")

    def stop(self) -> None:
        """SIGKILL: stopped dead, the way a crashed or unreachable Redis looks to its clients."""
        if self.proc is not None:
            self.proc.kill9()
            self.proc = None
        wait_until(lambda: not port_open(self.port), 10, f"redis-server on {self.port} to stop")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"
