"""One drill's world: its own PostgreSQL and Redis, the product's processes against them,
and the upstreams and the customer's webhook receiver in this process.

The product runs as in production (``DEBUG`` off, README "Running in production"):
gunicorn, three Celery workers on the README's queues, one beat, ``smpp_bind``. SMS go
over SMPP to the local SMSC, WhatsApp to the local gateway and Cloud API servers, whose
status callbacks come back through the product's own webhooks. What the drills change
from the defaults, and why, is ``DRILL_SETTINGS`` and ``SWEEPS`` (drills/README.md).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from devservers._http import CallbackReceiver
from devservers.smsc import SmscServer
from devservers.wa_cloud import DEV_APP_SECRET, DEV_TOKEN, WaCloudDevServer
from devservers.wa_gateway import DEV_CALLBACK_SECRET, WaGatewayDevServer
from devservers.wa_gateway import DEV_TOKEN as GATEWAY_TOKEN
from drills.infra import ROOT, DrillError, Postgres, Proc, RedisServer, free_port, pause, say, spawn, wait_until

PY = sys.executable
RUNS = ROOT / "var" / "drills" / "runs"
WA_PHONE_NUMBER_ID = "100000000000001"

# What the drills set apart from the production defaults, and why (drills/README.md).
DRILL_SETTINGS: dict[str, str] = {
    # The drills prove faults lose nothing; abuse limits are proved by the hostile-input tests.
    "LIMIT_KEY_RATE": "100000",
    "LIMIT_KEY_BURST": "100000",
    "LIMIT_NUMBER_PER_HOUR": "1000",
    "PUMPING_MIN_NUMBERS": "1000000",
    # Recovery within a drill's minutes rather than production's: a dead worker's claim is
    # retaken after 75 s (production 150 s; still above a send, which the 5 s SMPP response
    # timeout bounds, plus a worker's 60 s of trying to record it through a database
    # restart), a lost task re-enqueued after 5 s (30 s), a silent bind noticed within 5 s.
    "DISPATCH_CLAIM_TIMEOUT": "75",
    "OUTBOX_SWEEP_AFTER": "5",
    "SMPP_RESPONSE_TIMEOUT": "5",
    "SMPP_ENQUIRE_LINK_INTERVAL": "5",
    "FALLBACK_AFTER_DOWN": "15",
    "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",  # the customer's receiver listens on 127.0.0.1
}

# Beat's sweeps, more often than production's 15 s and 60 s (seconds), set the way an
# operator sets them in the admin's periodic tasks (django-celery-beat) once beat has
# written its schedule: lost tasks come back within a drill's minutes.
SWEEPS = {"messaging-sweep-outbox": 5, "messaging-retry-webhooks": 10}

# Variables of the product that a drill never inherits from the shell (tests, CI, .env).
_INHERITED_NEVER = re.compile(r"^(TESTING|CI|DJANGO_SETTINGS_MODULE|PYTEST_.*|CELERY_.*|TEST_.*)$")


def product_variables() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


@dataclass
class Customer:
    slug: str
    id: int
    live_key: str
    test_key: str
    deposit: int
    session: str = ""  # the owner's dashboard session (cookie ``sessionid``)
    webhook_secret: str = ""


@dataclass
class Stack:
    """``with Stack("worker-kill") as stack:`` starts everything; leaving stops and removes it all."""

    name: str
    overrides: dict[str, str] = field(default_factory=dict)
    workers: dict[str, tuple[str, int]] = field(
        default_factory=lambda: {
            "otp": ("otp", 4),
            "dispatch": ("dispatch-sms,dispatch-wa,default,billing", 2),
            "webhooks": ("webhooks", 2),
        }
    )
    keep_logs: bool = True

    def __post_init__(self) -> None:
        self.dir = RUNS / f"{self.name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        self.logs = self.dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pg = Postgres(self.dir / "pg")
        self.redis = RedisServer(self.dir / "redis")
        self.web_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.smsc = SmscServer(credentials={"otp": "secret"}, receipt_delay=0.2, redeliver_delay=1.0)
        self.wa_cloud = WaCloudDevServer(callback_url=f"{self.base_url}/webhooks/wa-cloud", callback_delay=0.2)
        self.wa_gateway = WaGatewayDevServer(callback_url=f"{self.base_url}/webhooks/wa-gateway", callback_delay=0.2)
        self.receiver = CallbackReceiver()
        self.procs: dict[str, Proc] = {}
        self.secret_key = secrets.token_urlsafe(48)
        self.hmac_key = secrets.token_urlsafe(48)
        self.customers: list[Customer] = []
        self.spare: list[Customer] = []  # made ahead, each for one drill (drills.common.new_customer)

    # ------------------------------------------------------------------ environment

    def env(self, **extra: str) -> dict[str, str]:
        drop = product_variables()
        env = {k: v for k, v in os.environ.items() if k not in drop and not _INHERITED_NEVER.match(k)}
        env.update(
            DJANGO_SETTINGS_MODULE="otpportal.settings",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            DEBUG="false",
            SECRET_KEY=self.secret_key,
            OTP_HMAC_KEY=self.hmac_key,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            DATABASE_URL=self.pg.url("otpportal"),
            REDIS_URL=self.redis.url(0),
            CELERY_BROKER_URL=self.redis.url(1),
            EMAIL_URL="dummymail://",
            MEDIA_ROOT=str(self.dir / "media"),
            LOG_LEVEL="INFO",
            PROVIDER_SMS="smpp",
            PROVIDER_WA="wa_gateway",
            PROVIDER_WA_OFFICIAL="wa_cloud",
            SMPP_ACCOUNTS=f"smpp://otp:secret@127.0.0.1:{self.smsc.port}/?name=main&tps=500",
            WA_CLOUD_BASE_URL=self.wa_cloud.base_url,
            WA_CLOUD_TOKEN=DEV_TOKEN,
            WA_CLOUD_PHONE_NUMBER_ID=WA_PHONE_NUMBER_ID,
            WA_CLOUD_APP_SECRET=DEV_APP_SECRET,
            WA_CLOUD_VERIFY_TOKEN="drill-verify",
            WA_CLOUD_TIMEOUT="5",
            WA_GATEWAY_BASE_URL=self.wa_gateway.base_url,
            WA_GATEWAY_TOKEN=GATEWAY_TOKEN,
            WA_GATEWAY_CALLBACK_SECRET=DEV_CALLBACK_SECRET,
            WA_GATEWAY_TIMEOUT="5",
        )
        env.update(DRILL_SETTINGS)
        env.update(self.overrides)
        env.update(extra)
        return env

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        say(f"{self.name}: own PostgreSQL on {self.pg.port}, own Redis on {self.redis.port}")
        self.pg.init()
        self.pg.start()
        self.psql("CREATE DATABASE otpportal", database="postgres")
        self.redis.start(self.logs)
        self.smsc.start()
        self.wa_cloud.start()
        self.wa_gateway.start()
        self.receiver.start()
        self.manage("migrate", "--noinput", "-v", "0", timeout=900)
        # The pages need the static files' manifest, as in production; collected without the
        # compressed copies (3 s instead of a minute: drills.static_settings).
        self.manage("collectstatic", "--noinput", "-v", "0", "--settings", "drills.static_settings", timeout=300)
        self.start_web()
        for name in self.workers:
            self.start_worker(name)
        self.start_beat()
        self.start_bind()
        for name in self.workers:
            self.wait_worker(name)
        self.tune_sweeps()
        wait_until(lambda: self.smsc.bound_sessions("otp") >= 1, 60, "smpp_bind bound to the SMSC")

    def close(self) -> None:
        for proc in list(self.procs.values()):
            proc.stop(timeout=10)
        self.procs.clear()
        for server in (self.receiver, self.wa_gateway, self.wa_cloud, self.smsc):
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - tearing down: go on with the rest
                say(f"stopping {type(server).__name__}: {exc}")
        if self.redis.proc is not None:
            self.redis.stop()
        self.pg.destroy()

    # ------------------------------------------------------------------ the product's processes

    def manage(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode:
            raise DrillError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        return done

    def _spawn(self, name: str, argv: list[str]) -> Proc:
        old = self.procs.get(name)
        if old is not None and old.alive():
            raise DrillError(f"{name} is already running")
        proc = spawn(name, argv, self.env(), self.logs)
        self.procs[name] = proc
        return proc

    def start_web(self) -> Proc:
        argv = [str(Path(PY).parent / "gunicorn"), "otpportal.wsgi:application", "--bind", f"127.0.0.1:{self.web_port}",
                "--workers", "2", "--worker-class", "gthread", "--threads", "4", "--timeout", "60",
                "--control-socket", str(self.dir / "gunicorn.ctl")]  # fmt: skip
        proc = self._spawn("web", argv)

        def answers() -> bool:
            try:
                return requests.get(f"{self.base_url}/healthz", timeout=3).status_code == 200
            except requests.RequestException:
                if not proc.alive():
                    raise DrillError(f"gunicorn exited:\n{proc.tail()}") from None
                return False

        wait_until(answers, 90, "gunicorn answers /healthz")
        return proc

    def start_worker(self, name: str) -> Proc:
        queues, concurrency = self.workers[name]
        argv = [PY, "-m", "celery", "-A", "otpportal", "worker", "-Q", queues, "-c", str(concurrency),
                "-n", f"{name}@drill-{os.getpid()}", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]  # fmt: skip
        return self._spawn(f"worker-{name}", argv)

    def wait_worker(self, name: str, since: int = 0) -> None:
        proc = self.procs[f"worker-{name}"]

        def ready() -> bool:
            if not proc.alive():
                raise DrillError(f"worker {name} exited:\n{proc.tail()}")
            return " ready." in proc.text()[since:]

        wait_until(ready, 120, f"worker {name} ready")

    def restart_worker(self, name: str) -> None:
        proc = self.procs.pop(f"worker-{name}")
        proc.stop()
        offset = len(proc.text())
        self.start_worker(name)
        self.wait_worker(name, since=offset)

    def start_beat(self) -> Proc:
        argv = [PY, "-m", "celery", "-A", "otpportal", "beat", "--loglevel", "INFO",
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]  # fmt: skip
        return self._spawn("beat", argv)

    def tune_sweeps(self) -> None:
        """``SWEEPS``: each sweep's interval in beat's database schedule, then the change marked,
        so the running beat reloads it (``Schedule changed`` in its log)."""
        names = list(SWEEPS)
        wait_until(
            lambda: (
                len(self.psql("SELECT 1 FROM django_celery_beat_periodictask WHERE name = ANY(%s)", (names,)))
                == len(names)
            ),
            60,
            "beat wrote its schedule",
        )
        for name, seconds in SWEEPS.items():
            found = self.psql(
                "SELECT id FROM django_celery_beat_intervalschedule WHERE every = %s AND period = 'seconds'", (seconds,)
            )
            interval = (found or self.psql(
                "INSERT INTO django_celery_beat_intervalschedule (every, period) VALUES (%s, 'seconds') RETURNING id",
                (seconds,),
            ))[0][0]  # fmt: skip
            self.psql("UPDATE django_celery_beat_periodictask SET interval_id = %s WHERE name = %s", (interval, name))
        beat = self.procs["beat"]
        reloads = beat.text().count("Schedule changed")  # any reload from now on reads the new intervals
        self.psql(
            "INSERT INTO django_celery_beat_periodictasks (ident, last_update) VALUES (1, now()) "
            "ON CONFLICT (ident) DO UPDATE SET last_update = now()"
        )
        wait_until(lambda: beat.text().count("Schedule changed") > reloads, 30, "beat reloaded its schedule")

    def start_bind(self) -> Proc:
        return self._spawn("smpp_bind", [PY, "manage.py", "smpp_bind"])

    # ------------------------------------------------------------------ data

    def psql(self, sql: str, params: tuple[Any, ...] = (), *, database: str = "otpportal") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.pg.url(database), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def add_customers(self, count: int, *, deposit: int) -> list[Customer]:
        base = len(self.customers)
        spec = {
            "customers": [
                {"name": f"Drill {self.name} {base + i}", "slug": f"drill-{base + i}", "deposit": deposit}
                for i in range(count)
            ]
        }
        done = subprocess.run(
            [PY, "-m", "drills.setup", json.dumps(spec)],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        line = next((x for x in done.stdout.splitlines() if x.startswith("DRILLSETUP ")), None)
        if done.returncode or line is None:
            raise DrillError(f"drill setup failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        made = [Customer(deposit=deposit, **c) for c in json.loads(line.removeprefix("DRILLSETUP "))["customers"]]
        for customer in made:
            response = requests.post(
                f"{self.base_url}/api/v1/webhooks",
                json={"url": self.receiver.url},
                headers={"Authorization": f"Bearer {customer.live_key}"},
                timeout=30,
            )
            if response.status_code != 201:
                raise DrillError(f"webhook registration: {response.status_code} {response.text[:300]}")
            customer.webhook_secret = response.json()["secret"]
        self.customers.extend(made)
        return made

    def reconcile(self) -> tuple[int, str]:
        """``manage.py reconcile``: (differences, its output). 0 when the ledger and the balances agree."""
        done = self.manage("reconcile", check=False, timeout=300)
        text = (done.stdout + done.stderr).strip()
        if done.returncode == 0:
            return 0, text
        return max(1, len(re.findall(r"^\s*\S+.*(?:ledger|lots|guarantee)", done.stdout, re.MULTILINE))), text

    def log_lines(self, pattern: str) -> int:
        """How many lines of the product's logs match ``pattern``."""
        regex = re.compile(pattern)
        return sum(1 for proc in self.procs.values() for line in proc.text().splitlines() if regex.search(line))

    def wait_quiet(self, seconds: float) -> None:
        pause(seconds)
