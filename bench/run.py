"""`make bench`: the benchmark harness (issue 11).

Starts its own gunicorn, Celery workers, ``smpp_bind``, the local SMSC and an
SMTP sink against PostgreSQL and Redis on loopback, in a fresh database
(``otpbench_<pid>``, dropped at the end) and Redis keys of its own
(``otpbench-<pid>…``), and measures each case against ceilings measured in the
same run (these machines are shared and noisy: absolute times do not compare
from run to run). Writes ``bench/results/<case>.json``, prints a table and,
after a full run of every case, keeps it in ``bench/README.md``.

    .venv/bin/python bench/run.py                 # everything, full data (≈ 30 min)
    .venv/bin/python bench/run.py --quick         # small data, short runs: a smoke test
    .venv/bin/python bench/run.py --case send     # one case (and the ceiling it is compared with)

See bench/README.md for the cases, the settings the bench lifts, and the results.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (`python bench/run.py`): the project's modules too
    sys.path.insert(0, str(ROOT))

from devservers.procs import Proc  # noqa: E402 - needs ROOT on the path

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
README = BENCH / "README.md"
PY = sys.executable
VENV_BIN = Path(PY).parent

# Cases in the order they run; ceilings first where they are needed.
ORDER = [
    "c1",
    "me",
    "send",
    "memory",
    "send-hot",
    "check",
    "c2",
    "dispatch",
    "c3",
    "month-end",
    "csv",
    "month-end-docs",
]
NEEDS = {
    "me": {"c1"},
    "send": {"c1"},
    "memory": {"send"},
    "send-hot": {"c1"},
    "check": {"c1"},
    "dispatch": {"c2"},
    "month-end": {"c3"},
    "csv": {"c3"},
}
HTTP_CASES = {"c1", "me", "send", "memory", "send-hot", "check"}
CELERY_CASES = {"c2", "dispatch"}
MONTH_CASES = {"c3", "month-end", "csv", "month-end-docs"}

# What the issue asks of each case (README "Targets").
TARGETS = {
    "send": "≥ 0.5 × C1, p99 ≤ 50 ms, 0 errors",
    "send-hot": "≥ 0.35 × C1, 0 drift (reconcile)",
    "check": "≥ 0.6 × C1, p99 ≤ 30 ms",
    "me": "≥ 0.8 × C1",
    "dispatch": "≥ 1.0 × C2 messages/s",
    "month-end": "≤ 3 × C3 GROUP BY",
    "month-end-docs": "≤ 120 s on this machine",
    "csv": "≤ 3 × C3 COPY, memory growth ≤ 50 MB",
    "memory": "≤ 150 MB",
}


@dataclass(frozen=True)
class Scale:
    """Data sizes and run lengths: the issue's (full) or a smoke test (quick)."""

    prepaid: int
    postpaid: int
    charges: int
    heavy_rows: int
    check_verifications: int
    dispatch_messages: int
    c2_tasks: int
    duration: int
    warmup: int


FULL = Scale(
    prepaid=10_000,
    postpaid=2_000,
    charges=5_000_000,
    heavy_rows=250_000,
    check_verifications=100_000,
    dispatch_messages=5_000,
    c2_tasks=20_000,
    duration=30,
    warmup=5,
)
QUICK = Scale(
    prepaid=200,
    postpaid=40,
    charges=200_000,
    heavy_rows=25_000,
    check_verifications=10_000,
    dispatch_messages=300,
    c2_tasks=2_000,
    duration=5,
    warmup=2,
)


class BenchError(RuntimeError):
    """A failure that stops the run with a clear message (no traceback)."""


def _pause(seconds: float) -> None:
    """Wait a little between two looks at a condition (never a fixed wait for a result)."""
    threading.Event().wait(seconds)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def http_get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- The run ------------------------------------------------------------------------------


@dataclass
class Result:
    case: str
    value: float | None
    unit: str
    ceiling: str = ""
    ceiling_value: float | None = None
    ratio: float | None = None
    target: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def met(self) -> bool | None:
        if self.error:
            return False
        if not self.checks:
            return None
        return all(check["ok"] for check in self.checks)

    def check(self, what: str, value: float | None, limit: float, *, at_most: bool) -> None:
        ok = value is not None and (value <= limit if at_most else value >= limit)
        self.checks.append({"what": what, "value": value, "limit": limit, "at_most": at_most, "ok": ok})

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "value": self.value,
            "unit": self.unit,
            "ceiling": self.ceiling,
            "ceiling_value": self.ceiling_value,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "checks": self.checks,
            "details": self.details,
            "error": self.error,
        }


