"""The customer's billing pages: balance and lots, the ledger and its CSV,
top-up requests. Each member sees only its own customer's money."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from accounts.models import Membership
from billing import services
from billing.models import BillingAccount, LedgerEntry, TopUpRequest
from billing.services import daily_run
from tests.conftest import Cast
from tests.factories import UserFactory
from tests.helpers import (
    Capture,
    media_root_fixture,  # noqa: F401 - autouse
    money_fixture,  # noqa: F401 - the money fixture
    png_proof,
    signed_in,
    tiny_png,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture(autouse=True)
def finance_admins(settings: Settings) -> None:
    settings.ADMINS = [("Finance", "finance@otp.test")]


def csv_rows(response: StreamingHttpResponse) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# --- Balance -------------------------------------------------------------------


def test_balance_page_shows_own_balance_and_lots(cast: Cast, money: None) -> None:
    response = signed_in(cast.owner.email).get("/billing/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rp 2.500.000" in html
    assert "ACME-BCA-1" in html
    assert "Aktif" in html
    assert "GLOBEX-BCA-1" not in html and "Rp 750.000" not in html


def test_a_globex_member_never_sees_acme_money(cast: Cast, money: None) -> None:
    client = signed_in(cast.stranger.email)
    client.post("/switch-customer/", {"customer": "acme"})  # not a member: ignored
    for url in ("/billing/", "/billing/ledger/", "/billing/topup/"):
        html = client.get(url).content.decode()
        assert "ACME-BCA-1" not in html and "2.500.000" not in html, url
    assert "GLOBEX-BCA-1" in client.get("/billing/").content.decode()
    rows = csv_rows(client.get("/billing/ledger.csv"))
    assert [row[2] for row in rows[1:]] == ["750000"]


def test_pages_require_sign_in() -> None:
    for url in ("/billing/", "/billing/ledger/", "/billing/ledger.csv", "/billing/topup/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_lot_statuses(cast: Cast) -> None:
    now = timezone.now()
    services.lot_create(customer=cast.acme, amount=650, reference="LOT-USED")
    services.lot_create(customer=cast.acme, amount=1_000_000, reference="LOT-ACTIVE")
    # R-PRE-2: drawn from LOT-USED (same expiry, older), at its tier 1 price: Rp 650
    services.charge(customer=cast.acme, channel="sms", operator="telkomsel", units=1, reference="m-1")
    services.lot_create(customer=cast.acme, amount=300_000, reference="LOT-OLD", now=now - timedelta(days=400))
    services.lot_create(customer=cast.globex, amount=300_000, reference="GLOBEX-IDLE", now=now - timedelta(days=200))
    daily_run(now=now)  # R-PRE-5 expires LOT-OLD; R-PRE-6 forfeits globex's idle balance
    rows = _lot_rows(signed_in(cast.owner.email).get("/billing/").content.decode())
    assert rows["LOT-ACTIVE"] == "Aktif"
    assert rows["LOT-USED"] == "Habis terpakai"
    assert rows["LOT-OLD"] == "Kedaluwarsa"
    assert _lot_rows(signed_in(cast.stranger.email).get("/billing/").content.decode()) == {"GLOBEX-IDLE": "Hangus"}


def _lot_rows(html: str) -> dict[str, str]:
    """reference -> status badge text, from the lots table."""
    rows = {}
    for chunk in html.split("<tr>")[2:]:
        cells = [c.split("</td>")[0] for c in chunk.split("<td")[1:]]
        reference = cells[4].lstrip(">").strip()
        rows[reference] = cells[6].split(">", 2)[2].split("<")[0].strip()
    return rows


def test_expired_lot_before_the_daily_run_reads_expired(cast: Cast) -> None:
    services.lot_create(
        customer=cast.acme, amount=300_000, reference="LOT-LAPSED", now=timezone.now() - timedelta(days=366)
    )
    html = signed_in(cast.owner.email).get("/billing/").content.decode()
    assert _lot_rows(html) == {"LOT-LAPSED": "Kedaluwarsa"}
    assert "Rp 0" in html  # an expired lot is not part of the balance


# --- Threshold ---------------------------------------------------------------------


def test_owner_sets_the_low_balance_threshold(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    assert 'name="threshold"' in client.get("/billing/").content.decode()
    response = client.post("/billing/threshold/", {"threshold": "150000"})
    assert response.status_code == 302
    assert BillingAccount.objects.get(customer=cast.acme).low_balance_threshold == 150_000
    assert "Batas peringatan saldo menipis telah disimpan." in client.get("/billing/").content.decode()


def test_billing_role_sets_the_threshold_too(cast: Cast) -> None:
    clerk = UserFactory(email="finance@acme.test")
    Membership.objects.create(user=clerk, customer=cast.acme, role=Membership.Role.BILLING)
    assert signed_in(clerk.email).post("/billing/threshold/", {"threshold": "0"}).status_code == 302
    assert BillingAccount.objects.get(customer=cast.acme).low_balance_threshold == 0


def test_bad_threshold_is_refused(cast: Cast) -> None:
    response = signed_in(cast.owner.email).post("/billing/threshold/", {"threshold": "-5"})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not BillingAccount.objects.filter(customer=cast.acme, low_balance_threshold=-5).exists()


def test_a_developer_is_refused_the_balance_and_cannot_set_the_threshold(cast: Cast, money: None) -> None:
    """Issue 12: each role sees only its pages; the balance is a money page (owner, billing)."""
    client = signed_in(cast.developer.email)
    response = client.get("/billing/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "Rp 2.500.000" not in html
    assert 'name="threshold"' not in html
    assert "/billing/topup/" not in html  # no top-up link in the nav either
    assert client.post("/billing/threshold/", {"threshold": "100000"}).status_code == 403
    assert not BillingAccount.objects.filter(customer=cast.acme, low_balance_threshold=100_000).exists()


# --- Ledger ----------------------------------------------------------------------------


def test_ledger_shows_the_running_balance(cast: Cast) -> None:
    services.lot_create(customer=cast.acme, amount=1_000_000, reference="L-1")
    services.lot_create(customer=cast.acme, amount=500_000, reference="L-2")
    services.charge(customer=cast.acme, channel="wa", operator="", units=1, reference="wa-1")  # tier 2: 340
    html = signed_in(cast.owner.email).get("/billing/ledger/").content.decode()
    assert html.index("wa-1") < html.index("Top-up L-2") < html.index("Top-up L-1")  # newest first
    for text in ("+Rp 1.000.000", "+Rp 500.000", "-Rp 340", "Rp 1.500.000", "Rp 1.499.660"):
        assert text in html
    assert "Mutasi" in html and "Pemakaian" in html


def test_ledger_is_paginated_by_50(cast: Cast) -> None:
    for number in range(55):
        services.lot_create(customer=cast.acme, amount=1000 + number, reference=f"P-{number:02d}")
    client = signed_in(cast.owner.email)
    first = client.get("/billing/ledger/").content.decode()
    second = client.get("/billing/ledger/?page=2").content.decode()
    assert first.count("Top-up P-") == 50 and second.count("Top-up P-") == 5
    assert "Top-up P-54" in first and "Top-up P-00" in second
    assert "Halaman 1 dari 2" in first


def test_ledger_csv_export(cast: Cast) -> None:
    services.lot_create(customer=cast.acme, amount=1_000_000, reference="C-1")
    services.charge(customer=cast.acme, channel="sms", operator="xl", units=2, reference="msg-42")  # tier 2: 2 x 670
    response = signed_in(cast.owner.email).get("/billing/ledger.csv")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["created_at", "kind", "amount", "running_balance", "lot_id", "charge_reference", "memo"]
    deposit, charge = rows[1:]
    lot_id = str(LedgerEntry.objects.get(kind="deposit", customer=cast.acme).lot_id)
    assert deposit[1:] == ["deposit", "1000000", "1000000", lot_id, "", "Top-up C-1"]
    assert charge[1:6] == ["charge", "-1340", "998660", lot_id, "msg-42"]
    stamp = datetime.fromisoformat(deposit[0])
    assert stamp.utcoffset() == timedelta(hours=7)  # Asia/Jakarta


# --- Top-up requests -------------------------------------------------------------------


def test_topup_page_shows_bank_details(cast: Cast, settings: Settings) -> None:
    settings.BANK_TRANSFER_DETAILS = "Bank Mandiri 999-000 a.n. PT Contoh"
    html = signed_in(cast.owner.email).get("/billing/topup/").content.decode()
    assert "Bank Mandiri 999-000 a.n. PT Contoh" in html
    assert 'enctype="multipart/form-data"' in html


def test_topup_request_with_a_png_proof(cast: Cast, django_capture_on_commit_callbacks: Capture) -> None:
    client = signed_in(cast.owner.email)
    proof = png_proof("bukti-transfer.png")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/billing/topup/", {"amount": "2000000", "transfer_reference": "BCA 25/11", "proof": proof}
        )
    assert response.status_code == 302
    topup = TopUpRequest.objects.get(customer=cast.acme)
    assert (topup.status, topup.amount, topup.transfer_reference) == ("pending", 2_000_000, "BCA 25/11")
    assert topup.requested_by == cast.owner
    assert topup.proof.read() == tiny_png()
    subjects = {tuple(m.to): m.subject for m in mail.outbox}
    assert subjects[("billing@acme.test", "owner@acme.test")] == "Permintaan isi saldo diterima: Rp 2.000.000"
    assert any("finance@otp.test" in m.to and "Rp 2,000,000" in m.subject for m in mail.outbox)  # mail_admins
    html = client.get("/billing/topup/").content.decode()
    assert "Menunggu pemeriksaan" in html and "Rp 2.000.000" in html and "BCA 25/11" in html


def test_exe_proof_is_refused(cast: Cast) -> None:
    proof = SimpleUploadedFile("bukti.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    response = signed_in(cast.owner.email).post("/billing/topup/", {"amount": "500000", "proof": proof})
    assert response.status_code == 400
    assert "Bukti transfer harus berupa berkas PDF, PNG, atau JPEG." in response.content.decode()
    assert not TopUpRequest.objects.exists()


def test_a_program_renamed_to_png_is_refused(cast: Cast) -> None:
    proof = SimpleUploadedFile("bukti.png", b"MZ\x90\x00" + b"\x00" * 64, content_type="image/png")
    response = signed_in(cast.owner.email).post("/billing/topup/", {"amount": "500000", "proof": proof})
    assert response.status_code == 400
    assert "Isi berkas tidak sesuai dengan jenisnya" in response.content.decode()
    assert not TopUpRequest.objects.exists()


def test_proof_larger_than_5_mb_is_refused(cast: Cast) -> None:
    proof = SimpleUploadedFile("bukti.pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024), content_type="application/pdf")
    response = signed_in(cast.owner.email).post("/billing/topup/", {"amount": "500000", "proof": proof})
    assert response.status_code == 400
    assert "lebih besar dari 5 MB" in response.content.decode()
    assert not TopUpRequest.objects.exists()


@pytest.mark.parametrize("amount", ["0", "-1", "12.5", ""])
def test_bad_topup_amount_is_refused(cast: Cast, amount: str) -> None:
    proof = png_proof()
    response = signed_in(cast.owner.email).post("/billing/topup/", {"amount": amount, "proof": proof})
    assert response.status_code == 400
    assert not TopUpRequest.objects.exists()


def test_developer_gets_the_forbidden_page_on_topup(cast: Cast) -> None:
    client = signed_in(cast.developer.email)
    response = client.get("/billing/topup/")
    assert response.status_code == 403
    assert "Tidak diizinkan" in response.content.decode()
    proof = png_proof()
    assert client.post("/billing/topup/", {"amount": "500000", "proof": proof}).status_code == 403
    assert not TopUpRequest.objects.exists()


def test_topup_history_shows_the_staff_note_for_own_customer_only(cast: Cast) -> None:
    topup = services.topup_request_create(
        customer=cast.acme,
        requested_by=cast.owner,
        amount=900_000,
        proof=SimpleUploadedFile("b.png", tiny_png()),
        transfer_reference="REF-ACME",
    )
    services.topup_request_reject(request=topup, reviewed_by=cast.staff, note="Nominal tidak sesuai")
    html = signed_in(cast.owner.email).get("/billing/topup/").content.decode()
    assert "Ditolak" in html and "Nominal tidak sesuai" in html
    other = signed_in(cast.stranger.email).get("/billing/topup/").content.decode()
    assert "REF-ACME" not in other and "Nominal tidak sesuai" not in other


# --- Language -----------------------------------------------------------------------------


def test_pages_are_indonesian_by_default_and_english_after_switching(cast: Cast, money: None) -> None:
    client = signed_in(cast.owner.email)
    html = client.get("/billing/").content.decode()
    assert 'lang="id"' in html
    for text in ("Saldo", "Mutasi", "Isi saldo", "Tingkat", "Kedaluwarsa"):
        assert text in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/billing/"})
    html = client.get("/billing/").content.decode()
    assert 'lang="en"' in html
    for text in ("Balance", "Ledger", "Top up", "Tier", "Expires", "Active"):
        assert text in html
    assert "Rp 2.500.000" in html  # rupiah are written the Indonesian way in both languages
    assert "Ledger" in client.get("/billing/ledger/").content.decode()
    assert "Your top-up requests" in client.get("/billing/topup/").content.decode()
