"""Issue 13: every staff change to money, status or configuration is in the
audit log (django-auditlog) with who, when, what and why, and shown on the
object's own admin page. Each change is made through the admin, as staff
make it, signed in with two factors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models
from django.test import Client

from accounts.models import ApiKey, Customer, User
from billing.models import (
    DepositLot,
    Guarantee,
    GuaranteeRefund,
    Invoice,
    LedgerEntry,
    Payment,
    TopUpRequest,
)
from senderids.models import Registration
from tests.backoffice.conftest import World
from tests.helpers import api_key_for

pytestmark = pytest.mark.django_db


def entries(obj: models.Model) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(obj).select_related("actor").order_by("timestamp", "id"))


def last(obj: models.Model) -> LogEntry:
    rows = entries(obj)
    assert rows, f"no audit entry for {obj!r}"
    return rows[-1]


def user(role: str) -> User:
    return User.objects.get(email=f"{role}@otp.test")


def why(entry: LogEntry) -> tuple[str, str]:
    data: dict[str, Any] = entry.additional_data or {}
    return data.get("action", ""), data.get("reason", "")


def test_suspending_and_reinstating_a_customer_record_who_what_and_why(
    as_role: Callable[[str], Client], world: World
) -> None:
    operations = as_role("operations")
    acme = world.cast.acme
    for action, reason in (("suspend", "chargeback investigation"), ("reactivate", "investigation closed")):
        response = operations.post(
            "/admin/accounts/customer/",
            {"action": action, ACTION_CHECKBOX_NAME: [acme.pk], "post": "yes", "reason": reason},
        )
        assert response.status_code == 302
    suspended, reinstated = entries(acme)[-2:]
    assert suspended.changes_dict["status"] == ["active", "suspended"]
    assert reinstated.changes_dict["status"] == ["suspended", "active"]
    assert why(suspended) == ("suspend", "chargeback investigation")
    assert why(reinstated) == ("reactivate", "investigation closed")
    assert suspended.actor == reinstated.actor == user("operations")
    assert suspended.action == LogEntry.Action.UPDATE and suspended.timestamp is not None


def test_switching_a_customer_to_postpaid_records_the_reason(as_role: Callable[[str], Client], world: World) -> None:
    finance = as_role("finance")
    acme = world.cast.acme
    finance.post(
        "/admin/accounts/customer/",
        {"action": "switch_to_postpaid", ACTION_CHECKBOX_NAME: [acme.pk], "post": "yes", "reason": "signed contract"},
    )
    entry = last(acme)
    assert entry.changes_dict["mode"] == ["prepaid", "postpaid"]
    assert why(entry) == ("switch_to_postpaid", "signed contract") and entry.actor == user("finance")


def test_approving_a_top_up_records_the_request_the_lot_and_the_ledger_row(
    as_role: Callable[[str], Client], world: World
) -> None:
    finance = as_role("finance")
    finance.post(f"/admin/billing/topuprequest/{world.topup.pk}/change/", {"review_note": "BCA ok", "_approve": "1"})
    topup = TopUpRequest.objects.get(pk=world.topup.pk)
    request_entry = last(topup)
    assert request_entry.changes_dict["status"] == ["pending", "approved"]
    lot_entry = last(topup.lot)
    ledger_entry = last(LedgerEntry.objects.get(lot=topup.lot, kind=LedgerEntry.Kind.DEPOSIT))
    assert lot_entry.action == ledger_entry.action == LogEntry.Action.CREATE
    assert ledger_entry.changes_dict["amount"][1] == "2500000"
    for entry in (request_entry, lot_entry, ledger_entry):
        assert why(entry) == ("approve_topup", "BCA ok") and entry.actor == user("finance")


def test_recording_a_deposit_and_a_guarantee_deposit_are_audited(
    as_role: Callable[[str], Client], world: World
) -> None:
    finance = as_role("finance")
    finance.post(
        "/admin/billing/depositlot/add/", {"customer": world.cast.acme.pk, "amount": "1000000", "reference": "R1"}
    )
    lot = DepositLot.objects.get(reference="R1")
    assert why(last(lot))[0] == "LotCreateForm" and last(lot).actor == user("finance")
    globex = world.cast.globex
    finance.post("/admin/billing/guarantee/add/", {"customer": globex.pk, "amount": "5000000", "reference": "G2"})
    guarantee = Guarantee.objects.get(customer=globex)
    assert last(guarantee).changes_dict["held"] == ["10000000", "15000000"]
    assert last(LedgerEntry.objects.get(reference__contains="G2")).actor == user("finance")


def test_changing_a_cap_records_the_reason(as_role: Callable[[str], Client], world: World) -> None:
    finance = as_role("finance")
    guarantee = Guarantee.objects.get(customer=world.cast.globex)
    response = finance.post(
        f"/admin/billing/guarantee/{guarantee.pk}/cap/", {"percent": "300", "reason": "peak season request"}
    )
    assert response.status_code == 302
    entry = last(guarantee)
    assert entry.changes_dict["cap_percent"] == ["200", "300"]
    assert why(entry) == ("CapForm", "peak season request") and entry.actor == user("finance")


def test_payments_voids_and_postings_of_invoices_are_audited(as_role: Callable[[str], Client], world: World) -> None:
    finance = as_role("finance")
    invoice = world.invoice
    finance.post(
        "/admin/billing/invoice/",
        {
            "action": "record_posting",
            ACTION_CHECKBOX_NAME: [invoice.pk],
            "apply": "1",
            "courier": "JNE",
            "tracking_number": "T-1",
        },
    )
    posted = last(invoice)
    assert posted.changes_dict["courier"] == ["", "JNE"] and "posted_at" in posted.changes_dict
    assert why(posted)[0] == "PostingForm" and posted.actor == user("finance")
    finance.post(
        f"/admin/billing/invoice/{invoice.pk}/pay/",
        {"amount": "1000", "reference": "BCA-P-1", "paid_on": "2025-06-02"},
    )
    payment = Payment.objects.get(reference="BCA-P-1")
    assert last(payment).action == LogEntry.Action.CREATE and last(payment).actor == user("finance")
    assert last(invoice).changes_dict["paid_amount"] == ["0", "1000"]


def test_voiding_an_invoice_records_the_reason(as_role: Callable[[str], Client], world: World) -> None:
    finance = as_role("finance")
    invoice = world.invoice
    assert finance.post(f"/admin/billing/invoice/{invoice.pk}/void/", {"reason": "wrong NPWP"}).status_code == 302
    entry = last(Invoice.objects.get(pk=invoice.pk))
    assert entry.changes_dict["status"] == ["issued", "void"]
    assert why(entry) == ("VoidForm", "wrong NPWP")


def test_termination_and_the_refund_transfer_are_audited(as_role: Callable[[str], Client], world: World) -> None:
    finance = as_role("finance")
    globex = world.cast.globex
    finance.post(f"/admin/billing/guarantee/terminate/{globex.pk}/", {"reason": "customer left", "confirm": "on"})
    status = last(Customer.objects.get(pk=globex.pk))
    assert status.changes_dict["status"][1] == "terminated"
    assert why(status) == ("TerminateForm", "customer left") and status.actor == user("finance")
    refund = GuaranteeRefund.objects.get(customer=globex)
    assert why(last(refund)) == ("TerminateForm", "customer left")
    finance.post(f"/admin/billing/guaranteerefund/{refund.pk}/transferred/", {"bank_reference": "BCA-RF-7"})
    entry = last(refund)
    assert entry.changes_dict["status"] == ["due", "transferred"] and entry.actor == user("finance")


def test_a_registration_move_records_the_note(as_role: Callable[[str], Client], world: World) -> None:
    operations = as_role("operations")
    operations.post(
        "/admin/senderids/registration/",
        {"action": "move_in_review", ACTION_CHECKBOX_NAME: [world.registration.pk], "apply": "1", "note": "sent"},
    )
    entry = last(Registration.objects.get(pk=world.registration.pk))
    assert entry.changes_dict["status"] == ["submitted", "in_review"]
    assert why(entry) == ("move_in_review", "sent") and entry.actor == user("operations")


def test_revoking_a_key_is_audited_without_its_hash(as_role: Callable[[str], Client], world: World) -> None:
    operations = as_role("operations")
    key = api_key_for(world.cast.acme_live_key)
    operations.post("/admin/accounts/apikey/", {"action": "revoke", ACTION_CHECKBOX_NAME: [key.pk]})
    entry = last(ApiKey.objects.get(pk=key.pk))
    assert set(entry.changes_dict) == {"revoked_at"} and entry.actor == user("operations")
    assert all("key_hash" not in (e.changes_dict or {}) for e in entries(key))


def test_the_trail_is_shown_on_the_objects_page(as_role: Callable[[str], Client], world: World) -> None:
    operations = as_role("operations")
    acme = world.cast.acme
    operations.post(
        "/admin/accounts/customer/",
        {"action": "suspend", ACTION_CHECKBOX_NAME: [acme.pk], "post": "yes", "reason": "abuse report 42"},
    )
    for role in ("operations", "support"):
        page = as_role(role).get(f"/admin/accounts/customer/{acme.pk}/change/").content.decode()
        assert "audit trail (who, when, what and why)" in page.lower()
        assert "abuse report 42" in page and "operations@otp.test" in page, role
    log = as_role("support").get("/admin/auditlog/logentry/?q=operations@otp.test").content.decode()
    assert "abuse report 42" in log


def test_the_hot_send_path_writes_no_audit_rows(world: World, django_capture_on_commit_callbacks: Any) -> None:
    """Sends, charges and their ledger rows are not audit material (bulk rows, the ledger itself)."""
    from messaging import services as messaging

    before = LogEntry.objects.count()
    messaging.verification_start(api_key=api_key_for(world.cast.acme_live_key), to="+6281234567890")
    assert LogEntry.objects.count() == before
