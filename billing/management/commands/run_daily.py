from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from billing import services
from billing.pricing import jakarta_date
from otpportal.commands import in_english
from otpportal.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Daily run: lot expiry (R-PRE-5), inactivity forfeiture (R-PRE-6), warnings. Idempotent. "
        "--date catches up a past day; a day after today is refused (forfeiture is irreversible)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="YYYY-MM-DD (Asia/Jakarta), today or earlier; default today")

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        today = None
        if options["date"]:
            try:
                today = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError("--date must look like 2026-01-31.") from exc
            if today > jakarta_date(now):  # Review 8.3: it would forfeit lots that have not expired yet
                raise CommandError(
                    f"--date {today:%Y-%m-%d} is after today ({jakarta_date(now):%Y-%m-%d}, Asia/Jakarta); "
                    "a future run would forfeit deposits irreversibly. Past dates are allowed for catch-up."
                )
        try:
            summary = services.daily_run(today=today, now=now)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(" ".join(f"{k}={v}" for k, v in summary.items()))
