"""Issue 13: the work queues on the admin's index page, each with its count
and oldest age, and every queue's work done end to end by the role that
does it, through the test client (two-factor sign-in as in production)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.utils import timezone

from billing.models import GuaranteeRefund, Invoice, Reconciliation, TopUpRequest
from messaging.models import Message
from senderids.models import Registration
from tests.backoffice.conftest import World

pytestmark = pytest.mark.django_db


def queues(client: Client) -> dict[str, int]:
    html = client.get("/admin/").content.decode()
    return {key: int(n) for key, n in re.findall(r'id="queue-(\w+)" data-count="(\d+)"', html)}


def queue_link(client: Client, key: str) -> str:
    html = client.get("/admin/").content.decode()
    match = re.search(rf'id="queue-{key}"[^>]*>\s*<th scope="row"><a href="([^"]+)"', html)
    assert match, key
    return match.group(1).replace("&amp;", "&")


def test_the_index_shows_every_queue_with_its_count_and_oldest_age(
    as_role: Callable[[str], Client], world: World
) -> None:
    client = as_role("superuser")
    counts = queues(client)
    assert counts == {"topups": 1, "registrations": 2, "to_post": 1, "overdue": 1, "refunds": 0, "messages": 1}
    html = client.get("/admin/").content.decode()
    assert "OTP Portal back office" in html
    assert "10\xa0minutes ago" in html or "10 minutes ago" in html  # the stuck message's age
    assert html.count('data-queue="registrations"') == 2  # one line per operator (Telkomsel, XL-Axiata)
    assert "Telkomsel" in html and "XL-Axiata" in html
    assert "not run yet" in html  # the reconciliation has not run


def test_registrations_past_the_working_day_sla_are_counted(as_role: Callable[[str], Client], world: World) -> None:
    """R-SID-4: 30 working days after submission, a waiting registration is late."""
    client = as_role("operations")
    assert 'data-late="2"' not in client.get("/admin/").content.decode()
    # Applied 45 working days ago: both expected dates have passed.
    submitted = timezone.now() - timedelta(days=63)
    Registration.objects.update(
        submitted_at=submitted,
        expected_from=timezone.localdate() - timedelta(days=50),
        expected_by=timezone.localdate() - timedelta(days=10),
    )
    html = client.get("/admin/").content.decode()
    assert re.search(r'id="queue-registrations".*?data-late="2"', html, re.S)
    assert re.search(r"oldest waiting 4\d working days", html), "the SLA is counted in working days"
    late = client.get("/admin/senderids/registration/?waiting=late").content.decode()
    assert late.count('name="_selected_action"') == 2


def test_every_role_sees_the_queues_of_the_pages_it_may_open(as_role: Callable[[str], Client], world: World) -> None:
    for role in ("operations", "finance", "support"):
        assert set(queues(as_role(role))) == {"topups", "registrations", "to_post", "overdue", "refunds", "messages"}


def test_finance_approves_a_top_up_from_its_queue(as_role: Callable[[str], Client], world: World) -> None:
    finance = as_role("finance")
    listing = finance.get(queue_link(finance, "topups"))
    assert f"/admin/billing/topuprequest/{world.topup.pk}/change/" in listing.content.decode()
    response = finance.post(
        f"/admin/billing/topuprequest/{world.topup.pk}/change/", {"review_note": "BCA checked", "_approve": "Approve"}
    )
    assert response.status_code == 302
    topup = TopUpRequest.objects.get(pk=world.topup.pk)
    assert topup.status == TopUpRequest.Status.APPROVED and topup.lot is not None
    assert queues(finance)["topups"] == 0


def test_operations_move_a_registration_from_its_queue(as_role: Callable[[str], Client], world: World) -> None:
    operations = as_role("operations")
    link = queue_link(operations, "registrations")
    assert operations.get(link).content.decode().count('name="_selected_action"') == 2
    xl = Registration.objects.get(application=world.registration.application, operator="xl")
    Registration.objects.filter(pk=xl.pk).update(submitted_at=timezone.now() - timedelta(days=3))
    waiting = operations.get(link).content.decode()
    first, second = (f"/admin/senderids/registration/{r.pk}/change/" for r in (xl, world.registration))
    assert waiting.index(first) < waiting.index(second), "oldest first"
    per_operator = "/admin/senderids/registration/?waiting=yes&operator__exact=telkomsel"
    assert operations.get(per_operator).content.decode().count('name="_selected_action"') == 1
    for action, note in (("move_in_review", "Sent to Telkomsel"), ("move_active", "Telkomsel approved")):
        response = operations.post(
            "/admin/senderids/registration/",
            {"action": action, ACTION_CHECKBOX_NAME: [world.registration.pk], "apply": "1", "note": note},
        )
        assert response.status_code == 302
    assert Registration.objects.get(pk=world.registration.pk).status == Registration.Status.ACTIVE
    assert queues(operations)["registrations"] == 1  # XL still waits


def test_finance_prints_and_records_the_posting_of_the_paper_queue(
    as_role: Callable[[str], Client], world: World
) -> None:
    """R-POST-4: print the batch, post it, record the courier: the queue empties."""
    finance = as_role("finance")
    link = queue_link(finance, "to_post")
    assert world.invoice.number in finance.get(link).content.decode()
    printed = finance.post(link, {"action": "print_batch", ACTION_CHECKBOX_NAME: [world.invoice.pk]})
    assert printed.status_code == 200 and printed["Content-Type"] == "application/pdf"
    recorded = finance.post(
        link,
        {
            "action": "record_posting",
            ACTION_CHECKBOX_NAME: [world.invoice.pk],
            "apply": "1",
            "courier": "JNE",
            "tracking_number": "JNE123",
        },
    )
    assert recorded.status_code == 302
    invoice = Invoice.objects.get(pk=world.invoice.pk)
    assert (invoice.courier, invoice.tracking_number, invoice.posted_at is not None) == ("JNE", "JNE123", True)
    assert queues(finance)["to_post"] == 0
    assert queues(finance)["overdue"] == 1  # posting is not paying


def test_finance_pays_an_overdue_invoice_from_its_queue(as_role: Callable[[str], Client], world: World) -> None:
    finance = as_role("finance")
    assert world.invoice.number in finance.get(queue_link(finance, "overdue")).content.decode()
    data = {"amount": str(world.invoice.total), "reference": "BCA-PAY-9", "paid_on": "2025-06-20"}
    assert finance.post(f"/admin/billing/invoice/{world.invoice.pk}/pay/", data).status_code == 302
    assert queues(finance)["overdue"] == 0


def test_finance_records_a_guarantee_refund_transfer_from_its_queue(
    as_role: Callable[[str], Client], world: World
) -> None:
    """R-POST-7: terminating Globex makes a refund due; its transfer empties the queue."""
    finance = as_role("finance")
    globex = world.cast.globex
    terminate = finance.post(
        f"/admin/billing/guarantee/terminate/{globex.pk}/", {"reason": "contract ended", "confirm": "on"}
    )
    assert terminate.status_code == 302
    assert queues(finance)["refunds"] == 1
    refund = GuaranteeRefund.objects.get(customer=globex)
    assert (
        f"/admin/billing/guaranteerefund/{refund.pk}/change/"
        in finance.get(queue_link(finance, "refunds")).content.decode()
    )
    done = finance.post(f"/admin/billing/guaranteerefund/{refund.pk}/transferred/", {"bank_reference": "BCA-RF-1"})
    assert done.status_code == 302
    refund.refresh_from_db()
    assert (refund.status, refund.bank_reference) == (GuaranteeRefund.Status.TRANSFERRED, "BCA-RF-1")
    assert queues(finance)["refunds"] == 0


def test_operations_look_at_stuck_and_failing_messages_per_provider(
    as_role: Callable[[str], Client], world: World
) -> None:
    operations = as_role("operations")
    failed = Message.objects.create(
        customer=world.cast.acme,
        to="+6281234567891",
        channel="sms",
        operator="telkomsel",
        body="Kode ******",
        status=Message.Status.FAILED,
        provider="smpp",
        error_code="no_response",
    )
    html = operations.get("/admin/").content.decode()
    rows = re.findall(r'data-queue="messages" data-count="(\d+)"', html)
    assert sorted(rows) == ["1", "1"]  # the sandbox's stuck one, SMPP's failed one
    assert "1 stuck, 0 failing" in html and "0 stuck, 1 failing" in html
    stuck = operations.get(queue_link(operations, "messages")).content.decode()
    assert world.message.pk in stuck and failed.pk not in stuck
    failing = operations.get("/admin/messaging/message/?attention=failing").content.decode()
    assert failed.pk in failing and world.message.pk not in failing
    requeued = operations.post(
        "/admin/messaging/message/?attention=stuck",
        {"action": "requeue", ACTION_CHECKBOX_NAME: [world.message.pk]},
        follow=True,
    )
    assert "Re-queued 1 message" in " ".join(str(m) for m in requeued.context["messages"])


def test_the_latest_reconciliation_is_on_the_index(as_role: Callable[[str], Client], world: World) -> None:
    finance = as_role("finance")
    assert finance.post("/admin/reports/reconciliation/").status_code == 302
    assert Reconciliation.objects.count() == 1
    html = finance.get("/admin/").content.decode()
    assert "the ledger agrees with every balance" in html
