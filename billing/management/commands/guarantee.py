from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import selectors as account_selectors
from billing import services
from otpportal.commands import in_english
from otpportal.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Record a guarantee deposit received by bank transfer for a postpaid customer (R-POST-1). "
        "The guarantee held afterwards must reach the minimum (POSTPAID_GUARANTEE_MIN)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("amount", help="whole rupiah, e.g. 10000000")
        parser.add_argument("--reference", default="", help="the bank transfer's reference (default: generated)")

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        customer = account_selectors.customer_by_slug(options["slug"])
        if customer is None:
            raise CommandError(f"No customer with slug {options['slug']!r}.")
        reference = options["reference"] or f"manual-{customer.slug}-{options['amount']}"
        try:
            guarantee = services.guarantee_deposit(customer=customer, amount=options["amount"], reference=reference)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{customer.slug}: guarantee held Rp {guarantee.held:,}; monthly cap Rp {guarantee.cap:,}".replace(",", ".")
        )
