"""Staff record bank transfers and decide customers' top-up requests in the
admin (R-PRE-1); the ledger and charges are read-only there."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Customer
from billing import services
from billing.models import BillingAccount, DepositLot, LedgerEntry, TopUpRequest
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD
from tests.helpers import (
    Capture,
    media_root_fixture,  # noqa: F401 - autouse
    staff_fixture,  # noqa: F401 - the staff fixture
    tiny_png,
    topup_request,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

LOT_ADD = "/admin/billing/depositlot/add/"


def pending_request(cast: Cast, amount: int = 2_500_000, reference: str = "BCA-TRX-9") -> TopUpRequest:
    return topup_request(cast, amount=amount, reference=reference, proof_name="bukti.png")


def change_url(topup: TopUpRequest) -> str:
    return f"/admin/billing/topuprequest/{topup.pk}/change/"


# --- Record a bank transfer -------------------------------------------------


def test_recording_a_transfer_creates_a_lot_and_a_ledger_entry(staff: Client, cast: Cast) -> None:
    response = staff.post(LOT_ADD, {"customer": cast.acme.pk, "amount": "2.500.000", "reference": "BCA-001"})
    assert response.status_code == 302, response.content.decode()[:3000]
    lot = DepositLot.objects.get(customer=cast.acme)
    assert (lot.amount, lot.remaining, lot.tier, lot.reference) == (2_500_000, 2_500_000, 3, "BCA-001")
    entry = LedgerEntry.objects.get(lot=lot)
    assert (entry.kind, entry.amount, entry.created_by) == (LedgerEntry.Kind.DEPOSIT, 2_500_000, cast.staff)
    listing = staff.get("/admin/billing/depositlot/").content.decode()
    assert "Rp 2.500.000" in listing and "BCA-001" in listing


@pytest.mark.parametrize("amount", ["0", "-5", "12.5", "1000,50", "abc", "Rp -1"])
def test_bad_amounts_are_refused_and_nothing_is_written(staff: Client, cast: Cast, amount: str) -> None:
    response = staff.post(LOT_ADD, {"customer": cast.acme.pk, "amount": amount, "reference": "BCA-002"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="errornote"' in html
    assert "Jumlah harus" in html  # the use case's message, in Indonesian
    assert not DepositLot.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert not BillingAccount.objects.exists()


def test_a_missing_amount_is_refused(staff: Client, cast: Cast) -> None:
    response = staff.post(LOT_ADD, {"customer": cast.acme.pk, "amount": "", "reference": "BCA-003"})
    assert response.status_code == 200
    assert not DepositLot.objects.exists()


def test_the_same_bank_reference_is_not_recorded_twice(staff: Client, cast: Cast) -> None:
    assert staff.post(LOT_ADD, {"customer": cast.acme.pk, "amount": "500000", "reference": "BCA-4"}).status_code == 302
    response = staff.post(LOT_ADD, {"customer": cast.acme.pk, "amount": "500000", "reference": "BCA-4"})
    assert response.status_code == 200
    assert "sudah tercatat" in response.content.decode()  # Review 8.19: the use case's message, in Indonesian
    assert DepositLot.objects.count() == 1
    assert LedgerEntry.objects.count() == 1


def test_a_postpaid_customer_gets_no_deposit_lot(staff: Client, cast: Cast) -> None:
    Customer.objects.filter(pk=cast.globex.pk).update(mode=Customer.Mode.POSTPAID)
    response = staff.post(LOT_ADD, {"customer": cast.globex.pk, "amount": "500000", "reference": "BCA-5"})
    assert response.status_code == 200
    assert "pascabayar" in response.content.decode()  # Review 8.19: "… adalah pelanggan pascabayar; …"
    assert not DepositLot.objects.exists()


def test_lots_cannot_be_changed_or_deleted(staff: Client, cast: Cast) -> None:
    lot = services.lot_create(customer=cast.acme, amount=1_000_000, reference="BCA-6")
    page = staff.get(f"/admin/billing/depositlot/{lot.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert staff.post(f"/admin/billing/depositlot/{lot.pk}/change/", {"remaining": 5}).status_code == 403
    assert staff.post(f"/admin/billing/depositlot/{lot.pk}/delete/", {"post": "yes"}).status_code == 403
    lot.refresh_from_db()
    assert lot.remaining == 1_000_000


# --- Top-up requests ------------------------------------------------------------


def test_change_page_links_the_proof_for_staff_only(staff: Client, cast: Cast) -> None:
    topup = pending_request(cast)
    html = staff.get(change_url(topup)).content.decode()
    proof_url = f"/admin/billing/topuprequest/{topup.pk}/proof/"
    assert proof_url in html
    assert 'name="_approve"' in html and 'name="_reject"' in html
    proof = staff.get(proof_url)
    assert proof.status_code == 200
    assert proof["Content-Type"] == "image/png"
    assert b"".join(proof.streaming_content) == tiny_png()
    owner = Client()
    owner.post("/login/", {"username": cast.owner.email, "password": TEST_PASSWORD})
    assert "/admin/login/" in owner.get(proof_url)["Location"]


def test_approving_creates_the_lot_and_emails_the_customer(
    staff: Client, cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    topup = pending_request(cast)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(change_url(topup), {"review_note": "Dana masuk 25/11", "_approve": "Setujui"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/billing/topuprequest/"
    topup.refresh_from_db()
    assert topup.status == TopUpRequest.Status.APPROVED
    assert topup.reviewed_by == cast.staff
    assert topup.review_note == "Dana masuk 25/11"
    assert topup.lot is not None
    assert (topup.lot.amount, topup.lot.tier, topup.lot.reference) == (2_500_000, 3, "BCA-TRX-9")
    assert LedgerEntry.objects.get(lot=topup.lot).amount == 2_500_000
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "billing@acme.test" in message.to
    assert message.subject == "Isi saldo disetujui: Rp 2.500.000"
    assert "Dana masuk 25/11" in message.body


def test_rejecting_needs_a_note(staff: Client, cast: Cast, django_capture_on_commit_callbacks: Capture) -> None:
    topup = pending_request(cast)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(change_url(topup), {"review_note": "  ", "_reject": "Tolak"}, follow=True)
    assert response.status_code == 200
    assert "Tuliskan alasan permintaan ditolak." in response.content.decode()
    topup.refresh_from_db()
    assert topup.status == TopUpRequest.Status.PENDING
    assert mail.outbox == []


def test_rejecting_with_a_note_emails_the_customer(
    staff: Client, cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    topup = pending_request(cast, amount=750_000)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(change_url(topup), {"review_note": "Dana belum kami terima", "_reject": "Tolak"})
    assert response.status_code == 302
    topup.refresh_from_db()
    assert topup.status == TopUpRequest.Status.REJECTED
    assert topup.lot is None
    assert not DepositLot.objects.exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Permintaan isi saldo ditolak: Rp 750.000"
    assert "Dana belum kami terima" in mail.outbox[0].body


def test_approving_twice_is_refused(staff: Client, cast: Cast, django_capture_on_commit_callbacks: Capture) -> None:
    topup = pending_request(cast)
    with django_capture_on_commit_callbacks(execute=True):
        assert staff.post(change_url(topup), {"review_note": "", "_approve": "Setujui"}).status_code == 302
    # the decided request is read-only now
    assert staff.post(change_url(topup), {"review_note": "", "_approve": "Setujui"}).status_code == 403
    # and the list action refuses it with the use case's message
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/admin/billing/topuprequest/",
            {"action": "approve_selected", "_selected_action": [topup.pk]},
            follow=True,
        )
    assert f"#{topup.pk}: Permintaan ini sudah berstatus" in response.content.decode()  # Review 8.19
    assert DepositLot.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert len(mail.outbox) == 1


def test_a_refused_approval_shows_the_reason_and_writes_nothing(
    staff: Client, cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    topup = pending_request(cast)
    Customer.objects.filter(pk=cast.acme.pk).update(mode=Customer.Mode.POSTPAID)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(change_url(topup), {"review_note": "", "_approve": "Setujui"}, follow=True)
    assert response.status_code == 200
    assert "adalah pelanggan pascabayar" in response.content.decode()  # Review 8.19
    topup.refresh_from_db()
    assert topup.status == TopUpRequest.Status.PENDING
    assert not DepositLot.objects.exists()
    assert mail.outbox == []


def test_list_action_approves_pending_requests(
    staff: Client, cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    first = pending_request(cast, amount=500_000, reference="A-1")
    second = pending_request(cast, amount=8_000_000, reference="A-2")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/admin/billing/topuprequest/",
            {"action": "approve_selected", "_selected_action": [first.pk, second.pk]},
        )
    assert response.status_code == 302
    tiers = sorted(DepositLot.objects.values_list("amount", "tier"))
    assert tiers == [(500_000, 2), (8_000_000, 4)]
    assert TopUpRequest.objects.filter(status=TopUpRequest.Status.APPROVED).count() == 2
    assert len(mail.outbox) == 2


def test_requests_list_filters_by_status(staff: Client, cast: Cast) -> None:
    pending_request(cast, reference="P-1")
    rejected = pending_request(cast, amount=600_000, reference="R-1")
    services.topup_request_reject(request=rejected, reviewed_by=cast.staff, note="Tidak ada dana")
    html = staff.get("/admin/billing/topuprequest/?status__exact=pending").content.decode()
    assert "P-1" in html and "R-1" not in html


def test_staff_cannot_add_or_delete_top_up_requests(staff: Client, cast: Cast) -> None:
    topup = pending_request(cast)
    assert staff.get("/admin/billing/topuprequest/add/").status_code == 403
    assert staff.post(f"/admin/billing/topuprequest/{topup.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TopUpRequest.objects.filter(pk=topup.pk).exists()


# --- Ledger, charges, billing accounts ---------------------------------------------


def test_ledger_admin_has_no_add_change_or_delete(staff: Client, cast: Cast) -> None:
    lot = services.lot_create(customer=cast.acme, amount=1_000_000, reference="BCA-L")
    entry = LedgerEntry.objects.get(lot=lot)
    listing = staff.get("/admin/billing/ledgerentry/?kind__exact=deposit&q=BCA-L")
    assert listing.status_code == 200
    assert f"deposit:{cast.acme.pk}:BCA-L" in listing.content.decode()
    assert "/admin/billing/ledgerentry/add/" not in listing.content.decode()
    assert staff.get("/admin/billing/ledgerentry/add/").status_code == 403
    view = staff.get(f"/admin/billing/ledgerentry/{entry.pk}/change/")
    assert view.status_code == 200 and 'name="_save"' not in view.content.decode()
    assert staff.post(f"/admin/billing/ledgerentry/{entry.pk}/change/", {"amount": 1}).status_code == 403
    assert staff.post(f"/admin/billing/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.amount == 1_000_000


def test_charges_are_read_only(staff: Client, cast: Cast) -> None:
    services.lot_create(customer=cast.acme, amount=1_000_000, reference="BCA-C")
    charge = services.charge(
        customer=cast.acme, channel="sms", operator="telkomsel", units=1, reference="msg-1", phone="+6281100000001"
    )
    assert "msg-1" in staff.get("/admin/billing/charge/").content.decode()
    assert staff.get("/admin/billing/charge/add/").status_code == 403
    assert staff.post(f"/admin/billing/charge/{charge.pk}/change/", {"amount": 1}).status_code == 403
    assert staff.post(f"/admin/billing/charge/{charge.pk}/delete/", {"post": "yes"}).status_code == 403


def test_staff_edit_the_low_balance_threshold(staff: Client, cast: Cast) -> None:
    services.lot_create(customer=cast.acme, amount=1_000_000, reference="BCA-T")
    account = BillingAccount.objects.get(customer=cast.acme)
    url = f"/admin/billing/billingaccount/{account.pk}/change/"
    assert staff.post(url, {"low_balance_threshold": "250000"}).status_code == 302
    account.refresh_from_db()
    assert account.low_balance_threshold == 250_000
    refused = staff.post(url, {"low_balance_threshold": "-1"})
    assert refused.status_code == 200
    assert "Batas harus" in refused.content.decode()
    account.refresh_from_db()
    assert account.low_balance_threshold == 250_000


def test_every_billing_admin_page_renders(staff: Client, cast: Cast) -> None:
    lot = services.lot_create(customer=cast.acme, amount=1_000_000, reference="BCA-R")
    charge = services.charge(customer=cast.acme, channel="wa_official", operator="", units=1, reference="r-1")
    topup = pending_request(cast)
    account = BillingAccount.objects.get(customer=cast.acme)
    entry = LedgerEntry.objects.get(lot=lot, kind="deposit")
    pages = {
        "/admin/billing/": "Mutasi",
        "/admin/billing/depositlot/": "Rp 1.000.000",
        LOT_ADD: "Catat transfer bank",
        f"/admin/billing/depositlot/{lot.pk}/change/": "BCA-R",
        "/admin/billing/ledgerentry/": "Rp 1.000.000",
        f"/admin/billing/ledgerentry/{entry.pk}/change/": "BCA-R",
        "/admin/billing/charge/": "r-1",
        f"/admin/billing/charge/{charge.pk}/change/": "r-1",
        "/admin/billing/topuprequest/": "BCA-TRX-9",
        change_url(topup): topup.proof.name.rsplit("/", 1)[-1],  # stored under a name of ours (issue 14)
        "/admin/billing/billingaccount/": "Acme Shop",
        f"/admin/billing/billingaccount/{account.pk}/change/": 'name="low_balance_threshold"',
    }
    for url, text in pages.items():
        response = staff.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
