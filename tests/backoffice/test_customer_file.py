"""Issue 13: the customer list and page as the customer's file, search,
read-only history, and the admin named in both languages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote
from django.test import Client
from django.utils.functional import Promise

from accounts.models import Customer, User
from messaging.models import Message
from tests.backoffice.conftest import World
from tests.helpers import api_key_for

pytestmark = pytest.mark.django_db


def test_the_customer_list_shows_mode_status_money_usage_and_last_send(
    as_role: Callable[[str], Client], world: World
) -> None:
    html = as_role("support").get("/admin/accounts/customer/").content.decode()
    assert "Rp 2.500.000" in html  # Acme's prepaid balance
    assert "Rp 10.000.000" in html and "guarantee" in html  # Globex's guarantee (postpaid)
    assert "Prepaid" in html and "Postpaid" in html and "Active" in html
    assert "Last send" in html and "This month" in html


def test_the_customer_page_gathers_members_keys_lots_ledger_invoices_sender_ids_and_messages(
    as_role: Callable[[str], Client], world: World
) -> None:
    support = as_role("support")
    acme = world.cast.acme
    page = support.get(f"/admin/accounts/customer/{acme.pk}/change/").content.decode()
    key = api_key_for(world.cast.acme_live_key)
    assert f"{key.prefix}…" in page
    assert world.cast.acme_live_key not in page and key.key_hash not in page  # prefix only
    assert "owner@acme.test" in page  # members
    assert "ACME-BCA-1" in page  # the deposit lot and its ledger row
    assert "TOKOKU" in page and "Telkomsel" in page  # sender IDs
    assert f"/admin/messaging/message/{quote(world.message.pk)}/change/" in page  # recent messages
    assert f"/admin/billing/ledgerentry/?customer__id__exact={acme.pk}" in page
    globex = support.get(f"/admin/accounts/customer/{world.cast.globex.pk}/change/").content.decode()
    assert world.invoice.number in globex and "Rp 10.000.000" in globex


def test_the_customer_page_never_lets_history_be_edited(as_role: Callable[[str], Client], world: World) -> None:
    operations = as_role("operations")
    acme = world.cast.acme
    page = operations.get(f"/admin/accounts/customer/{acme.pk}/change/").content.decode()
    for field in ("created_at", "status", "mode"):
        assert f'name="{field}"' not in page, field


def test_no_admin_form_lets_staff_type_a_creation_time_or_history(
    as_role: Callable[[str], Client], world: World
) -> None:
    """Read-only what must never be edited by hand: created/updated times, ledger rows, charges, messages."""
    client = as_role("superuser")
    checked = 0
    for model in list(admin.site._registry):
        if model._meta.app_label not in {"accounts", "billing", "senderids", "messaging"}:
            continue
        obj = model._default_manager.first()
        if obj is None:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{obj.pk}/change/"
        page = client.get(url).content.decode()
        for field in ("created_at", "updated_at", "submitted_at", "ran_at", "date_joined", "last_login"):
            assert f'name="{field}"' not in page, (url, field)
        checked += 1
    assert checked >= 15
    for url in (
        f"/admin/billing/ledgerentry/{world.cast.acme.ledger_entries.first().pk}/change/",
        f"/admin/messaging/message/{world.message.pk}/change/",
    ):
        assert client.post(url, {"amount": "1", "status": "delivered"}).status_code == 403, url


@pytest.mark.parametrize(
    ("term", "found"),
    [("Acme", "acme"), ("globex", "globex"), ("01.234.567.8-901.000", "acme"), ("dev@acme.test", "acme")],
)
def test_customers_are_found_by_name_slug_npwp_and_email(
    as_role: Callable[[str], Client], world: World, term: str, found: str
) -> None:
    Customer.objects.filter(pk=world.cast.acme.pk).update(npwp="01.234.567.8-901.000")
    html = as_role("support").get("/admin/accounts/customer/", {"q": term}).content.decode()
    slugs = {c.slug for c in Customer.objects.all() if f"/admin/accounts/customer/{c.pk}/change/" in html}
    assert slugs == {found}, (term, slugs)


def test_messages_are_found_by_id_number_and_provider_id_and_invoices_by_number(
    as_role: Callable[[str], Client], world: World
) -> None:
    support = as_role("support")
    Message.objects.filter(pk=world.message.pk).update(provider="smpp", provider_message_id="SMSC-77")
    for term in (world.message.pk, "0812-3456-7890", "SMSC-77"):
        html = support.get("/admin/messaging/message/", {"q": term}).content.decode()
        assert f"/admin/messaging/message/{quote(world.message.pk)}/change/" in html, term
    html = support.get("/admin/billing/invoice/", {"q": world.invoice.number}).content.decode()
    assert f"/admin/billing/invoice/{world.invoice.pk}/change/" in html and "1 invoice" in html


def test_the_terminate_action_goes_to_billings_page_for_one_customer(
    as_role: Callable[[str], Client], world: World
) -> None:
    finance = as_role("finance")
    globex = world.cast.globex
    response = finance.post("/admin/accounts/customer/", {"action": "terminate", ACTION_CHECKBOX_NAME: [globex.pk]})
    assert response.status_code == 302 and response["Location"] == f"/admin/billing/guarantee/terminate/{globex.pk}/"
    operations = as_role("operations")
    refused = operations.post(
        "/admin/accounts/customer/", {"action": "terminate", ACTION_CHECKBOX_NAME: [globex.pk]}, follow=True
    )
    assert "No action selected" in " ".join(str(m) for m in refused.context["messages"])
    assert Customer.objects.get(pk=globex.pk).status == Customer.Status.ACTIVE


def test_every_model_and_field_of_ours_is_named_for_translation() -> None:
    """Each name goes through gettext (Indonesian in the catalogue); accounts keeps its
    migrations to the dashboard's engineer, so only its existing names are translated."""
    untranslated = []
    for label in ("billing", "senderids", "messaging", "backoffice"):
        for model in apps.get_app_config(label).get_models():
            meta = model._meta
            for name in ("verbose_name", "verbose_name_plural"):
                if not isinstance(meta.original_attrs.get(name), Promise):
                    untranslated.append(f"{model.__name__}.{name}")
            for field in meta.concrete_fields:
                if field.name != "id" and not isinstance(field.verbose_name, Promise):
                    untranslated.append(f"{model.__name__}.{field.name}")
    assert untranslated == []


def test_the_site_and_its_apps_have_names_in_both_languages(as_role: Callable[[str], Client], world: World) -> None:
    assert isinstance(admin.site.site_header, Promise)
    for label in ("accounts", "billing", "senderids", "messaging", "otp_totp", "auditlog"):
        assert isinstance(apps.get_app_config(label).verbose_name, Promise), label
    html = as_role("superuser").get("/admin/").content.decode()
    assert "OTP Portal back office" in html and "Authenticator apps" in html and "Webhook deliveries" in html
    assert "Webhook deliverys" not in html


def test_staff_members_are_listed_without_their_secrets(as_role: Callable[[str], Client], world: World) -> None:
    html = as_role("superuser").get(f"/admin/accounts/user/{User.objects.get(email='owner@acme.test').pk}/change/")
    assert html.status_code == 200 and 'name="last_login"' not in html.content.decode()
