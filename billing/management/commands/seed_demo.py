"""Demo data for `make run`: a customer, an owner login, a live and a test
key (printed once), a deposit. Safe to run again: it reuses the customer and
replaces the demo keys.

Review 8.8: it refuses to run unless DEBUG is on (``make run`` sets it), or
``--i-know-this-is-not-production`` is given (a staging site). Only in DEBUG
does it use the fixed demo password printed in this repository and create
the staff login ``admin@otpportal.local``. With the flag outside DEBUG the
demo owner gets a random password, printed once, and no staff user is made
(use ``createsuperuser`` and ``staff_2fa_invite`` for staff).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiKey, Customer, Membership, User
from billing import selectors, services
from otpportal.commands import in_english

DEMO_EMAIL = "demo@otpportal.local"
DEMO_PASSWORD = "demo-otp-2026"
DEMO_SLUG = "demo"
DEMO_KEY_NAME = "demo (make run)"
STAFF_EMAIL = "admin@otpportal.local"
NOT_PRODUCTION_FLAG = "--i-know-this-is-not-production"


class Command(BaseCommand):
    help = "Create the demo customer, login and keys for `make run` (DEBUG only, see --i-know-this-is-not-production)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            NOT_PRODUCTION_FLAG,
            action="store_true",
            dest="not_production",
            help="Run with DEBUG off (a staging site): random demo password, no staff user.",
        )

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        debug = bool(settings.DEBUG)
        if not debug and not options["not_production"]:
            raise CommandError(
                "seed_demo creates a demo login and a free deposit; it runs only with DEBUG on "
                f"(`make run`). On a staging site pass {NOT_PRODUCTION_FLAG}."
            )
        password = DEMO_PASSWORD if debug else secrets.token_urlsafe(12)
        customer = Customer.objects.filter(slug=DEMO_SLUG).first()
        if customer is None:
            customer = account_services.customer_create(
                name="Toko Demo",
                slug=DEMO_SLUG,
                billing_email="finance@demo.otpportal.local",
                legal_name="PT Toko Demo Indonesia",
                npwp="01.234.567.8-901.000",
                postal_address="Jl. Pemuda No. 1, Semarang",
                brand_name="TokoDemo",
            )
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(email=DEMO_EMAIL, password=password, full_name="Demo Owner")
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        Membership.objects.update_or_create(user=user, customer=customer, defaults={"role": Membership.Role.OWNER})
        staff_user = User.objects.filter(email=STAFF_EMAIL).first()
        if debug and staff_user is None:
            User.objects.create_superuser(email=STAFF_EMAIL, password=DEMO_PASSWORD)
        elif not debug and staff_user is not None and staff_user.check_password(DEMO_PASSWORD):
            staff_user.set_unusable_password()  # a login made in DEBUG, with the published password
            staff_user.save(update_fields=["password"])
        if selectors.balance(customer=customer) == 0:
            services.lot_create(customer=customer, amount=2_500_000, reference=f"demo-{timezone.now():%Y%m%d%H%M%S}")
        for old in ApiKey.objects.filter(customer=customer, name=DEMO_KEY_NAME, revoked_at__isnull=True):
            account_services.api_key_revoke(api_key=old)
        live = account_services.api_key_create(customer=customer, name=DEMO_KEY_NAME)
        test = account_services.api_key_create(customer=customer, name=DEMO_KEY_NAME, mode=ApiKey.Mode.TEST)
        balance = f"{selectors.balance(customer=customer):,}".replace(",", ".")
        staff = (
            f"{STAFF_EMAIL} / {DEMO_PASSWORD}  (/admin/)"
            if debug
            else "none made outside DEBUG (createsuperuser, then staff_2fa_invite)"
        )
        self.stdout.write(
            f" Demo login:   {DEMO_EMAIL} / {password}\n"
            f" Staff admin:  {staff}\n"
            f" Live API key: {live.secret}\n"
            f" Test API key: {test.secret}\n"
            f" Balance:      Rp {balance}\n"
            f' Try: curl -H "Authorization: Bearer {test.secret}" http://127.0.0.1:{os.environ.get("PORT", "8000")}/api/v1/me'
        )
