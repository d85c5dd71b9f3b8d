"""The customer's postpaid pages (R-POST-1 … R-POST-8): the balance page's
guarantee, cap and month; the guarantee book in the ledger; invoices with
their PDF and CSV (owner and billing only, another customer's a 404); and
prepaid statements with their PDF."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from accounts.models import Customer, Membership
from billing import services
from billing.models import Invoice, Statement
from tests.billing.postpaid_months import at, document_key, english, invoice_month, make_postpaid
from tests.conftest import Cast
from tests.factories import UserFactory
from tests.helpers import (
    media_root_fixture,  # noqa: F401 - autouse
    signed_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(cast: Cast) -> Customer:
    return make_postpaid(cast.acme)


@pytest.fixture
def billing_member(cast: Cast) -> Client:
    user = UserFactory(email="finance@acme.test")
    Membership.objects.create(user=user, customer=cast.acme, role=Membership.Role.BILLING)
    return signed_in(user.email)


# --- The balance page (R-POST-1, R-POST-2, R-POST-6) -------------------------------------


def test_the_postpaid_balance_page_shows_guarantee_cap_tier_and_usage(cast: Cast, acme: Customer) -> None:
    services.charge(customer=acme, channel="sms", operator="telkomsel", units=1_000, reference="now-1")
    html = english(signed_in(cast.owner.email)).get("/billing/").content.decode()
    assert "Guarantee deposit" in html and "Rp 10.000.000" in html
    assert "Rp 20.000.000" in html  # R-POST-2: the cap, 2 × the guarantee
    assert "Rp 630.000" in html  # 1.000 units reach tier 2: 630 each (R-POST-3)
    assert "Rp 19.370.000" in html  # left this month
    assert "<dt>Tier reached</dt><dd>2</dd>" in html
    assert 'aria-valuenow="3"' in html and '<rect width="3" height="1"/>' in html  # SVG, no style attribute (issue 14)
    assert "of its cap" not in html and "Sending is" not in html  # no notice
    assert "Deposits" not in html and "Top up" not in html  # not the prepaid page


def test_a_prepaid_customer_keeps_its_deposit_page(cast: Cast, acme: Customer) -> None:
    services.lot_create(customer=cast.globex, amount=750_000, reference="GLOBEX-BCA-1")
    html = english(signed_in(cast.stranger.email)).get("/billing/").content.decode()
    assert "Current balance" in html and "GLOBEX-BCA-1" in html
    assert "Guarantee deposit" not in html and "Rp 10.000.000" not in html


def test_passing_80_percent_of_the_cap_shows_a_warning(cast: Cast, acme: Customer) -> None:
    services.cap_set(customer=acme, percent=100, reason="test: cap = the guarantee", changed_by=cast.staff)
    # 13.334 units reach tier 4 (600 each): Rp 8.000.400 of a Rp 10.000.000 cap, just past 80 %.
    services.charge(customer=acme, channel="sms", operator="telkomsel", units=13_334, reference="now-big")
    html = english(signed_in(cast.owner.email)).get("/billing/").content.decode()
    assert "This month's usage has passed 80% of its cap." in html
    assert 'class="meter warn"' in html and 'aria-valuenow="80"' in html
    assert "Rp 1.999.600" in html  # left


def test_without_a_guarantee_the_page_says_sending_is_refused(cast: Cast) -> None:
    make_postpaid(cast.acme, guarantee=None)
    html = english(signed_in(cast.owner.email)).get("/billing/").content.decode()
    assert "Sending is refused: no guarantee deposit is held." in html
    assert "Lodge the guarantee deposit" in html  # the owner is told where to transfer it
    # Issue 12: the balance is a money page; a developer is refused it.
    refused = english(signed_in(cast.developer.email)).get("/billing/")
    developer = refused.content.decode()
    assert refused.status_code == 403 and "no guarantee deposit is held" not in developer
    assert "Lodge the guarantee deposit" not in developer and "/billing/invoices/" not in developer


def test_a_suspension_for_an_unpaid_invoice_is_shown(cast: Cast, acme: Customer) -> None:
    """R-POST-6: the guarantee cannot cover October's Rp 10.656.000: sending is suspended."""
    invoice_month(acme, 2025, 10, units=16_000)
    with at("2025-12-01T00:10"):
        assert services.invoices_settle_overdue(today=date(2025, 12, 1)).suspended == 1
    html = english(signed_in(cast.owner.email)).get("/billing/").content.decode()
    assert "Sending is suspended: an invoice is still unpaid." in html
    assert "1 invoice is unpaid" in html and "Rp 656.000" in html
    assert "Rp 0" in html  # nothing left of the guarantee
    assert 'href="/billing/invoices/"' in html


def test_no_rule_numbers_in_the_customer_pages(cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10)
    client = english(signed_in(cast.owner.email))
    for url in ("/billing/", "/billing/invoices/", f"/billing/invoices/{document_key(invoice)}/", "/billing/ledger/"):
        html = client.get(url).content.decode()
        assert "R-POST" not in html, url


# --- The ledger: the guarantee book ----------------------------------------------------------


