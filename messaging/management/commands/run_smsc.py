"""Run the project's small SMSC for development: ``python manage.py run_smsc --port 2775``."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from messaging.devservers.smsc import SmscServer


class Command(BaseCommand):
    help = "Run a development SMSC (SMPP 3.4 server) on 127.0.0.1 until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2775)
        parser.add_argument("--system-id", default="otp")
        parser.add_argument("--password", default="secret")
        parser.add_argument("--receipt-delay", type=float, default=0.2, help="seconds before the receipt")
        parser.add_argument("--message-ids", choices=("hex", "decimal"), default="hex")
        parser.add_argument("--once-seconds", type=float, default=None, help="stop after N seconds (tests)")

    def handle(self, *args: Any, **options: Any) -> None:
        server = SmscServer(
            options["host"],
            options["port"],
            credentials={options["system_id"]: options["password"]},
            receipt_delay=options["receipt_delay"],
            message_id_format=options["message_ids"],
        )
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        port = server.start()
        self.stdout.write(f"SMSC listening on {options['host']}:{port} (system_id {options['system_id']!r})")
        try:
            poll = 0.5
            deadline = options["once_seconds"]
            waited = 0.0
            while not stop.wait(poll):
                waited += poll
                if deadline is not None and waited >= deadline:
                    break
        finally:
            server.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("SMSC stopped")
