"""The Celery app. Queues (architecture.md): otp (high priority),
dispatch-sms, dispatch-wa, billing, webhooks, default."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpportal.settings")

app = Celery("otpportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [
    Queue("otp"),
    Queue("dispatch-sms"),
    Queue("dispatch-wa"),
    Queue("billing"),
    Queue("webhooks"),
    Queue("default"),
]
app.autodiscover_tasks()
