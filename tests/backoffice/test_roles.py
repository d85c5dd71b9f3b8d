"""Issue 13: staff roles (Django groups made by a migration) and what each
may do, signed in as in production (password, then the TOTP code), through
the test client. Every refusal is the server's: the request is sent as a
browser (or a script) would, and nothing changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import ApiKey, Customer
from backoffice.roles import CHANGES, ROLES, sync_groups
from billing.models import DepositLot, Guarantee, Payment, Reconciliation, TopUpRequest
from messaging.models import WebhookDelivery
from senderids.models import Registration
from tests.backoffice.conftest import SUPERUSER, World

pytestmark = pytest.mark.django_db

OPS = {"operations", SUPERUSER}
FIN = {"finance", SUPERUSER}
EVERYONE = {*ROLES, SUPERUSER}


def flashed(response: Any) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def suspend_customer(client: Client, world: World) -> bool:
    acme = world.cast.acme
    client.post(
        "/admin/accounts/customer/",
        {"action": "suspend", "index": 0, ACTION_CHECKBOX_NAME: [acme.pk], "post": "yes", "reason": "fraud check"},
    )
    return Customer.objects.get(pk=acme.pk).status == Customer.Status.SUSPENDED


def edit_customer_details(client: Client, world: World) -> bool:
    acme = world.cast.acme
    data = {
        "name": "Acme Shop Ltd",
        "slug": acme.slug,
        "brand_name": "",
        "billing_email": acme.billing_email,
        "legal_name": "",
        "npwp": "",
        "postal_address": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    client.post(f"/admin/accounts/customer/{acme.pk}/change/", data)
    return Customer.objects.get(pk=acme.pk).name == "Acme Shop Ltd"


def approve_topup(client: Client, world: World) -> bool:
    client.post(f"/admin/billing/topuprequest/{world.topup.pk}/change/", {"review_note": "", "_approve": "Approve"})
    return TopUpRequest.objects.get(pk=world.topup.pk).status == TopUpRequest.Status.APPROVED


def move_registration(client: Client, world: World) -> bool:
    client.post(
        "/admin/senderids/registration/",
        {"action": "move_in_review", "index": 0, ACTION_CHECKBOX_NAME: [world.registration.pk], "apply": "1"},
    )
    return Registration.objects.get(pk=world.registration.pk).status == Registration.Status.IN_REVIEW


def record_payment(client: Client, world: World) -> bool:
    invoice = world.invoice
    data = {"amount": str(invoice.total), "reference": "BCA-PAY-1", "paid_on": "2025-06-10"}
    client.post(f"/admin/billing/invoice/{invoice.pk}/pay/", data)
    return Payment.objects.filter(invoice=invoice, reference="BCA-PAY-1").exists()


def record_deposit(client: Client, world: World) -> bool:
    data = {"customer": world.cast.acme.pk, "amount": "1.000.000", "reference": "BCA-NEW-1"}
    client.post("/admin/billing/depositlot/add/", data)
    return DepositLot.objects.filter(reference="BCA-NEW-1").exists()


def requeue_message(client: Client, world: World) -> bool:
    data = {"action": "requeue", "index": 0, ACTION_CHECKBOX_NAME: [world.message.pk]}
    response = client.post("/admin/messaging/message/", data, follow=True)
    return "Re-queued 1 message" in flashed(response)


def resend_webhook(client: Client, world: World) -> bool:
    data = {"action": "resend", "index": 0, ACTION_CHECKBOX_NAME: [world.delivery.pk]}
    client.post("/admin/messaging/webhookdelivery/", data)
    return WebhookDelivery.objects.filter(event=world.delivery.event).count() == 2


def revoke_api_key(client: Client, world: World) -> bool:
    key = ApiKey.objects.filter(customer=world.cast.acme, mode=ApiKey.Mode.LIVE).first()
    assert key is not None
    client.post("/admin/accounts/apikey/", {"action": "revoke", "index": 0, ACTION_CHECKBOX_NAME: [key.pk]})
    return ApiKey.objects.get(pk=key.pk).revoked_at is not None


def run_reconciliation(client: Client, world: World) -> bool:
    client.post("/admin/reports/reconciliation/")
    return Reconciliation.objects.exists()


def open_terminate_page(client: Client, world: World) -> bool:
    return client.get(f"/admin/billing/guarantee/terminate/{world.cast.globex.pk}/").status_code == 200


def open_cap_page(client: Client, world: World) -> bool:
    guarantee = Guarantee.objects.get(customer=world.cast.globex)
    return client.get(f"/admin/billing/guarantee/{guarantee.pk}/cap/").status_code == 200


def download_revenue_csv(client: Client, world: World) -> bool:
    return client.get("/admin/reports/revenue.csv?month=2025-05").status_code == 200


def look_up_message(client: Client, world: World) -> bool:
    """Support's daily job: find a message by its id, then open it."""
    found = client.get(f"/admin/messaging/message/?q={world.message.pk}")
    opened = client.get(f"/admin/messaging/message/{world.message.pk}/change/")
    return found.status_code == 200 and world.message.pk in found.content.decode() and opened.status_code == 200


