"""The Celery app. Queues (architecture.md): otp (high priority),
dispatch-sms, dispatch-wa, billing, webhooks, default."""

from __future__ import annotations

import os
from functools import cached_property

from celery import Celery
from celery.app.amqp import AMQP
from celery.signals import task_postrun, task_prerun
from kombu import Connection, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpportal.settings")


class BrokerConnection(Connection):
    """kombu's connection, with one more error taken for a lost connection (issue 14, drill 2).

    When Redis goes away, a Redis channel whose transport is already closed raises
    ``AttributeError`` (from ``_connparams``) instead of a connection error: when Celery
    closes the lost connection (the channel tries to put its unacknowledged tasks back), and
    when a task that was running during the outage finishes and its acknowledgement goes to
    the old channel. Celery takes it for an unrecoverable error and the worker exits (kombu
    5.7, redis-py 8). Counted among the connection errors, it is what it is: the worker logs
    it and connects again. A task whose acknowledgement is lost this way runs again after
    the visibility timeout, which the tasks allow (a message is claimed before it is sent)."""

    @cached_property
    def connection_errors(self) -> tuple[type[BaseException], ...]:
        return (*self.get_transport_cls().connection_errors, AttributeError)


class Amqp(AMQP):
    Connection = BrokerConnection


app = Celery("otpportal", amqp=Amqp)
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


# Issue 11: database connections in the workers follow CONN_MAX_AGE, as in the web processes.
# Celery's Django fix-up closes every connection before and after each task unless
# ``CELERY_DB_REUSE_MAX`` is set (celery/fixups/django.py), which made every dispatch task
# open a new PostgreSQL connection. With the fix-up held back, ``close_old_connections``
# around each task does what Django does around a request: a connection is kept until
# CONN_MAX_AGE, and one that broke (a database restart) is dropped and opened again.
app.conf.CELERY_DB_REUSE_MAX = 1_000_000


@task_prerun.connect
@task_postrun.connect
def _database_connections(sender: object = None, **kwargs: object) -> None:
    request = getattr(sender, "request", None)
    if not getattr(request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()
