from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts import selectors
from accounts.models import ApiKey, Customer, Membership, User

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_createcustomer_prints_the_slug_and_attaches_the_owner() -> None:
    slug = run("createcustomer", "Toko Maju Jaya", "--email", "finance@maju.test", "--owner-email", "Boss@Maju.test")
    assert slug == "toko-maju-jaya"
    customer = Customer.objects.get(slug=slug)
    assert customer.mode == Customer.Mode.PREPAID
    assert customer.billing_email == "finance@maju.test"
    membership = Membership.objects.get(customer=customer)
    assert membership.user.email == "boss@maju.test"
    assert membership.role == Membership.Role.OWNER


def test_createcustomer_makes_unique_slugs() -> None:
    first = run("createcustomer", "Acme", "--email", "a@a.test")
    second = run("createcustomer", "Acme", "--email", "b@a.test", "--mode", "postpaid")
    assert (first, second) == ("acme", "acme-2")
    assert Customer.objects.get(slug="acme-2").mode == Customer.Mode.POSTPAID


def test_createcustomer_refuses_a_bad_mode() -> None:
    with pytest.raises(CommandError):
        run("createcustomer", "Acme", "--email", "a@a.test", "--mode", "credit")
    assert not Customer.objects.exists()


def test_createapikey_prints_a_working_key_once() -> None:
    slug = run("createcustomer", "Acme", "--email", "a@a.test")
    secret = run("createapikey", slug, "--name", "backend")
    assert secret.startswith("otp_live_")
    api_key = selectors.api_key_for_secret(secret)
    assert api_key is not None and api_key.name == "backend" and api_key.customer.slug == slug
    test_secret = run("createapikey", slug, "--test")
    assert test_secret.startswith("otp_test_")
    assert ApiKey.objects.filter(customer__slug=slug).count() == 2


def test_createapikey_for_an_unknown_customer_fails() -> None:
    with pytest.raises(CommandError, match="No customer"):
        run("createapikey", "nobody")


def test_seed_demo_prints_a_login_and_working_keys_and_can_run_again(settings) -> None:  # type: ignore[no-untyped-def]
    from billing import selectors as billing_selectors

    settings.DEBUG = True  # `make run` (bin/run-dev) runs with DEBUG on; review 8.8
    out = run("seed_demo")
    live = re.search(r"Live API key: (otp_live_\S+)", out)
    test = re.search(r"Test API key: (otp_test_\S+)", out)
    assert live and test and "demo@otpportal.local" in out
    customer = Customer.objects.get(slug="demo")
    assert billing_selectors.balance(customer=customer) == 2_500_000
    again = run("seed_demo")
    assert selectors.api_key_for_secret(live.group(1)) is None  # replaced
    new_live = re.search(r"Live API key: (otp_live_\S+)", again)
    assert new_live and selectors.api_key_for_secret(new_live.group(1)) is not None
    assert billing_selectors.balance(customer=customer) == 2_500_000  # not topped up twice
    assert Customer.objects.filter(slug="demo").count() == 1


def test_seed_demo_refuses_to_run_without_debug(settings) -> None:  # type: ignore[no-untyped-def]
    """Review 8.8: in production it would make a superuser with a published password and a free deposit."""
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        run("seed_demo")
    assert not Customer.objects.exists() and not User.objects.exists()


def test_seed_demo_outside_debug_needs_the_flag_and_makes_no_fixed_password(settings) -> None:  # type: ignore[no-untyped-def]
    """Review 8.8: with --i-know-this-is-not-production and DEBUG off, the demo owner gets a
    random password printed once and no staff user is made."""
    from billing.management.commands.seed_demo import DEMO_EMAIL, DEMO_PASSWORD, STAFF_EMAIL

    settings.DEBUG = False
    out = run("seed_demo", "--i-know-this-is-not-production")
    printed = re.search(rf"Demo login:   {re.escape(DEMO_EMAIL)} / (\S+)", out)
    assert printed and printed.group(1) != DEMO_PASSWORD
    owner = User.objects.get(email=DEMO_EMAIL)
    assert owner.check_password(printed.group(1)) and not owner.check_password(DEMO_PASSWORD)
    assert not User.objects.filter(is_staff=True).exists() and not User.objects.filter(email=STAFF_EMAIL).exists()
    assert DEMO_PASSWORD not in out
    again = re.search(r"Demo login:   \S+ / (\S+)", run("seed_demo", "--i-know-this-is-not-production"))
    assert again and again.group(1) != printed.group(1)  # a new one each run


def test_seed_demo_outside_debug_disables_a_staff_login_left_with_the_published_password(settings) -> None:  # type: ignore[no-untyped-def]
    """Review 8.8: a site seeded in DEBUG and later run without it keeps no login anyone can read in the repo."""
    from billing.management.commands.seed_demo import DEMO_PASSWORD, STAFF_EMAIL

    settings.DEBUG = True
    run("seed_demo")
    assert User.objects.get(email=STAFF_EMAIL).check_password(DEMO_PASSWORD)
    settings.DEBUG = False
    run("seed_demo", "--i-know-this-is-not-production")
    assert not User.objects.get(email=STAFF_EMAIL).has_usable_password()
