from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing import services


class Command(BaseCommand):
    help = "Daily run: lot expiry (R-PRE-5), inactivity forfeiture (R-PRE-6), warnings. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="YYYY-MM-DD (Asia/Jakarta); default today")

    def handle(self, *args: Any, **options: Any) -> None:
        today = None
        if options["date"]:
            try:
                today = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError("--date must look like 2026-01-31.") from exc
        summary = services.daily_run(today=today)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in summary.items()))
