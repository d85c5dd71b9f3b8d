"""`/api/v1/invoices…` (api-contract "Money"): the customer's own invoices
only, the stored PDF, the streamed CSV."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pypdf import PdfReader

from accounts import services as accounts
from accounts.models import Customer
from billing import services
from billing.models import Invoice
from tests.conftest import api_client
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def invoice(settings, tmp_path) -> Invoice:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    customer = CustomerFactory(slug="pt-api", mode=Customer.Mode.POSTPAID, legal_name="PT API Jaya")
    services.guarantee_deposit(customer=customer, amount=10_000_000, reference="G")
    with time_machine.travel(datetime(2026, 10, 3, 9, tzinfo=WIB)):
        for n in range(3):
            services.charge(
                customer=customer, channel="sms", operator="telkomsel", units=1, reference=f"msg_{n}", phone="+628111"
            )
    with time_machine.travel(datetime(2026, 11, 1, 0, 5, tzinfo=WIB)):
        services.month_close()
    return Invoice.objects.get(customer=customer)


def test_list_detail_pdf_and_csv(invoice: Invoice) -> None:
    client = api_client(accounts.api_key_create(customer=invoice.customer).secret)
    listing = client.get("/api/v1/invoices").json()
    assert [row["number"] for row in listing["results"]] == ["INV/2026/000001"]
    row = listing["results"][0]
    assert (row["month"], row["subtotal"], row["total"], row["outstanding"]) == ("2026-10", 1_950, 2_165, 2_165)
    assert row["pdf_url"] == "/api/v1/invoices/INV-2026-000001/pdf"
    for path in (
        "/api/v1/invoices/INV-2026-000001",
        "/api/v1/invoices/INV/2026/000001",
        "/api/v1/invoices/INV%2F2026%2F000001",
    ):
        detail = client.get(path)
        assert detail.status_code == 200, path
        assert [line["amount"] for line in detail.json()["lines"]] == [1_950]
    pdf = client.get("/api/v1/invoices/INV-2026-000001/pdf", HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    body = b"".join(pdf.streaming_content)
    import io

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    assert "INV/2026/000001" in text and "PT API Jaya" in text
    again = b"".join(client.get("/api/v1/invoices/INV-2026-000001/pdf").streaming_content)
    assert again == body  # rendered once, stored
    csv = client.get("/api/v1/invoices/INV-2026-000001/csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    rows = b"".join(csv.streaming_content).decode().strip().splitlines()
    assert len(rows) == 4 and rows[1].endswith(",msg_0")


def test_another_customers_invoice_is_not_found(invoice: Invoice) -> None:
    other = api_client(accounts.api_key_create(customer=CustomerFactory(slug="other")).secret)
    assert other.get("/api/v1/invoices").json()["results"] == []
    for suffix in ("", "/pdf", "/csv"):
        response = other.get(f"/api/v1/invoices/INV-2026-000001{suffix}")
        assert response.status_code == 404, suffix
        assert response.json()["error"]["code"] == "not_found"


def test_stored_documents_are_never_served_from_media_even_under_debug(settings) -> None:  # type: ignore[no-untyped-def]
    """Invoices, statements, transfer proofs and signed forms live under
    MEDIA_ROOT; only views that check who asks hand them out."""
    import importlib

    from django.urls import Resolver404, resolve

    import otpportal.urls

    settings.DEBUG = True
    module = importlib.reload(otpportal.urls)
    try:
        for path in ("/media/invoices/2026/11/INV-2026-000001.pdf", "/media/private/sender-id-forms/x.pdf"):
            with pytest.raises(Resolver404):
                resolve(path, urlconf=module)
    finally:
        settings.DEBUG = False
        importlib.reload(otpportal.urls)