def open_customer_file(client: Client, world: World) -> bool:
    return client.get(f"/admin/accounts/customer/{world.cast.acme.pk}/change/").status_code == 200


def manage_staff_groups(client: Client, world: World) -> bool:
    return client.get("/admin/auth/group/").status_code == 200


CASES: dict[str, tuple[Callable[[Client, World], bool], set[str]]] = {
    "suspend a customer": (suspend_customer, {"operations", "finance", SUPERUSER}),
    "edit a customer's details": (edit_customer_details, {"operations", "finance", SUPERUSER}),
    "approve a top-up": (approve_topup, FIN),
    "move a sender-ID registration": (move_registration, OPS),
    "record an invoice payment": (record_payment, FIN),
    "record a bank transfer as a deposit": (record_deposit, FIN),
    "re-queue a stuck message": (requeue_message, OPS),
    "send a webhook again": (resend_webhook, {"operations", "support", SUPERUSER}),
    "revoke an API key": (revoke_api_key, OPS),
    "run the reconciliation now": (run_reconciliation, FIN),
    "open the terminate page": (open_terminate_page, FIN),
    "open the cap page": (open_cap_page, FIN),
    "download the revenue CSV": (download_revenue_csv, EVERYONE),
    "look up a message": (look_up_message, EVERYONE),
    "open a customer's file": (open_customer_file, EVERYONE),
    "manage staff groups": (manage_staff_groups, {SUPERUSER}),
}


@pytest.mark.parametrize("role", sorted(EVERYONE))
@pytest.mark.parametrize("case", list(CASES))
def test_each_role_can_do_what_it_is_for_and_nothing_else(
    as_role: Callable[[str], Client], world: World, role: str, case: str
) -> None:
    """Issue 13: table-driven can / cannot per role; the server refuses, not only the menu."""
    attempt, allowed = CASES[case]
    assert attempt(as_role(role), world) is (role in allowed), f"{role} / {case}"


def test_a_refused_page_is_a_403_not_a_hidden_link(as_role: Callable[[str], Client], world: World) -> None:
    support = as_role("support")
    assert support.post(f"/admin/billing/invoice/{world.invoice.pk}/pay/", {"amount": "1"}).status_code == 403
    assert support.post("/admin/reports/reconciliation/").status_code == 403
    assert support.get(f"/admin/billing/guarantee/terminate/{world.cast.globex.pk}/").status_code == 403
    change = support.post(f"/admin/billing/topuprequest/{world.topup.pk}/change/", {"_approve": "Approve"})
    assert change.status_code == 403
    assert TopUpRequest.objects.get(pk=world.topup.pk).status == TopUpRequest.Status.PENDING


def test_without_the_second_factor_no_role_reaches_the_admin(groups: None, world: World) -> None:
    """ADMIN_REQUIRE_2FA: the password alone leads to the code page, never to a queue."""
    from tests.backoffice.conftest import staff_user
    from tests.factories import TEST_PASSWORD

    user = staff_user("finance")
    client = Client()
    client.post("/admin/login/", {"username": user.email, "password": TEST_PASSWORD})
    for path in ("/admin/", "/admin/reports/revenue/", f"/admin/billing/topuprequest/{world.topup.pk}/change/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/staff/2fa/"), path
    client.post(f"/admin/billing/topuprequest/{world.topup.pk}/change/", {"_approve": "Approve"})
    assert TopUpRequest.objects.get(pk=world.topup.pk).status == TopUpRequest.Status.PENDING


def test_the_groups_are_rebuilt_exactly_and_pick_up_later_models(db: None) -> None:
    """Re-runnable: a permission added by hand is taken back, a missing group is made again."""
    from django.contrib.auth.models import Permission

    sync_groups()
    support = Group.objects.get(name="support")
    stray = Permission.objects.get(codename="delete_customer")
    support.permissions.add(stray)
    Group.objects.filter(name="finance").delete()
    counts = sync_groups()
    assert set(counts) == set(ROLES)
    assert not Group.objects.get(name="support").permissions.filter(pk=stray.pk).exists()
    finance = Group.objects.get(name="finance")
    names = {f"{p.content_type.app_label}.{p.codename}" for p in finance.permissions.select_related("content_type")}
    assert set(CHANGES["finance"]) <= names
    assert "billing.view_reconciliation" in names and "auditlog.view_logentry" in names
    assert not {n for n in names if n.startswith("auth.")}
