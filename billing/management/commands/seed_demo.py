"""Demo data for `make run`: a customer, an owner login, a live and a test
key (printed once), a deposit. Safe to run again: it reuses the customer and
replaces the demo keys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiKey, Customer, Membership, User
from billing import selectors, services

DEMO_EMAIL = "demo@otpportal.local"
DEMO_PASSWORD = "demo-otp-2026"
DEMO_SLUG = "demo"
DEMO_KEY_NAME = "demo (make run)"


class Command(BaseCommand):
    help = "Create the demo customer, login and keys for `make run`."

    def handle(self, *args: Any, **options: Any) -> None:
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
            user = User.objects.create_user(email=DEMO_EMAIL, password=DEMO_PASSWORD, full_name="Demo Owner")
        else:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        Membership.objects.update_or_create(user=user, customer=customer, defaults={"role": Membership.Role.OWNER})
        if not User.objects.filter(email="admin@otpportal.local").exists():
            User.objects.create_superuser(email="admin@otpportal.local", password=DEMO_PASSWORD)
        if selectors.balance(customer=customer) == 0:
            services.lot_create(customer=customer, amount=2_500_000, reference=f"demo-{timezone.now():%Y%m%d%H%M%S}")
        for old in ApiKey.objects.filter(customer=customer, name=DEMO_KEY_NAME, revoked_at__isnull=True):
            account_services.api_key_revoke(api_key=old)
        live = account_services.api_key_create(customer=customer, name=DEMO_KEY_NAME)
        test = account_services.api_key_create(customer=customer, name=DEMO_KEY_NAME, mode=ApiKey.Mode.TEST)
        balance = f"{selectors.balance(customer=customer):,}".replace(",", ".")
        self.stdout.write(
            f" Demo login:   {DEMO_EMAIL} / {DEMO_PASSWORD}\n"
            f" Staff admin:  admin@otpportal.local / {DEMO_PASSWORD}  (/admin/)\n"
            f" Live API key: {live.secret}\n"
            f" Test API key: {test.secret}\n"
            f" Balance:      Rp {balance}\n"
            f' Try: curl -H "Authorization: Bearer {test.secret}" http://127.0.0.1:8000/api/v1/me'
        )
