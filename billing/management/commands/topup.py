from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import selectors as account_selectors
from billing import selectors, services
from otpportal.commands import in_english
from otpportal.errors import ServiceError


class Command(BaseCommand):
    help = "Record a bank transfer as a deposit lot (R-PRE-1) for a prepaid customer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("amount", help="whole rupiah, e.g. 2000000")
        parser.add_argument("--reference", default="", help="the bank transfer's reference")

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        customer = account_selectors.customer_by_slug(options["slug"])
        if customer is None:
            raise CommandError(f"No customer with slug {options['slug']!r}.")
        try:
            lot = services.lot_create(customer=customer, amount=options["amount"], reference=options["reference"])
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Lot #{lot.pk}: Rp {lot.amount:,} tier {lot.tier}, expires {lot.expires_at:%Y-%m-%d %H:%M %Z}; "
            f"balance Rp {selectors.balance(customer=customer):,}".replace(",", ".")
        )
