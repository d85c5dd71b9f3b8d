"""Staff create an API key in the admin and see it once; revoke; customers."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils.timezone import localtime

from accounts import selectors, services
from accounts.models import ApiKey, Customer, Membership, User
from otpportal.errors import ServiceError
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def staff_client(cast: Cast) -> Client:
    client = Client()
    assert (
        client.post(
            "/admin/login/", {"username": cast.staff.email, "password": TEST_PASSWORD, "next": "/admin/"}
        ).status_code
        == 302
    )
    return client


def test_staff_create_a_key_and_see_it_once(cast: Cast) -> None:
    client = staff_client(cast)
    response = client.post(
        "/admin/accounts/apikey/add/", {"customer": cast.acme.pk, "name": "backend", "mode": "live"}, follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    secret = re.search(r"(otp_live_[A-Za-z0-9_\-]{43})", html)
    assert secret, html[:2000]
    api_key = selectors.api_key_for_secret(secret.group(1))
    assert api_key is not None and api_key.name == "backend" and api_key.created_by == cast.staff
    # the key's page never shows it again
    page = client.get(f"/admin/accounts/apikey/{api_key.pk}/change/").content.decode()
    assert secret.group(1) not in page and api_key.prefix in page


def test_staff_revoke_keys(cast: Cast) -> None:
    client = staff_client(cast)
    api_key = ApiKey.objects.get(prefix=cast.acme_live_key[:17])
    client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]})
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert selectors.api_key_for_secret(cast.acme_live_key) is None


def test_customer_admin_pages_and_suspend(cast: Cast) -> None:
    client = staff_client(cast)
    assert client.get("/admin/accounts/customer/").status_code == 200
    assert client.get(f"/admin/accounts/customer/{cast.acme.pk}/change/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/accounts/membership/").status_code == 200
    # Review 8.23: the action asks for a reason first, then suspends through the use case
    client.post("/admin/accounts/customer/", {"action": "suspend", "_selected_action": [cast.acme.pk]})
    assert Customer.objects.get(pk=cast.acme.pk).status == "active"
    client.post(
        "/admin/accounts/customer/",
        {"action": "suspend", "_selected_action": [cast.acme.pk], "post": "yes", "reason": "unpaid invoice"},
    )
    assert Customer.objects.get(pk=cast.acme.pk).status == "suspended"


def test_members_cannot_use_the_admin(cast: Cast) -> None:
    client = Client()
    client.post("/admin/login/", {"username": cast.owner.email, "password": TEST_PASSWORD, "next": "/admin/"})
    assert client.get("/admin/accounts/apikey/").status_code == 302


# --- Review 8.23: admin edits go through the services ------------------------------


def _change_form(customer: Customer, **changes: str) -> dict[str, object]:
    """The customer's change form as the browser posts it (no membership rows touched)."""
    data: dict[str, object] = {
        "name": customer.name,
        "slug": customer.slug,
        "brand_name": customer.brand_name,
        "billing_email": customer.billing_email,
        "legal_name": customer.legal_name,
        "npwp": customer.npwp,
        "postal_address": customer.postal_address,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_review_8_23_status_and_mode_are_read_only_in_the_customer_form(cast: Cast) -> None:
    client = staff_client(cast)
    page = client.get(f"/admin/accounts/customer/{cast.acme.pk}/change/").content.decode()
    assert 'name="status"' not in page and 'name="mode"' not in page
    response = client.post(
        f"/admin/accounts/customer/{cast.acme.pk}/change/",
        _change_form(cast.acme, name="Acme Shop Tbk", status="suspended", mode="postpaid"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    acme = Customer.objects.get(pk=cast.acme.pk)
    assert (acme.name, acme.status, acme.mode) == ("Acme Shop Tbk", "active", "prepaid")


def test_review_8_23_saving_the_form_never_writes_back_a_status_read_earlier(cast: Cast) -> None:
    """The form saves only the columns it changed: a suspension made by a use
    case meanwhile (billing's overdue run, another staff member) stays."""
    client = staff_client(cast)
    stale = Customer.objects.get(pk=cast.acme.pk)
    services.customer_set_status(customer=cast.acme, status="suspended", reason="overdue")
    response = client.post(
        f"/admin/accounts/customer/{cast.acme.pk}/change/", _change_form(stale, billing_email="finance@acme.test")
    )
    assert response.status_code == 302
    acme = Customer.objects.get(pk=cast.acme.pk)
    assert (acme.billing_email, acme.status) == ("finance@acme.test", "suspended")


def test_review_8_23_suspend_and_reactivate_ask_for_a_reason_and_log_it(cast: Cast, caplog) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.admin.models import LogEntry

    client = staff_client(cast)
    ask = client.post("/admin/accounts/customer/", {"action": "suspend", "_selected_action": [cast.acme.pk]})
    assert ask.status_code == 200 and 'name="reason"' in ask.content.decode() and "Acme Shop" in ask.content.decode()
    blank = {"action": "suspend", "_selected_action": [cast.acme.pk], "post": "yes", "reason": "  "}
    assert client.post("/admin/accounts/customer/", blank).status_code == 200  # a reason is required
    assert Customer.objects.get(pk=cast.acme.pk).status == "active"
    with caplog.at_level("INFO", logger="accounts.services"):
        done = client.post(
            "/admin/accounts/customer/",
            {"action": "suspend", "_selected_action": [cast.acme.pk], "post": "yes", "reason": "chargeback"},
        )
    assert done.status_code == 302
    assert Customer.objects.get(pk=cast.acme.pk).status == "suspended"
    assert any("active -> suspended" in r.getMessage() and "chargeback" in r.getMessage() for r in caplog.records)
    assert cast.staff.email in caplog.text
    entry = LogEntry.objects.get(object_id=str(cast.acme.pk))
    assert "chargeback" in entry.get_change_message() and entry.user == cast.staff
    client.post(
        "/admin/accounts/customer/",
        {"action": "reactivate", "_selected_action": [cast.acme.pk], "post": "yes", "reason": "settled"},
    )
    assert Customer.objects.get(pk=cast.acme.pk).status == "active"


def test_review_8_23_a_terminated_customer_is_not_reactivated(cast: Cast) -> None:
    Customer.objects.filter(pk=cast.globex.pk).update(status="terminated")
    client = staff_client(cast)
    response = client.post(
        "/admin/accounts/customer/",
        {"action": "reactivate", "_selected_action": [cast.globex.pk, cast.acme.pk], "post": "yes", "reason": "x"},
        follow=True,
    )
    assert Customer.objects.get(pk=cast.globex.pk).status == "terminated"
    assert "terminated" in response.content.decode()
    with pytest.raises(ServiceError):
        services.customer_set_status(customer=cast.globex, status="active")


def test_review_8_23_mode_changes_through_the_action_with_a_reason(cast: Cast, caplog) -> None:  # type: ignore[no-untyped-def]
    client = staff_client(cast)
    with caplog.at_level("INFO", logger="accounts.services"):
        client.post(
            "/admin/accounts/customer/",
            {"action": "switch_to_postpaid", "_selected_action": [cast.acme.pk], "post": "yes", "reason": "contract"},
        )
    assert Customer.objects.get(pk=cast.acme.pk).mode == "postpaid"
    assert "mode prepaid -> postpaid" in caplog.text and "contract" in caplog.text
    client.post(
        "/admin/accounts/customer/",
        {"action": "switch_to_prepaid", "_selected_action": [cast.acme.pk], "post": "yes", "reason": "back"},
    )
    assert Customer.objects.get(pk=cast.acme.pk).mode == "prepaid"
    with pytest.raises(ServiceError):
        services.customer_set_mode(customer=cast.acme, mode="barter")


def test_review_8_23_adding_a_customer_goes_through_customer_create(cast: Cast) -> None:
    client = staff_client(cast)
    data = _change_form(
        Customer(name="Initech", slug="initech", billing_email="ap@initech.test"), mode="postpaid", status="suspended"
    )
    response = client.post("/admin/accounts/customer/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    initech = Customer.objects.get(slug="initech")
    assert (initech.mode, initech.status) == ("postpaid", "active")


def test_review_8_23_renaming_a_key_calls_api_key_rename(cast: Cast) -> None:
    client = staff_client(cast)
    api_key = ApiKey.objects.get(prefix=cast.acme_live_key[:17])
    response = client.post(
        f"/admin/accounts/apikey/{api_key.pk}/change/", {"name": "  checkout  ", "mode": "test", "customer": 99}
    )
    assert response.status_code == 302
    renamed = ApiKey.objects.get(pk=api_key.pk)
    assert (renamed.name, renamed.mode, renamed.customer_id, renamed.key_hash) == (
        "checkout",
        "live",
        cast.acme.pk,
        api_key.key_hash,
    )
    assert services.api_key_rename(api_key=renamed, name=" web ").name == "web"
    with pytest.raises(ServiceError) as refused:
        services.api_key_rename(api_key=renamed, name="x" * 101)
    assert refused.value.code == "invalid_request" and "name" in refused.value.details


def test_review_8_23_membership_page_adds_by_email_through_membership_add(cast: Cast, caplog) -> None:  # type: ignore[no-untyped-def]
    """The add form takes an email address, so a new person gets an account (membership_add)."""
    client = staff_client(cast)
    with caplog.at_level("INFO", logger="accounts.services"):
        response = client.post(
            "/admin/accounts/membership/add/",
            {"customer": cast.acme.pk, "email": "New.Dev@Acme.test", "role": "billing"},
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    membership = Membership.objects.get(customer=cast.acme, user__email="new.dev@acme.test")
    assert membership.role == "billing"
    assert "new.dev@acme.test joins acme as billing" in caplog.text
    # change the role, then remove: each through its use case
    with caplog.at_level("INFO", logger="accounts.services"):
        client.post(f"/admin/accounts/membership/{membership.pk}/change/", {"role": "developer", "user": 1})
        assert Membership.objects.get(pk=membership.pk).role == "developer"
        client.post(f"/admin/accounts/membership/{membership.pk}/delete/", {"post": "yes"})
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert "is now developer" in caplog.text and "new.dev@acme.test leaves acme" in caplog.text
    assert User.objects.filter(email="new.dev@acme.test").exists()  # the person stays


def test_review_8_23_bulk_removal_of_memberships_calls_membership_remove(cast: Cast, caplog) -> None:  # type: ignore[no-untyped-def]
    client = staff_client(cast)
    developer = Membership.objects.get(user=cast.developer, customer=cast.acme)
    with caplog.at_level("INFO", logger="accounts.services"):
        client.post(
            "/admin/accounts/membership/",
            {"action": "delete_selected", "_selected_action": [developer.pk], "post": "yes"},
        )
    assert not Membership.objects.filter(pk=developer.pk).exists()
    assert f"{cast.developer.email} leaves acme" in caplog.text


def test_review_8_23_the_customer_inline_saves_members_through_the_services(cast: Cast, caplog) -> None:  # type: ignore[no-untyped-def]
    client = staff_client(cast)
    owner = Membership.objects.get(user=cast.owner, customer=cast.acme)
    developer = Membership.objects.get(user=cast.developer, customer=cast.acme)
    newcomer = User.objects.create_user(email="ops@acme.test")
    data = _change_form(cast.acme)
    data.update(
        {
            "memberships-TOTAL_FORMS": "3",
            "memberships-INITIAL_FORMS": "2",
            "memberships-0-id": owner.pk,
            "memberships-0-customer": cast.acme.pk,
            "memberships-0-user": cast.owner.pk,
            "memberships-0-role": "owner",
            "memberships-1-id": developer.pk,
            "memberships-1-customer": cast.acme.pk,
            "memberships-1-user": cast.developer.pk,
            "memberships-1-role": "billing",  # re-roled
            "memberships-2-customer": cast.acme.pk,
            "memberships-2-user": newcomer.pk,  # added
            "memberships-2-role": "developer",
        }
    )
    with caplog.at_level("INFO", logger="accounts.services"):
        response = client.post(f"/admin/accounts/customer/{cast.acme.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Membership.objects.get(pk=developer.pk).role == "billing"
    assert Membership.objects.get(user=newcomer, customer=cast.acme).role == "developer"
    assert f"{cast.developer.email} at acme is now billing" in caplog.text
    assert "ops@acme.test joins acme as developer" in caplog.text
    assert "owner@acme.test" not in caplog.text  # unchanged rows are left alone
    data.update({"memberships-1-DELETE": "on", "memberships-TOTAL_FORMS": "2"})
    with caplog.at_level("INFO", logger="accounts.services"):
        client.post(f"/admin/accounts/customer/{cast.acme.pk}/change/", data)
    assert not Membership.objects.filter(pk=developer.pk).exists()
    assert f"{cast.developer.email} leaves acme" in caplog.text


def test_review_8_23_the_user_inline_saves_memberships_through_the_services(cast: Cast, caplog) -> None:  # type: ignore[no-untyped-def]
    client = staff_client(cast)
    joined = localtime(cast.developer.date_joined)
    data: dict[str, object] = {
        "email": cast.developer.email,
        "full_name": "",
        "is_active": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
    }
    data.update(
        {
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": Membership.objects.get(user=cast.developer).pk,
            "memberships-0-user": cast.developer.pk,
            "memberships-0-customer": cast.acme.pk,
            "memberships-0-role": "developer",
            "memberships-1-user": cast.developer.pk,
            "memberships-1-customer": cast.globex.pk,
            "memberships-1-role": "billing",
        }
    )
    with caplog.at_level("INFO", logger="accounts.services"):
        response = client.post(f"/admin/accounts/user/{cast.developer.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Membership.objects.get(user=cast.developer, customer=cast.globex).role == "billing"
    assert f"{cast.developer.email} joins globex as billing" in caplog.text
