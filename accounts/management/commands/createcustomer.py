from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import Customer
from otpportal.commands import in_english
from otpportal.errors import ServiceError


class Command(BaseCommand):
    help = "Create a customer (tenant) and print its slug."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--email", required=True, help="billing email")
        parser.add_argument("--mode", choices=Customer.Mode.values, default=Customer.Mode.PREPAID)
        parser.add_argument("--owner-email", help="create/attach an owner login with this email")
        parser.add_argument("--slug")

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            customer = services.customer_create(
                name=options["name"],
                billing_email=options["email"],
                mode=options["mode"],
                owner_email=options["owner_email"],
                slug=options["slug"],
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(customer.slug)
