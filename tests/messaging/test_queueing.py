"""``messaging.queueing`` enqueues tasks by name (nothing below tasks.py imports it), through a
Celery signature: in a process that never imported ``messaging.tasks`` (a web process) the task
still runs inline under ``task_always_eager``, where ``send_task`` would publish it instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import django

django.setup()
from celery import current_app

from messaging import queueing

assert "messaging.tasks" not in sys.modules, "imported too early: the test proves nothing"
assert current_app.conf.task_always_eager
queueing.enqueue_dispatch("msg_nobody", channel="sms")
assert "messaging.tasks.dispatch" in current_app.tasks
print("ran inline")
"""


def test_enqueue_by_name_runs_inline_under_eager_in_a_process_without_the_tasks_module() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "otpportal.settings",
        "TESTING": "true",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "memory://",  # a publish would land here, not run anything
        "DATABASE_URL": "sqlite://:memory:",  # never the developer's database
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ran inline" in done.stdout
    # The dispatch task itself ran in this process (and found no table in that empty database).
    assert "messaging.tasks.dispatch[" in done.stderr, done.stderr[-2000:]
