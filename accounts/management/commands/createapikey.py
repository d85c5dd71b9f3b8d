from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import selectors, services
from accounts.models import ApiKey
from otpportal.commands import in_english


class Command(BaseCommand):
    help = "Create an API key for a customer and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--test", action="store_true", help="a test key (sandbox, never charged)")
        parser.add_argument("--name", default="")

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        customer = selectors.customer_by_slug(options["slug"])
        if customer is None:
            raise CommandError(f"No customer with slug {options['slug']!r}.")
        created = services.api_key_create(
            customer=customer, mode=ApiKey.Mode.TEST if options["test"] else ApiKey.Mode.LIVE, name=options["name"]
        )
        self.stdout.write(created.secret)