def test_the_ledger_shows_the_guarantee_book_with_its_kinds(cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10, units=1_000)  # 699.300
    with at("2025-12-01T00:10"):
        services.invoices_settle_overdue(today=date(2025, 12, 1))
    html = english(signed_in(cast.owner.email)).get("/billing/ledger/").content.decode()
    assert "Guarantee deposit" in html and "Invoice paid from the guarantee" in html
    assert "Rp 10.000.000" in html and "-Rp 699.300" in html and "Rp 9.300.700" in html
    assert f'href="/billing/invoices/{document_key(invoice)}/"' in html
    # Issue 12: the ledger is a money page; a developer is refused it.
    refused = english(signed_in(cast.developer.email)).get("/billing/ledger/")
    developer = refused.content.decode()
    assert refused.status_code == 403
    assert invoice.number not in developer and f"/billing/invoices/{document_key(invoice)}/" not in developer


# --- Invoices -----------------------------------------------------------------------------------


def test_owner_and_billing_member_list_their_invoices(cast: Cast, acme: Customer, billing_member: Client) -> None:
    invoice = invoice_month(acme, 2025, 10, units=1_000)
    for client in (english(signed_in(cast.owner.email)), english(billing_member)):
        response = client.get("/billing/invoices/")
        assert response.status_code == 200
        html = response.content.decode()
        assert invoice.number in html and "October 2025" in html
        assert "1 Nov 2025" in html and "15 Nov 2025" in html  # R-POST-5: due 14 days later
        assert "Rp 699.300" in html and "Rp 0" in html  # total, paid
        assert "Overdue" in html
        assert f'href="/billing/invoices/{document_key(invoice)}/pdf/"' in html
        assert f'href="/billing/invoices/{document_key(invoice)}/csv/"' in html


def test_the_invoice_detail_shows_lines_vat_payments_and_history(cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10, units=1_000)
    with at("2025-11-05T10:00"):
        services.payment_record(invoice=invoice, amount=300_000, reference="BCA-PART-1", recorded_by=cast.staff)
    with at("2025-11-06T10:00"):
        services.payment_record(invoice=invoice, amount=399_300, reference="BCA-PART-2", recorded_by=cast.staff)
    html = english(signed_in(cast.owner.email)).get(f"/billing/invoices/{document_key(invoice)}/").content.decode()
    assert "SMS OTP Telkomsel" in html and "Rp 630" in html and "Rp 630.000" in html
    assert "Rp 577.500" in html and "Rp 69.300" in html and "Rp 699.300" in html  # DPP, PPN, total (R-POST-8)
    assert "BCA-PART-1" in html and "BCA-PART-2" in html and "Bank transfer" in html
    assert "Invoice issued." in html and "Paid in full." in html
    assert "paid by transfer" not in html  # staff's reasons stay in the back-office
    assert "Overdue" not in html


def test_the_history_is_in_the_users_language(cast: Cast, acme: Customer) -> None:
    """The history is built from the moves, through gettext: switching
    language switches it (the service's English reasons are never shown)."""
    invoice = invoice_month(acme, 2025, 10)
    client = signed_in(cast.owner.email)
    indonesian = client.get(f"/billing/invoices/{document_key(invoice)}/").content.decode()
    assert "month closed" not in indonesian
    english_page = english(client).get(f"/billing/invoices/{document_key(invoice)}/").content.decode()
    assert "Invoice issued." in english_page


def test_a_credit_note_is_shown_as_such(cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10)
    with at("2025-11-03T10:00"):
        note = services.invoice_void(invoice=invoice, reason="wrong NPWP", actor=cast.staff)
    client = english(signed_in(cast.owner.email))
    listing = client.get("/billing/invoices/").content.decode()
    assert "Credit note" in listing and f"cancels {invoice.number}" in listing
    assert f'href="/billing/invoices/{document_key(note)}/csv/"' not in listing  # a credit note has no CSV
    void = client.get(f"/billing/invoices/{document_key(invoice)}/").content.decode()
    assert f"Cancelled by credit note {note.number}." in void and "Void" in void
    detail = client.get(f"/billing/invoices/{document_key(note)}/").content.decode()
    assert f"This credit note cancels invoice {invoice.number}" in detail and "-Rp 7.215" in detail
    assert client.get(f"/billing/invoices/{document_key(note)}/csv/").status_code == 404