class Bench:
    def __init__(self, options: argparse.Namespace, cases: list[str]) -> None:
        self.o = options
        self.cases = cases
        self.scale = QUICK if options.quick else FULL
        if options.duration:
            self.scale = Scale(**{**self.scale.__dict__, "duration": options.duration})
        self.pid = os.getpid()
        self.db_name = f"otpbench_{self.pid}"
        self.prefix = f"otpbench-{self.pid}-"
        self.dir = Path(tempfile.mkdtemp(prefix=f"otpbench-{self.pid}-"))
        self.procs: list[Proc] = []
        self.results: dict[str, Result] = {}
        self.secret_key = secrets.token_urlsafe(48)
        self.hmac_key = secrets.token_urlsafe(48)
        self.db_created = False
        self.smsc_port = 0
        self.smtp_port = 0
        self.started = datetime.now(UTC)
        self.load_before = os.getloadavg()
        self.hot_customer = 0
        self.c1_runs: list[float] = []
        self.c1_cpu: list[float] = []
        self.serving: dict[str, Proc] = {}
        self.month_ready = False
        self.invoices_issued = False

    # ------------------------------------------------------------------ environment

    @property
    def database_url(self) -> str:
        base = self.o.pg_url.rstrip("/")
        return base.rsplit("/", 1)[0] + "/" + self.db_name

    def env(self, broker: str = "main", **extra: str) -> dict[str, str]:
        """The product's environment for every process of the run: production
        mode (DEBUG off), this run's database and Redis keys, the limits lifted
        (README), SMS over SMPP to the local SMSC, mail to the local sink."""
        env = {k: v for k, v in os.environ.items() if k not in product_variables()}
        env.update(
            DJANGO_SETTINGS_MODULE="otpportal.settings",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            DEBUG="false",
            SECRET_KEY=self.secret_key,
            OTP_HMAC_KEY=self.hmac_key,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            DATABASE_URL=self.database_url,
            CONN_MAX_AGE=str(self.o.conn_max_age),
            REDIS_URL=self.o.redis_url,
            RATE_LIMIT_KEY_PREFIX=f"{self.prefix}bucket:",
            CELERY_BROKER_URL=self.o.redis_url,
            # "web": the API's enqueues (nothing reads them: the HTTP cases measure the API alone);
            # "discard": set-up steps whose enqueues must not run; "main": what the workers read.
            CELERY_BROKER_KEYPREFIX=self.prefix + {"main": "", "web": "web-", "discard": "discard-"}[broker],
            EMAIL_URL=f"smtp://127.0.0.1:{self.smtp_port}" if self.smtp_port else "dummymail://",
            MEDIA_ROOT=str(self.dir / "media"),
            LIMIT_KEY_RATE="1000000",
            LIMIT_KEY_BURST="1000000",
            LIMIT_NUMBER_PER_HOUR="1000000000",
            PUMPING_MIN_NUMBERS="1000000000",
            PROVIDER_SMS="smpp",
            SMPP_ACCOUNTS=f"smpp://otp:secret@127.0.0.1:{self.smsc_port or 2775}/?name=main&tps=0",
            ALLOW_SANDBOX_IN_PRODUCTION="true",
            LOG_LEVEL=self.o.log_level,
        )
        env.update(extra)
        return env

    # ------------------------------------------------------------------ processes

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.dir / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, *procs: Proc) -> None:
        for proc in procs:
            proc.stop(20.0, on_timeout=say)
            if proc in self.procs:
                self.procs.remove(proc)

    def wait_for(self, proc: Proc, ready: Any, what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                raise BenchError(f"{proc.name} exited while starting ({what}):\n{proc.tail()}")
            value = ready()
            if value:
                return value
            _pause(0.1)
        raise BenchError(f"{proc.name} not ready after {timeout:.0f} s ({what}):\n{proc.tail()}")

    def start_port_printer(self, name: str, module: str, stats: Path) -> tuple[Proc, int]:
        proc = self.start(name, [PY, "-m", module, "--stats", str(stats)], self.env())

        def port() -> int:
            match = re.search(r"^PORT (\d+)", proc.log.read_text(errors="replace"), re.MULTILINE)
            return int(match.group(1)) if match else 0

        return proc, self.wait_for(proc, port, "listening", 20)

    def start_gunicorn(self, name: str, app: str, env: dict[str, str]) -> tuple[Proc, int]:
        """The product and C1 are served by one command line, only the WSGI app differs."""
        port = free_port()
        argv = [str(VENV_BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}"]
        argv += ["--workers", str(self.o.gunicorn_workers), "--worker-class", self.o.gunicorn_class]
        if self.o.gunicorn_class == "gthread":
            argv += ["--threads", str(self.o.gunicorn_threads)]
        argv += ["--control-socket", str(self.dir / f"{name}.ctl")]  # gunicorn's default path is shared
        argv += self.o.gunicorn_args.split()
        proc = self.start(name, argv, env)
        probe = "/healthz" if app.startswith("otpportal") else "/c1/1"

        def answers() -> bool:
            try:
                return http_get(port, probe, timeout=2)[0] == 200
            except OSError:
                return False

        self.wait_for(proc, answers, f"GET {probe} answers 200", 60)
        self.wait_for(proc, lambda: len(children(proc.pid)) >= self.o.gunicorn_workers, "workers up", 30)
        return proc, port

    def worker_lines(self) -> list[tuple[str, str, int]]:
        """(name, queues, concurrency) of the Celery workers: the README's production lines."""
        lines = []
        for spec in self.o.workers.split(";"):
            name, queues, concurrency = spec.split(":")
            lines.append((name, queues, int(concurrency)))
        return lines

    def start_workers(self) -> list[Proc]:
        procs = []
        for name, queues, concurrency in self.worker_lines():
            argv = [PY, "-m", "celery", "-A", "otpportal", "worker", "-Q", queues, "-c", str(concurrency)]
            argv += ["-n", f"{name}@{self.db_name}", "--include", "bench.noop", "--loglevel", "INFO"]
            procs.append(self.start(f"worker-{name}", argv, self.env()))
        for proc in procs:
            self.wait_for(proc, lambda p=proc: " ready." in p.log.read_text(errors="replace"), "ready", 90)
        return procs

    # ------------------------------------------------------------------ steps

    def step(self, name: str, args: dict[str, Any], *, broker: str = "main", timeout: float = 1800) -> dict[str, Any]:
        """Run ``bench/steps.py NAME`` in the product's environment and return its result."""
        log = self.dir / f"step-{name}.log"
        with log.open("ab") as handle:
            try:
                done = subprocess.run(
                    [PY, "-m", "bench.steps", name, json.dumps(args)],
                    cwd=ROOT,
                    env=self.env(broker),
                    stdout=subprocess.PIPE,
                    stderr=handle,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise BenchError(f"step {name} timed out after {timeout:.0f} s (log: {log})") from None
        for line in reversed(done.stdout.decode(errors="replace").splitlines()):
            if line.startswith("BENCHRESULT "):
                return dict(json.loads(line[len("BENCHRESULT ") :]))
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise BenchError(f"step {name} failed (exit {done.returncode}):\n{tail}")

    # ------------------------------------------------------------------ wrk

    def wrk(self, script: str, port: int, args: list[str], duration: int) -> dict[str, Any]:
        argv = ["wrk", f"-t{self.o.threads}", f"-c{self.o.connections}", f"-d{duration}s", "--timeout", "5s"]
        argv += ["-s", str(BENCH / "wrk" / script), f"http://127.0.0.1:{port}", "--", *args]
        try:
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=duration + 60, check=False)
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk {script} did not finish in {duration + 60} s") from None
        for line in done.stdout.splitlines():
            if line.startswith("BENCHJSON "):
                data = dict(json.loads(line[len("BENCHJSON ") :]))
                errors = data["socket_errors"]
                data["errors"] = data["non2xx"] + sum(errors.values())
                return data
        raise BenchError(f"wrk {script} printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")

    def load(
        self, script: str, port: int, args: list[str], *, server: Proc, warm_args: list[str] | None = None
    ) -> dict[str, Any]:
        """A warm-up run (discarded), then the measured one."""
        warm = self.wrk(script, port, warm_args if warm_args is not None else args, self.scale.warmup)
        data = self.measured(script, port, args, server)
        data["warmup"] = {"requests": warm["requests"], "ok": warm["ok"], "errors": warm["errors"]}
        return data

    def measured(self, script: str, port: int, args: list[str], server: Proc) -> dict[str, Any]:
        """The measured wrk run, with the CPU time it cost the server's workers and
        the database's backends: per request, a figure a busy neighbour hardly moves."""
        before = self.cpu(server)
        data = self.wrk(script, port, args, self.scale.duration)
        after = self.cpu(server)
        if data["requests"]:
            per = 1000 / os.sysconf("SC_CLK_TCK") / data["requests"]
            data["cpu_ms_per_request"] = {
                "web": round((after[0] - before[0]) * per, 3),
                "db": round((after[1] - before[1]) * per, 3),
            }
        return data

    def cpu(self, server: Proc) -> tuple[int, int]:
        """CPU ticks used so far by the server's workers and by this database's PostgreSQL backends."""
        web = sum(cpu_ticks(pid) for pid in children(server.pid))
        db = 0
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(self.o.pg_url, autocommit=True, connect_timeout=5) as conn:
                pids = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.db_name]).fetchall()
            db = sum(cpu_ticks(pid) for (pid,) in pids)
        return web, db

    # ------------------------------------------------------------------ the phases

    def run(self) -> None:
        self.preflight()
        self.create_database()
        aux = self.start_aux()
        say(f"preparing {self.scale.prepaid:,} funded prepaid customers with live keys")
        prep = self.step(
            "prepare",
            {
                "dir": str(self.dir),
                "customers": self.scale.prepaid,
                "amount": 10_000_000,
                "hot_lots": 3,
                "hot_amount": 1_000_000_000,
            },
            broker="discard",
        )
        self.hot_customer = int(prep["hot_customer"])
        say(f"prepared in {prep['seconds']} s")
        if HTTP_CASES & set(self.cases):
            self.http_phase()
        if CELERY_CASES & set(self.cases):
            self.celery_phase()
        if MONTH_CASES & set(self.cases):
            self.month_phase()
        self.stop(*aux)

    def preflight(self) -> None:
        if not shutil.which("wrk") and HTTP_CASES & set(self.cases):
            raise BenchError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
        for what, url in (("PostgreSQL", self.o.pg_url), ("Redis", self.o.redis_url)):
            host, port = host_port(url, 5432 if what == "PostgreSQL" else 6379)
            try:
                socket.create_connection((host, port), timeout=3).close()
            except OSError as exc:
                raise BenchError(f"{what} does not answer on {host}:{port} ({exc}); start it first") from None
        import redis

        try:
            redis.Redis.from_url(self.o.redis_url, socket_timeout=3).ping()
        except Exception as exc:  # noqa: BLE001 - any failure is reported the same way
            raise BenchError(f"Redis at {self.o.redis_url} does not answer PING: {exc}") from None

    def create_database(self) -> None:
        import psycopg

        say(f"creating database {self.db_name}")
        try:
            with psycopg.connect(self.o.pg_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
        except psycopg.Error as exc:
            raise BenchError(f"cannot create database {self.db_name} via {self.o.pg_url}: {exc}") from None
        self.db_created = True
        t0 = time.monotonic()
        log = self.dir / "migrate.log"
        with log.open("wb") as handle:
            done = subprocess.run(
                [PY, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=self.env("discard"),
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=600,
                check=False,
            )
        if done.returncode:
            raise BenchError(f"migrate failed:\n{log.read_text(errors='replace')[-3000:]}")
        say(f"migrated in {time.monotonic() - t0:.1f} s")

    def start_aux(self) -> list[Proc]:
        smsc, self.smsc_port = self.start_port_printer("smsc", "bench.smsc", self.dir / "smsc.json")
        sink, self.smtp_port = self.start_port_printer("smtp", "bench.smtpsink", self.dir / "smtp.json")
        return [smsc, sink]

    def stats(self, name: str) -> dict[str, Any]:
        """The server's counts as written after this call (it writes them every 0.2 s)."""
        path = self.dir / f"{name}.json"
        asked = time.time()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                if path.stat().st_mtime > asked:
                    break
            except OSError:
                pass
            _pause(0.05)
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return {}

    # ---------------------------------------------------------------- HTTP

    def http_phase(self) -> None:
        """C1 is measured before the first case and again after each one: a
        case's ratio is taken against the mean of the two C1 runs around it,
        so a neighbour's load that comes and goes weighs on both sides."""
        product, port = self.start_gunicorn("gunicorn-product", "otpportal.wsgi:application", self.env("web"))
        ceiling_env = self.env("web", DJANGO_SETTINGS_MODULE="bench.ceiling.settings")
        ceiling, c1_port = self.start_gunicorn("gunicorn-c1", "bench.ceiling.wsgi:application", ceiling_env)
        self.serving = {"product": product, "c1": ceiling}
        keys, hot = str(self.dir / "keys.txt"), str(self.dir / "hot.txt")
        prefixes = str(self.dir / "prefixes.txt")
        runs = {
            "me": lambda: self.http_case("me", "me.lua", port, [keys]),
            "send": lambda: self.case_send(port, keys, prefixes, product),
            "send-hot": lambda: self.case_send_hot(port, hot, prefixes),
            "check": lambda: self.case_check(port),
        }
        try:
            before = self.measure_c1(c1_port)
            for case, run in runs.items():
                if case not in self.cases:
                    continue
                result = self.guard(case, run)
                after = self.measure_c1(c1_port)
                if result is not None:
                    self.against_c1(result, (before[0] + after[0]) / 2, (before[1] + after[1]) / 2)
                before = after
        finally:
            self.stop(product, ceiling)

    def measure_c1(self, port: int) -> tuple[float, float]:
        """One C1 run: (requests/s, CPU ms per request of gunicorn and PostgreSQL)."""
        say(f"C1: bare DRF view, {self.scale.duration} s")
        data = self.load("c1.lua", port, ["1000"], server=self.serving["c1"])
        if data["errors"]:
            raise BenchError(f"C1 answered errors: {data['samples'] or data['socket_errors']}")
        self.c1_runs.append(data["rps"])
        previous = self.results.get("c1")
        result = Result("c1", statistics.mean(self.c1_runs), "req/s")
        result.details = {
            "note": "mean of the runs: before the first HTTP case and after each one",
            "runs": [*(previous.details["runs"] if previous else []), summary(data)],
        }
        cpu = data.get("cpu_ms_per_request") or {}
        self.c1_cpu.append(cpu.get("web", 0) + cpu.get("db", 0))
        result.details["cpu_ms_per_request_mean"] = round(statistics.mean(self.c1_cpu), 3)
        self.results["c1"] = result
        self.save(result)
        return float(data["rps"]), self.c1_cpu[-1]

    def against_c1(self, result: Result, c1: float, c1_cpu: float) -> None:
        """The ratio to C1 (the target), and for information the same in CPU
        time per request, which a busy neighbour moves far less than throughput."""
        factor = {"send": 0.5, "send-hot": 0.35, "check": 0.6, "me": 0.8}[result.case]
        result.ceiling, result.ceiling_value = "C1", c1
        result.details["c1_around"] = round(c1, 1)
        cpu = result.details.get("cpu_ms_per_request") or {}
        if c1_cpu and cpu:
            result.details["c1_cpu_ms_per_request_around"] = round(c1_cpu, 3)
            result.details["cpu_ratio"] = round(c1_cpu / max(0.001, cpu["web"] + cpu["db"]), 3)
        if result.value is not None and c1:
            result.ratio = result.value / c1
        result.checks.insert(
            0,
            {
                "what": f"≥ {factor} × C1",
                "value": result.ratio,
                "limit": factor,
                "at_most": False,
                "ok": result.ratio is not None and result.ratio >= factor,
            },
        )
        self.save(result)

    def ratio_to(self, result: Result, ceiling: str, value: float | None) -> None:
        """Compare ``value`` with a ceiling measured in this run: C2, "C3 GROUP BY" or "C3 COPY"."""
        result.ceiling = ceiling
        base = self.results.get(ceiling.split()[0].lower())
        if base is None or base.error:
            return
        if ceiling.startswith("C3"):
            base_value = base.details.get("group_by" if "GROUP" in ceiling else "copy", {}).get("seconds")
        else:
            base_value = base.value
        result.ceiling_value = base_value
        if base_value and value is not None:
            result.ratio = value / base_value

    def http_case(self, case: str, script: str, port: int, args: list[str], **kw: Any) -> Result:
        say(f"{case}: {self.scale.duration} s")
        load = os.getloadavg()
        data = self.load(script, port, args, server=self.serving["product"], **kw)
        result = Result(case, data["rps"], "req/s", target=TARGETS[case], details=summary(data))
        result.details["load_average"] = [round(x, 2) for x in load]
        self.results[case] = result
        return result

    def case_send(self, port: int, keys: str, prefixes: str, product: Proc) -> Result:
        result = self.http_case("send", "send.lua", port, [keys, prefixes, "2"], warm_args=[keys, prefixes, "1"])
        result.check("p99 ≤ 50 ms", result.details["p99_ms"], 50, at_most=True)
        result.check("0 errors", result.details["errors"], 0, at_most=True)
        if "memory" in self.cases:
            self.guard("memory", lambda: self.case_memory(product))
        return result

    def case_memory(self, product: Proc) -> Result:
        workers = children(product.pid)
        sizes = {pid: rss_mb(pid) for pid in workers}
        values = [v for v in sizes.values() if v is not None]
        if not values:
            raise BenchError("no gunicorn worker to measure")
        result = Result("memory", max(values), "MB", target=TARGETS["memory"])
        result.details = {"workers_rss_mb": {str(k): round(v or 0, 1) for k, v in sizes.items()}, "after": "send"}
        result.check("≤ 150 MB", result.value, 150, at_most=True)
        self.results["memory"] = result
        self.save(result)
        return result

    def case_send_hot(self, port: int, hot: str, prefixes: str) -> Result:
        before = self.step("hot-state", {"customer": self.hot_customer})
        result = self.http_case("send-hot", "send.lua", port, [hot, prefixes, "4"], warm_args=[hot, prefixes, "3"])
        after = self.step("hot-state", {"customer": self.hot_customer})
        details = result.details
        accepted = details["statuses"].get("201", 0) + (details["warmup"] or {}).get("ok", 0)
        drift = after["remaining"] - (after["funded"] - after["charged"] + after["forfeited"])
        new_charges = after["charges"] - before["charges"]
        # wrk stops with up to one request in flight per connection, per run (warm-up and measured):
        # the server still charges those, and nobody counts their 201.
        in_flight = 2 * self.o.connections
        details["money"] = {
            "before": before,
            "after": after,
            "accepted_201": accepted,
            "new_charges": new_charges,
            "unanswered_at_stop_max": in_flight,
            "balance_drift": drift,
        }
        result.check("0 drift", abs(drift), 0, at_most=True)
        result.check("0 reconcile mismatches", after["reconcile_mismatches"], 0, at_most=True)
        result.check("one charge per 201 (± in flight at stop)", new_charges - accepted, in_flight, at_most=True)
        result.check("no 201 without its charge", new_charges - accepted, 0, at_most=False)
        return result

    def case_check(self, port: int) -> Result:
        rows = self.dir / "check.txt"
        count = self.scale.check_verifications
        say(f"check: {count:,} pending verifications with known codes")
        self.step("check-setup", {"keys": str(self.dir / "keys.tsv"), "count": count, "out": str(rows)})
        threads = str(self.o.threads)
        say(f"check: {self.scale.duration} s")
        load = os.getloadavg()
        warm = self.wrk("check.lua", port, [str(rows), threads, "0"], self.scale.warmup)
        data = self.measured(
            "check.lua",
            port,
            [str(rows), threads, str(warm["requests"] + 2 * self.o.connections)],
            self.serving["product"],
        )
        data["warmup"] = {"requests": warm["requests"], "ok": warm["ok"], "errors": warm["errors"]}
        result = Result("check", data["rps"], "req/s", target=TARGETS["check"], details=summary(data))
        result.details.update(
            load_average=[round(x, 2) for x in load],
            verifications=count,
            wrapped=warm["requests"] + data["requests"] + 64 > count,
        )
        result.check("p99 ≤ 30 ms", data["latency_ms"]["p99"], 30, at_most=True)
        self.results["check"] = result
        return result

    # ---------------------------------------------------------------- Celery

    def celery_phase(self) -> None:
        smpp = self.start("smpp-bind", [PY, "manage.py", "smpp_bind"], self.env())
        workers = self.start_workers()
        try:
            self.wait_for(smpp, lambda: "smpp_bind:" in smpp.log.read_text(errors="replace"), "bound", 30)
            if "c2" in self.cases:
                self.guard("c2", self.case_c2)
            if "dispatch" in self.cases:
                self.guard("dispatch", self.case_dispatch)
        finally:
            self.stop(*workers, smpp)

    def case_c2(self) -> None:
        say(f"C2: {self.scale.c2_tasks:,} no-op tasks end to end")
        data = self.step(
            "c2-run",
            {
                "count": self.scale.c2_tasks,
                "redis_url": self.o.redis_url,
                "counter": f"{self.prefix}c2-counter",
                "timeout": 600,
            },
            timeout=700,
        )
        if not data["finished"]:
            raise BenchError(f"C2: only {data['ran']} of {data['tasks']} no-op tasks ran in time")
        self.results["c2"] = Result("c2", data["per_second"], "tasks/s", details=data)
        self.save(self.results["c2"])

    def case_dispatch(self) -> Result:
        ids = self.dir / "dispatch-ids.txt"
        count = self.scale.dispatch_messages
        say(f"dispatch: creating {count:,} queued SMS through verification_start")
        made = self.step(
            "dispatch-create",
            {"keys": str(self.dir / "keys.tsv"), "count": count, "out": str(ids), "reference": "bench-dispatch"},
            broker="discard",
        )
        say(f"dispatch: created in {made['seconds']} s; {count:,} SMS to the local SMSC, receipts applied")
        before = self.stats("smsc")
        timeout = max(300, self.scale.dispatch_messages // 5)
        data = self.step(
            "dispatch-run", {"ids": str(ids), "timeout": timeout, "reference": "bench-dispatch"}, timeout=timeout + 120
        )
        after = self.stats("smsc")
        smsc = {k: after.get(k, 0) - before.get(k, 0) for k in ("submits", "accepted", "receipts_acked")}
        smsc["duplicates"] = after.get("duplicates", 0) - before.get("duplicates", 0)
        data["smsc"] = smsc
        result = Result("dispatch", data["per_second"], "msg/s", target=TARGETS["dispatch"], details=data)
        self.ratio_to(result, "C2", data["per_second"])
        result.check("≥ 1.0 × C2", result.ratio, 1.0, at_most=False)
        result.check("all delivered", data["delivered"], data["messages"], at_most=False)
        result.details["create_seconds"] = made["seconds"]
        self.results["dispatch"] = result
        self.save(result)
        return result

    # ---------------------------------------------------------------- month end

    def month_phase(self) -> None:
        period = self.step("period", {})["period"]
        s = self.scale
        say(
            f"month data: {s.postpaid:,} postpaid customers, {s.charges:,} charges in {period[:7]} ({s.heavy_rows:,} for one)"
        )
        made = self.step(
            "month-data",
            {
                "dir": str(self.dir),
                "period": period,
                "customers": s.postpaid,
                "rows": s.charges,
                "heavy_rows": s.heavy_rows,
                "guarantee": 10_000_000,
            },
            timeout=3600,
        )
        say(f"month data: inserted in {made['insert_seconds']} s, vacuumed in {made['vacuum_seconds']} s")
        month = json.loads((self.dir / "month.json").read_text())
        c3: dict[str, Any] = {"data": made}
        if {"c3", "month-end"} & set(self.cases):
            say("C3: GROUP BY of the month, median of 3")
            c3.update(self.step("c3", {"database_url": self.database_url, "period": period, "which": ["group_by"]}))
            self.save_c3(c3)
        if "month-end" in self.cases or "csv" in self.cases or "month-end-docs" in self.cases:
            self.guard("month-end", lambda: self.case_month_end(period, timed="month-end" in self.cases))
        if {"c3", "csv"} & set(self.cases):
            say("C3: COPY of one customer's month, median of 3")
            c3.update(
                self.step(
                    "c3",
                    {
                        "database_url": self.database_url,
                        "period": period,
                        "which": ["copy"],
                        "customer": month["heavy_customer"],
                    },
                )
            )
            self.save_c3(c3)
        if "csv" in self.cases and self.invoices_issued:
            self.guard("csv", lambda: self.case_csv())
        if "month-end-docs" in self.cases and self.invoices_issued:
            self.guard("month-end-docs", lambda: self.case_docs(period))

    def save_c3(self, data: dict[str, Any]) -> None:
        group = data.get("group_by", {}).get("seconds")
        result = Result("c3", group, "s (GROUP BY)", details=data)
        self.results["c3"] = result
        self.save(result)

    def case_month_end(self, period: str, *, timed: bool) -> None:
        say(f"month-end: close_month for {period[:7]}" + ("" if timed else " (not timed: needed by csv/docs)"))
        data = self.step("month-close", {"period": period, "dir": str(self.dir)}, broker="discard", timeout=3600)
        self.invoices_issued = data["issued"] > 0
        if not timed:
            return
        result = Result("month-end", data["seconds"], "s", target=TARGETS["month-end"], details=data)
        self.ratio_to(result, "C3 GROUP BY", data["seconds"])
        result.check("≤ 3 × C3 GROUP BY", result.ratio, 3, at_most=True)
        self.results["month-end"] = result
        self.save(result)

    def case_csv(self) -> None:
        month = json.loads((self.dir / "month.json").read_text())
        product, port = self.start_gunicorn("gunicorn-csv", "otpportal.wsgi:application", self.env("web"))
        try:
            heavy = month["heavy_invoice"].replace("/", "-")
            small = (month.get("small_invoice") or month["heavy_invoice"]).replace("/", "-")
            small_auth = {"Authorization": f"Bearer {month['small_key']}"}
            # Warm both workers up (imports, connections) on the small customer's CSV.
            for _ in range(2):
                warm = [
                    threading.Thread(target=http_get, args=(port, f"/api/v1/invoices/{small}/csv", small_auth, 60))
                    for _ in range(self.o.gunicorn_workers)
                ]
                for thread in warm:
                    thread.start()
                for thread in warm:
                    thread.join()
            workers = children(product.pid)
            before = {pid: (rss_mb(pid) or 0.0, cpu_ticks(pid)) for pid in workers}
            peak = {pid: rss for pid, (rss, _cpu) in before.items()}
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.wait(0.02):
                    for pid in workers:
                        peak[pid] = max(peak[pid], rss_mb(pid) or 0.0)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            say(f"csv: GET /api/v1/invoices/{heavy}/csv ({self.scale.heavy_rows:,} rows)")
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            size = lines = 0
            try:
                conn.request(
                    "GET", f"/api/v1/invoices/{heavy}/csv", headers={"Authorization": f"Bearer {month['heavy_key']}"}
                )
                response = conn.getresponse()
                status = response.status
                while chunk := response.read(65536):
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            finally:
                conn.close()
            seconds = time.perf_counter() - t0
            sampling.set()
            sampler.join()
            after = {pid: (rss_mb(pid) or 0.0, cpu_ticks(pid)) for pid in workers}
        finally:
            self.stop(product)
        served = max(workers, key=lambda pid: after[pid][1] - before[pid][1])
        growth_peak = peak[served] - before[served][0]
        details = {
            "status": status,
            "bytes": size,
            "rows": max(0, lines - 1),
            "expected_rows": self.scale.heavy_rows,
            "served_by": served,
            "rss_before_mb": round(before[served][0], 1),
            "rss_peak_mb": round(peak[served], 1),
            "rss_after_mb": round(after[served][0], 1),
            "memory_growth_mb": round(growth_peak, 1),
        }
        result = Result("csv", seconds, "s", target=TARGETS["csv"], details=details)
        self.ratio_to(result, "C3 COPY", seconds)
        result.check("≤ 3 × C3 COPY", result.ratio, 3, at_most=True)
        result.check("memory growth ≤ 50 MB", growth_peak, 50, at_most=True)
        result.check("all rows", details["rows"], self.scale.heavy_rows, at_most=False)
        if status != 200:
            result.error = f"HTTP {status}"
        self.results["csv"] = result
        self.save(result)

    def case_docs(self, period: str) -> None:
        smpp = self.start("smpp-bind-docs", [PY, "manage.py", "smpp_bind"], self.env())
        workers = self.start_workers()
        try:
            before = self.stats("smtp")
            say("month-end-docs: invoice PDFs rendered and emailed by the workers")
            data = self.step(
                "docs-run", {"period": period, "timeout": 3600, "smtp_stats": str(self.dir / "smtp.json")}, timeout=3800
            )
            after = self.stats("smtp")
        finally:
            self.stop(*workers, smpp)
        data["smtp"] = {k: after.get(k, 0) - before.get(k, 0) for k in ("messages", "bytes", "recipients")}
        result = Result("month-end-docs", data["seconds"], "s", target=TARGETS["month-end-docs"], details=data)
        result.check("≤ 120 s", data["seconds"], 120, at_most=True)
        result.check("all emailed", min(data["emailed"], data["mails_received"]), data["invoices"], at_most=False)
        self.results["month-end-docs"] = result
        self.save(result)

    # ---------------------------------------------------------------- bookkeeping

    def guard(self, case: str, run: Any) -> Result | None:
        """Run one case; a failure is recorded against it and the run goes on."""
        try:
            result = run()
        except BenchError as exc:
            say(f"{case} FAILED: {exc}")
            result = self.results.get(case) or Result(case, None, "", target=TARGETS.get(case, ""))
            result.error = str(exc)[:2000]
            self.results[case] = result
            self.save(result)
            return None
        return result if isinstance(result, Result) else None

    def save(self, result: Result) -> None:
        folder = Path(self.o.results_dir)
        folder.mkdir(parents=True, exist_ok=True)
        data = result.as_dict()
        data["run"] = self.run_info()
        (folder / f"{result.case}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
        say(
            f"{result.case}: {fmt_value(result)}" + (f" — ratio {result.ratio:.2f}" if result.ratio is not None else "")
        )

    def run_info(self) -> dict[str, Any]:
        return {
            "started_at": self.started.isoformat(timespec="seconds"),
            "quick": self.o.quick,
            "scale": self.scale.__dict__,
            "machine": machine(),
            "load_average_at_start": [round(x, 2) for x in self.load_before],
            "gunicorn": f"{self.o.gunicorn_workers} {self.o.gunicorn_class} workers"
            + (f" × {self.o.gunicorn_threads} threads" if self.o.gunicorn_class == "gthread" else ""),
            "wrk": f"{self.o.threads} threads, {self.o.connections} connections",
            "celery_workers": self.o.workers,
            "code": self.o.code or code_version(),
        }

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop(10, on_timeout=say)
        self.procs.clear()
        if self.o.keep:
            say(f"kept database {self.db_name} and {self.dir} (--keep)")
            return
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(self.o.redis_url, socket_timeout=5)
            doomed = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            for start in range(0, len(doomed), 500):
                client.delete(*doomed[start : start + 500])
        if self.db_created:
            import psycopg

            try:
                with psycopg.connect(self.o.pg_url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            except psycopg.Error as exc:
                say(f"could not drop {self.db_name}: {exc}")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- Reporting ---------------------------------------------------------------------------


def summary(data: dict[str, Any]) -> dict[str, Any]:
    latency = data["latency_ms"]
    return {
        "requests": data["requests"],
        "rps": round(data["rps"], 1),
        "p50_ms": round(latency["p50"], 2),
        "p90_ms": round(latency["p90"], 2),
        "p99_ms": round(latency["p99"], 2),
        "max_ms": round(latency["max"], 2),
        "errors": data["errors"],
        "non2xx": data["non2xx"],
        "statuses": data["statuses"],
        "socket_errors": data["socket_errors"],
        "error_samples": data["samples"],
        "warmup": data.get("warmup"),
        "cpu_ms_per_request": data.get("cpu_ms_per_request"),
    }


def num(value: float | None, unit: str) -> str:
    """A value as the table shows it: rates whole, seconds to 0.01 (0.1 past 10 s), MB to 0.1."""
    if value is None:
        return "—"
    if unit.startswith("s"):
        decimals = 2 if abs(value) < 10 else 1
    elif unit == "MB":
        decimals = 1
    else:
        decimals = 1 if abs(value) < 10 else 0
    return f"{value:,.{decimals}f} {unit}"


def fmt_value(result: Result) -> str:
    if result.value is None:
        return "—"
    d = result.details
    if result.case == "c3":
        copy = d.get("copy", {}).get("seconds")
        return f"GROUP BY {num(result.value, 's')}" + (f", COPY {num(copy, 's')}" if copy is not None else "")
    text = num(result.value, result.unit)
    if "p99_ms" in d:
        text += f" (p50 {d['p50_ms']:.0f} ms, p99 {d['p99_ms']:.0f} ms, {d['errors']} errors"
        cpu = d.get("cpu_ms_per_request")
        text += f"; CPU {cpu['web'] + cpu['db']:.1f} ms/req)" if cpu else ")"
    if result.case == "c1" and d.get("cpu_ms_per_request_mean") is not None:
        text += f" (CPU {d['cpu_ms_per_request_mean']:.1f} ms/req)"
    if result.case == "dispatch":
        smsc = d.get("smsc", {})
        text += (
            f" ({d.get('delivered')}/{d.get('messages')} delivered; the SMSC got {smsc.get('submits')}, "
            f"{smsc.get('duplicates')} duplicates)"
        )
    if result.case == "csv":
        text += f" (+{d.get('memory_growth_mb')} MB RSS, {d.get('rows'):,} rows)"
    if result.case == "send-hot":
        text += f" (drift {d.get('money', {}).get('balance_drift')})"
    if result.case == "month-end-docs":
        text += f" ({d.get('invoices'):,} invoices)"
    if result.case == "month-end" and d.get("issued") is not None:
        text += f" ({d['issued']:,} invoices)"
    return text


def ceiling_text(result: Result) -> str:
    if not result.ceiling:
        return ""
    unit = {"C1": "req/s", "C2": "tasks/s"}.get(result.ceiling, "s")
    return f"{result.ceiling} {num(result.ceiling_value, unit)}"


def table(results: dict[str, Result]) -> str:
    rows = [("case", "value", "ceiling", "ratio", "target", "met")]
    for case in ORDER:
        result = results.get(case)
        if result is None:
            continue
        ceiling = ceiling_text(result)
        ratio = f"{result.ratio:.2f}" if result.ratio is not None else ""
        met = {True: "yes", False: "NO", None: ""}[result.met]
        value = (
            fmt_value(result)
            if not result.error or result.value is not None
            else "error: " + result.error.splitlines()[0][:80]
        )
        if result.error and result.value is not None:
            value += " [error]"
        rows.append((case, value, ceiling, ratio, result.target, met))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count()}
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["ram_gib"] = round(int(mem[1]) / 1024 / 1024, 1)
    with contextlib.suppress(OSError, StopIteration):
        info["cpu"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return info


def update_readme(bench: Bench, elapsed: float) -> None:
    """Keep the latest full table in bench/README.md, between its markers."""
    start, end = "<!-- bench:latest:start -->", "<!-- bench:latest:end -->"
    text = README.read_text()
    if start not in text or end not in text:
        say("bench/README.md has no results markers; not updated")
        return
    info = machine()
    wib = bench.started.astimezone(ZoneInfo("Asia/Jakarta"))
    block = "\n".join(
        [
            start,
            f"Latest full run: **{wib:%Y-%m-%d %H:%M} WIB**, {elapsed / 60:.0f} min; "
            f"machine: {info.get('nproc')} CPUs ({info.get('cpu', '?')}), {info.get('ram_gib', '?')} GiB RAM; "
            f"load average {fmt_load(bench.load_before)} at the start, {fmt_load(os.getloadavg())} at the end "
            "(shared with other engineers' test runs).",
            f"Setup: gunicorn {bench.run_info()['gunicorn']}, wrk {bench.run_info()['wrk']}, "
            f"{bench.scale.duration} s per HTTP case after {bench.scale.warmup} s of warm-up; "
            f"Celery workers `{bench.o.workers}` (name:queues:concurrency); code {bench.o.code or code_version()}.",
            "",
            table(bench.results),
            end,
        ]
    )
    README.write_text(text[: text.index(start)] + block + text[text.index(end) + len(end) :])
    say("bench/README.md updated")


def code_version() -> str:
    """The commit measured, and whether the working tree had changes on top of it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (f" + {len(dirty.splitlines())} changed files" if dirty else "")


def fmt_load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def host_port(url: str, default: int) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default


def product_variables() -> set[str]:
    """Every variable the product's settings read (``.env.example``): none leaks in from the caller."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE)) | {"DJANGO_SETTINGS_MODULE"}


def selected(requested: list[str]) -> list[str]:
    wanted = set()
    for item in requested:
        for case in item.split(","):
            case = case.strip()
            if not case:
                continue
            if case not in ORDER:
                raise BenchError(f"unknown case {case!r}; one of: {', '.join(ORDER)}")
            wanted.add(case)
    if not wanted:
        wanted = set(ORDER)
    changed = True
    while changed:
        before = len(wanted)
        for case in list(wanted):
            wanted |= NEEDS.get(case, set())
        changed = len(wanted) != before
    return [case for case in ORDER if case in wanted]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", default=[], help="a case (repeat or comma-separate); default all")
    parser.add_argument("--quick", action="store_true", help="small data and 5 s runs: a smoke test")
    parser.add_argument("--duration", type=int, default=0, help="seconds per HTTP case (default 30, quick 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--gunicorn-threads", type=int, default=4, help="with --gunicorn-class gthread")
    parser.add_argument("--gunicorn-args", default="", help="more gunicorn flags, for the product and C1 alike")
    parser.add_argument(
        "--workers",
        default="otp:otp:8;dispatch:dispatch-sms,dispatch-wa,default,billing:4;webhooks:webhooks:8",
        help="Celery workers as name:queues:concurrency;… (default: the README's production lines)",
    )
    parser.add_argument("--conn-max-age", type=int, default=60, help="CONN_MAX_AGE (the product's default)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the product's processes")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres", help="an admin connection")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--readme", choices=["auto", "yes", "no"], default="auto", help="update bench/README.md")
    parser.add_argument("--code", default="", help="what is measured, when the folder is not a git checkout")
    parser.add_argument("--results-dir", default=str(RESULTS), help="where <case>.json go (default bench/results)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the run's folder (debugging)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    try:
        cases = selected(options.case)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    bench = Bench(options, cases)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`cmd &`)
    say(f"cases: {', '.join(cases)}; {'quick' if options.quick else 'full'} data; run folder {bench.dir}")
    t0 = time.monotonic()
    code = 0
    try:
        bench.run()
    except BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("\nbench: interrupted; cleaning up", file=sys.stderr)
        code = 130
    finally:
        bench.cleanup()
    elapsed = time.monotonic() - t0
    if bench.results:
        print()
        print(table(bench.results))
        print(f"\n{len(cases)} case(s) in {elapsed / 60:.1f} min; results in {options.results_dir}/")
        complete = set(bench.results) >= set(ORDER) and not options.quick
        if code == 0 and (options.readme == "yes" or (options.readme == "auto" and complete)):
            update_readme(bench, elapsed)
    return code


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
