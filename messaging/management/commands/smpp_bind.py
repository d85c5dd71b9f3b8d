"""The long-running SMPP process: ``python manage.py smpp_bind``.

For every account in ``settings.SMPP_ACCOUNTS`` it keeps one transceiver bind
open (binding again with exponential back-off and jitter, forever) so the SMSC
always has somewhere to send delivery receipts, and passes each receipt to
``messaging.services.receipt_record`` (``delivery_record`` for a long-lived
thread), injected as the providers' ``on_report``; an exception there is logged
and the bind carries on. SIGTERM and SIGINT unbind cleanly. Sending is done by
the workers, each on its own bind (``messaging.providers.smpp.get_provider``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.providers.smpp import SmppProvider, accounts_from_settings, provider_options_from_settings
from messaging.services import receipt_record

logger = logging.getLogger(__name__)


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
        try:
            while not stop.is_set():
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
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("smpp_bind: stopped")
