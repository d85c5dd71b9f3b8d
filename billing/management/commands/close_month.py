from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.monthend import month_end_run
from otpportal.commands import in_english
from otpportal.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Month-end run (R-POST-3): one invoice per postpaid customer for the month (default: the month just "
        "ended), then prepaid statements. A month that has not ended is refused. Idempotent: a second run "
        "issues and sends nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="YYYY-MM (Asia/Jakarta); default: the previous month")

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        month = None
        if options["month"]:
            try:
                month = date.fromisoformat(f"{options['month']}-01")
            except ValueError as exc:
                raise CommandError("--month must look like 2026-10.") from exc
        try:
            result = month_end_run(month=month)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        extra = {k: v for k, v in result.items() if k not in ("month", "invoices", "skipped", "statements")}
        self.stdout.write(
            f"{result['month']}: {result['invoices']} invoice(s) issued, {result['skipped']} already issued or "
            f"empty; {result['statements']} prepaid statement(s)"
            + "".join(f"; {name}: {value}" for name, value in extra.items())
        )
