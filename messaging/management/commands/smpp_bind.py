"""The long-running SMPP process: ``python manage.py smpp_bind``.

For every account in ``settings.SMPP_ACCOUNTS`` it keeps one transceiver bind
open (binding again with exponential back-off and jitter, forever) so the SMSC
always has somewhere to send delivery receipts, and passes each receipt to
``messaging.services.receipt_record`` (``delivery_record`` for a long-lived
thread), injected as the providers' ``on_report``; an exception there is logged
and the bind carries on. Every ``HEARTBEAT_SECONDS`` it records each bind's
state (``messaging.services.bind_heartbeat``) for the back office's provider
health page; a failed heartbeat is logged and the binds carry on. SIGTERM and
SIGINT unbind cleanly. Sending is done by
the workers, each on its own bind (``messaging.providers.smpp.get_provider``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection
from django.utils import timezone

from messaging.models import SmppBindStatus
from messaging.providers.smpp import SmppProvider, accounts_from_settings, provider_options_from_settings
from messaging.services import bind_heartbeat, receipt_record

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0  # the provider health page calls a bind silent after 3 missed beats


def heartbeat(providers: list[SmppProvider], *, stopped: bool = False) -> None:
    """Record each bind's state; never lets a database error stop the binds."""
    process = f"{socket.gethostname()}:{os.getpid()}"[:80]
    try:
        if not connection.in_atomic_block:  # a long-lived process: drop a connection the database closed
            close_old_connections()
        now = timezone.now()
        for provider in providers:
            if stopped:
                state = SmppBindStatus.State.STOPPED
            else:
                state = SmppBindStatus.State.BOUND if provider.connected else SmppBindStatus.State.CONNECTING
            bind_heartbeat(
                account=provider.account.name,
                process=process,
                mode=provider.mode,
                state=state,
                error=provider.last_error,
                now=now,
            )
    except Exception:  # noqa: BLE001 - the heartbeat is for staff; the binds matter more
        logger.warning("smpp_bind: heartbeat not recorded", exc_info=True)


class Command(BaseCommand):
    help = "Keep one SMPP transceiver bind per account open and record its delivery receipts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once-seconds", type=float, default=None, help="run for N seconds, then exit (tests)")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = accounts_from_settings()
        if not accounts:
            raise CommandError("settings.SMPP_ACCOUNTS is empty: nothing to bind")
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            logger.info("smpp_bind: signal %s, unbinding", signum)
            stop.set()

        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        providers = [
            SmppProvider(account, on_report=receipt_record, mode="transceiver", **provider_options_from_settings())
            for account in accounts
        ]
        threads = [
            threading.Thread(target=provider.run_forever, args=(stop,), name=f"smpp-bind-{provider.account.name}")
            for provider in providers
        ]
        for thread in threads:
            thread.start()
        self.stdout.write(f"smpp_bind: {', '.join(a.name for a in accounts)}")
        once = options.get("once_seconds")
        deadline = None if once is None else time.monotonic() + once
        poll = 0.5
        next_beat = time.monotonic()
        try:
            while not stop.is_set():
                if time.monotonic() >= next_beat:
                    heartbeat(providers)
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                left = poll if deadline is None else min(poll, deadline - time.monotonic())
                if left <= 0:
                    break
                stop.wait(left)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            for provider in providers:
                provider.close()
            heartbeat(providers, stopped=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("smpp_bind: stopped")
