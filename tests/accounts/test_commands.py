from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts import selectors
from accounts.models import ApiKey, Customer, Membership

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


def test_seed_demo_prints_a_login_and_working_keys_and_can_run_again() -> None:
    from billing import selectors as billing_selectors

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