def test_the_pdf_is_the_stored_one_and_the_csv_lists_every_message(
    cast: Cast, acme: Customer, billing_member: Client
) -> None:
    invoice = invoice_month(acme, 2025, 10, units=3)
    response = billing_member.get(f"/billing/invoices/{document_key(invoice)}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="{document_key(invoice)}.pdf"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    assert invoice.number in text
    invoice.refresh_from_db()
    assert invoice.pdf  # stored through invoice_pdf_store
    again = b"".join(
        signed_in(cast.owner.email).get(f"/billing/invoices/{document_key(invoice)}/pdf/").streaming_content
    )
    assert again == body
    csv = billing_member.get(f"/billing/invoices/{document_key(invoice)}/csv/")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert f'filename="{document_key(invoice)}.csv"' in csv["Content-Disposition"]
    rows = b"".join(csv.streaming_content).decode().strip().splitlines()
    assert rows[0].startswith("waktu_wib,") and len(rows) == 2 and rows[1].endswith(",acme-202510")


def test_a_developer_is_refused_invoices_and_statements(cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10)
    client = signed_in(cast.developer.email)
    for url in (
        "/billing/invoices/",
        f"/billing/invoices/{document_key(invoice)}/",
        f"/billing/invoices/{document_key(invoice)}/pdf/",
        f"/billing/invoices/{document_key(invoice)}/csv/",
        "/billing/statements/",
        "/billing/statements/2025-10/pdf/",
    ):
        assert client.get(url).status_code == 403, url
    invoice.refresh_from_db()
    assert not invoice.pdf  # nothing rendered for a refused request


def test_another_customers_invoice_is_not_found(cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10)
    make_postpaid(cast.globex)
    client = signed_in(cast.stranger.email)
    assert invoice.number not in client.get("/billing/invoices/").content.decode()
    for suffix in ("", "pdf/", "csv/"):
        assert client.get(f"/billing/invoices/{document_key(invoice)}/{suffix}").status_code == 404, suffix
    assert client.get("/billing/invoices/INV-1999-999999/").status_code == 404


def test_the_invoice_list_reads_a_fixed_number_of_queries(
    cast: Cast, acme: Customer, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """No N+1: the list costs the same for 2 documents as for 6 (credit notes included)."""
    client = signed_in(cast.owner.email)
    invoice_month(acme, 2025, 6)
    with at("2025-08-02T10:00"):
        services.invoice_void(invoice=invoice_month(acme, 2025, 7), reason="wrong address", actor=None)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/billing/invoices/").status_code == 200
    for month in (8, 9, 10):
        invoice_month(acme, 2025, month)
    assert Invoice.objects.filter(customer=acme).count() == 6
    with django_assert_max_num_queries(5), CaptureQueriesContext(connection) as many:
        html = client.get("/billing/invoices/").content.decode()
    assert html.count("/pdf/") == 6
    assert len(many) == len(few)


# --- Navigation --------------------------------------------------------------------------------


def test_the_nav_shows_invoices_to_postpaid_and_statements_to_prepaid_money_roles(cast: Cast, acme: Customer) -> None:
    owner = english(signed_in(cast.owner.email)).get("/billing/").content.decode()
    assert 'href="/billing/invoices/"' in owner and 'href="/billing/topup/"' not in owner
    developer = english(signed_in(cast.developer.email)).get("/billing/").content.decode()
    assert 'href="/billing/invoices/"' not in developer and 'href="/billing/statements/"' not in developer
    prepaid = english(signed_in(cast.stranger.email)).get("/billing/").content.decode()
    assert 'href="/billing/statements/"' in prepaid and 'href="/billing/topup/"' in prepaid
    assert 'href="/billing/invoices/"' not in prepaid


# --- Prepaid statements -------------------------------------------------------------------------


@pytest.fixture
def statement(cast: Cast) -> Statement:
    with at("2025-10-05T10:00"):
        services.lot_create(customer=cast.globex, amount=500_000, reference="GLOBEX-OCT")
        services.charge(customer=cast.globex, channel="sms", operator="telkomsel", units=2, reference="g-1")
    with at("2025-11-01T00:05"):
        assert services.statements_issue() == 1
    return Statement.objects.get(customer=cast.globex)


def test_statements_list_and_pdf(cast: Cast, statement: Statement) -> None:
    client = english(signed_in(cast.stranger.email))
    html = client.get("/billing/statements/").content.decode()
    assert "October 2025" in html and "Rp 500.000" in html and "Rp 1.260" in html and "Rp 498.740" in html
    assert 'href="/billing/statements/2025-10/pdf/"' in html
    response = client.get("/billing/statements/2025-10/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF")
    statement.refresh_from_db()
    assert statement.pdf  # stored once (statement_pdf_store)
    assert b"".join(client.get("/billing/statements/2025-10/pdf/").streaming_content) == body
    assert client.get("/billing/statements/2025-09/pdf/").status_code == 404
    assert client.get("/billing/statements/oktober/pdf/").status_code == 404


def test_another_customers_statement_is_not_found(cast: Cast, statement: Statement) -> None:
    client = signed_in(cast.owner.email)
    assert "Rp 498.740" not in client.get("/billing/statements/").content.decode()
    assert client.get("/billing/statements/2025-10/pdf/").status_code == 404


def test_statement_send_emails_the_stored_pdf(cast: Cast, statement: Statement) -> None:
    """statement_send renders through statement_pdf_store: the emailed PDF is the downloadable one."""
    stored = services.statement_pdf_store(statement=statement)
    with stored.pdf.open("rb") as handle:
        data = handle.read()
    assert services.statement_send(statement_id=statement.pk) is True
    assert services.statement_send(statement_id=statement.pk) is False  # once
    [message] = mail.outbox
    assert message.attachments[0][1] == data
