"""A real Celery worker process against Redis, sharing the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
QUEUES = "otp,dispatch-sms,dispatch-wa,webhooks,billing,default"


_started: list[Worker] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Never leave a worker behind, even after an interrupted test."""
    for worker in _started:
        worker.kill()


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = ROOT / "var" / f"e2e-worker-{os.getpid()}.log"

    def start(self) -> None:
        self.log.parent.mkdir(exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "otpportal",
                    "worker",
                    "-Q",
                    QUEUES,
                    "-c",
                    "3",
                    "--pool",
                    "prefork",
                    "-l",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"e2e-{os.getpid()}-{time.monotonic_ns()}@localhost",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        from otpportal.celery import app

        _started.append(self)
        try:
            wait_for(lambda: app.control.ping(timeout=0.5), timeout=30)
        except AssertionError:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the whole process group: no goodbye, no acks."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def e2e_broker() -> Iterator[str]:
    """The Redis broker this process and its workers share (CELERY_BROKER_URL,
    set by bin/run-tests, with this run's CELERY_BROKER_KEYPREFIX). Emptied
    first: tasks other tests published with no worker listening must not
    reach these workers."""
    import redis

    from otpportal.celery import app

    broker = os.environ.get("CELERY_BROKER_URL", "")
    assert broker.startswith("redis://"), "end-to-end tests need CELERY_BROKER_URL on Redis"
    client = redis.Redis.from_url(broker)
    prefix = os.environ.get("CELERY_BROKER_KEYPREFIX", "")
    for key in client.scan_iter(f"{prefix}*" if prefix else "*"):
        client.delete(key)
    old_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield broker
    app.conf.task_always_eager = old_eager


@pytest.fixture
def worker_env(transactional_db: None, shipped_price_list: None, e2e_broker: str, settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    broker = e2e_broker
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    settings.REDIS_URL = ""
    settings.DISPATCH_CLAIM_TIMEOUT = 3
    settings.OUTBOX_SWEEP_AFTER = 1
    return {
        **os.environ,
        "DATABASE_URL": url,
        "TESTING": "true",
        "CELERY_BROKER_URL": broker,
        "REDIS_URL": "",
        "SANDBOX_DELIVERY_DELAY": "0.2",
        "DISPATCH_CLAIM_TIMEOUT": "3",
        "OUTBOX_SWEEP_AFTER": "1",
        "CONN_MAX_AGE": "0",
    }


@pytest.fixture
def worker(worker_env: dict[str, str]) -> Iterator[Worker]:
    w = Worker(worker_env)
    w.start()
    yield w
    w.stop()
    from django.db import connections

    connections.close_all()
