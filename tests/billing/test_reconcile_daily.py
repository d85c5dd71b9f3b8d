"""The daily reconciliation (Review 8.6): beat runs ``billing.tasks.reconcile``
at 00:30 WIB, after the daily run; it emails staff (``ADMINS``) listing each
mismatch between the ledger and the balances it projects, and only then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core import mail
from pytest_django.fixtures import Settings

from accounts.models import Customer
from billing import services, tasks
from billing.models import DepositLot
from otpportal.celery import app
from tests.factories import CustomerFactory
from tests.helpers import Capture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def finance_admins(settings: Settings) -> None:
    settings.ADMINS = [("Finance", "finance@otp.test")]


@pytest.fixture
def toko() -> Customer:
    customer = CustomerFactory(slug="toko")
    services.lot_create(customer=customer, amount=10_000, reference="a")
    services.charge(customer=customer, channel="sms", operator="xl", units=1, reference="m")  # 9.310 left
    return customer


def reconcile_task(capture: Capture) -> dict[str, int]:
    """What beat enqueues, run eagerly (after-commit callbacks executed)."""
    with capture(execute=True):
        return tasks.reconcile.delay().get()


def test_review_8_6_no_email_when_the_books_agree(toko: Customer, django_capture_on_commit_callbacks: Capture) -> None:
    assert reconcile_task(django_capture_on_commit_callbacks) == {"mismatches": 0}
    assert mail.outbox == []


def test_review_8_6_a_mismatch_emails_staff_listing_each_one(
    toko: Customer, django_capture_on_commit_callbacks: Capture
) -> None:
    other = CustomerFactory(slug="warung")
    services.lot_create(customer=other, amount=500_000, reference="b")
    CustomerFactory(slug="fine-one")
    toko_lot = DepositLot.objects.get(customer=toko)
    DepositLot.objects.filter(pk=toko_lot.pk).update(remaining=9_999)  # behind the ledger's back
    DepositLot.objects.filter(customer=other).update(remaining=400_000)

    assert reconcile_task(django_capture_on_commit_callbacks) == {"mismatches": 2}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["finance@otp.test"]
    assert "2 mismatch(es)" in message.subject
    assert (
        f"toko (customer #{toko.pk}): deposit ledger Rp 9.310 != lots Rp 9.999; lot(s) #{toko_lot.pk}" in message.body
    )
    assert f"warung (customer #{other.pk}): deposit ledger Rp 500.000 != lots Rp 400.000" in message.body
    assert "fine-one" not in message.body


def test_review_8_6_beat_runs_the_reconciliation_at_00_30_after_the_daily_run() -> None:
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["billing-reconcile"]["task"] == "billing.tasks.reconcile" == tasks.reconcile.name
    assert schedule["billing-reconcile"]["schedule"] == crontab(hour=0, minute=30)
    assert schedule["billing-run-daily"]["schedule"] == crontab(hour=0, minute=10)
    assert app.conf.timezone == "Asia/Jakarta"  # WIB


def _settings_in_a_fresh_process(code: str, **env: str) -> str:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "otpportal.settings", "TESTING": "true", **env}
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_review_8_6_admins_are_read_from_the_environment() -> None:
    printed = _settings_in_a_fresh_process(
        "from django.conf import settings; print(settings.ADMINS)",
        ADMINS="Finance <finance@example.co.id>, ops@example.co.id",
    )
    assert printed == "[('Finance', 'finance@example.co.id'), ('', 'ops@example.co.id')]"


def test_billing_notify_is_registered_in_every_process() -> None:
    """Notifications enqueue ``billing.tasks.notify`` by name; the name
    resolves (and so honours task_always_eager) without importing the
    tasks module first."""
    printed = _settings_in_a_fresh_process(
        "from celery import current_app; print(sorted(n for n in current_app.tasks if n.startswith('billing.')))"
    )
    assert "'billing.tasks.notify'" in printed and "'billing.tasks.reconcile'" in printed


def test_notifications_never_import_billing_tasks() -> None:
    """House rule: tasks may import notifications, never the reverse."""
    import ast

    tree = ast.parse((ROOT / "billing" / "notifications.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {node.module or ""} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert "billing.tasks" not in imported
