"""Emails to customers and staff. Called after commit (style.md #6) through
``billing.tasks.notify`` so a slow mail server never sits in a request.

This module never imports ``billing.tasks`` (tasks call services and
notifications, not the reverse): it enqueues the task by its registered
name.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMessage, mail_admins, send_mail
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import Customer, Membership

logger = logging.getLogger(__name__)


def _recipients(customer: Customer) -> list[str]:
    emails = [customer.billing_email] if customer.billing_email else []
    emails += list(
        Membership.objects.filter(customer=customer, role__in=[Membership.Role.OWNER, Membership.Role.BILLING])
        .values_list("user__email", flat=True)
        .order_by("user__email")
    )
    return sorted(set(emails))


def send_customer_email(customer: Customer, template: str, context: dict[str, Any]) -> None:
    """Render ``billing/email/<template>.txt`` (first line = subject) in
    Indonesian, the platform's language, and send it to the customer."""
    with translation.override(settings.LANGUAGE_CODE):
        text = render_to_string(f"billing/email/{template}.txt", {"customer": customer, **context}).strip()
    subject, _, body = text.partition("\n")
    recipients = _recipients(customer)
    if recipients:
        send_mail(subject.strip(), body.strip() + "\n", None, recipients)


NOTIFY_TASK = "billing.tasks.notify"


def _enqueue(kind: str, **kwargs: Any) -> None:
    """Queue ``billing.tasks.notify`` by name. A signature of the registered
    task honours ``task_always_eager`` (``send_task`` would not); billing's
    AppConfig imports the tasks so the name is registered in every process."""
    current_app.signature(NOTIFY_TASK, args=(kind,), kwargs=kwargs).apply_async()


def low_balance(customer_id: int, balance: int, threshold: int) -> None:
    _enqueue("low_balance", customer_id=customer_id, balance=balance, threshold=threshold)


def topup_requested(request_id: int) -> None:
    _enqueue("topup_requested", request_id=request_id)


def topup_decided(request_id: int) -> None:
    _enqueue("topup_decided", request_id=request_id)


def expiry_warning(lot_id: int, days: int) -> None:
    _enqueue("expiry_warning", lot_id=lot_id, days=days)


def inactivity_warning(customer_id: int, deadline: str, days: int, balance: int) -> None:
    _enqueue("inactivity_warning", customer_id=customer_id, deadline=deadline, days=days, balance=balance)


def forfeited(customer_id: int, amount: int, reason: str) -> None:
    _enqueue("forfeited", customer_id=customer_id, amount=amount, reason=reason)


def reconcile_mismatches(mismatches: list[dict[str, Any]]) -> None:
    _enqueue("reconcile_mismatches", mismatches=mismatches)


def _mail_reconcile_mismatches(mismatches: list[dict[str, Any]]) -> None:
    """Staff (``ADMINS``): the ledger and the balances it projects disagree,
    one line per mismatch (a book of one customer)."""
    lines = []
    for m in mismatches:
        book = m.get("book", "deposit")
        balance = "lots" if book == "deposit" else f"{book} held"
        line = (
            f"- {m['customer_slug']} (customer #{m['customer_id']}): "
            f"{book} ledger Rp {m['ledger_total']:,} != {balance} Rp {m['lots_total']:,}".replace(",", ".")
        )
        if m.get("bad_lots"):
            line += f"; lot(s) {', '.join(f'#{lot}' for lot in m['bad_lots'])} disagree with their own entries"
        lines.append(line)
    mail_admins(
        f"Ledger reconciliation: {len(mismatches)} mismatch(es)",
        "The daily reconciliation found balances that disagree with the append-only ledger:\n\n"
        + "\n".join(lines)
        + "\n\nCheck again with `python manage.py reconcile`.\n",
    )


def deliver(kind: str, **kwargs: Any) -> None:
    """Render and send one notification (runs in the worker)."""
    from billing.models import DepositLot, TopUpRequest

    if kind == "low_balance":
        customer = Customer.objects.get(pk=kwargs["customer_id"])
        send_customer_email(customer, "low_balance", kwargs)
    elif kind == "topup_requested":
        request = TopUpRequest.objects.select_related("customer").get(pk=kwargs["request_id"])
        send_customer_email(request.customer, "topup_requested", {"request": request})
        mail_admins(
            f"Top-up request: {request.customer} Rp {request.amount:,}",
            f"Review it at {settings.SITE_URL}/admin/billing/topuprequest/{request.pk}/change/",
        )
    elif kind == "topup_decided":
        request = TopUpRequest.objects.select_related("customer", "lot").get(pk=kwargs["request_id"])
        send_customer_email(request.customer, "topup_decided", {"request": request})
    elif kind == "expiry_warning":
        lot = DepositLot.objects.select_related("customer").get(pk=kwargs["lot_id"])
        send_customer_email(lot.customer, "expiry_warning", {"lot": lot, "days": kwargs["days"]})
    elif kind in ("inactivity_warning", "forfeited"):
        customer = Customer.objects.get(pk=kwargs["customer_id"])
        send_customer_email(customer, kind, kwargs)
    elif kind == "reconcile_mismatches":
        _mail_reconcile_mismatches(kwargs["mismatches"])
    elif kind in _POSTPAID:
        _POSTPAID[kind](**kwargs)
    else:
        logger.error("unknown notification kind %s", kind)


# --- Postpaid (R-POST-2 … R-POST-7) and prepaid statements --------------------------


def cap_warning(customer_id: int, month: str, value: int, cap: int, percent: int) -> None:
    _enqueue("cap_warning", customer_id=customer_id, month=month, value=value, cap=cap, percent=percent)


def invoice_issued(invoice_id: int) -> None:
    """Render and store the PDF, then email it with the CSV (a task of its own)."""
    current_app.signature("billing.tasks.invoice_send", args=(invoice_id,)).apply_async()


SEND_CHUNK = 25  # invoices per task: the month's PDFs spread over the workers in a few dozen tasks


def invoices_issued(invoice_ids: list[int]) -> None:
    """The month-end run's invoices: one task per chunk of ids (each renders,
    stores and emails its invoices one by one, so a mail error retries only
    what is left of its chunk)."""
    if len(invoice_ids) == 1:
        invoice_issued(invoice_ids[0])
        return
    for start in range(0, len(invoice_ids), SEND_CHUNK):
        chunk = invoice_ids[start : start + SEND_CHUNK]
        current_app.signature("billing.tasks.invoices_send", args=(chunk,)).apply_async()


def statement_issued(statement_id: int) -> None:
    current_app.signature("billing.tasks.statement_send", args=(statement_id,)).apply_async()


def invoice_reminder(invoice_id: int, which: str) -> None:
    _enqueue("invoice_reminder", invoice_id=invoice_id, which=which)


def invoice_deducted(invoice_id: int, amount: int) -> None:
    _enqueue("invoice_deducted", invoice_id=invoice_id, amount=amount)


def suspended_for_nonpayment(invoice_id: int) -> None:
    _enqueue("suspended_for_nonpayment", invoice_id=invoice_id)


def service_resumed(customer_id: int) -> None:
    _enqueue("service_resumed", customer_id=customer_id)


def refund_created(refund_id: int) -> None:
    _enqueue("refund_created", refund_id=refund_id)


def _deliver_cap_warning(customer_id: int, **context: Any) -> None:
    send_customer_email(Customer.objects.get(pk=customer_id), "cap_warning", context)


def _invoice(invoice_id: int) -> Any:
    from billing.models import Invoice

    return Invoice.objects.select_related("customer", "credit_note_for").get(pk=invoice_id)


def _deliver_invoice_reminder(invoice_id: int, which: str) -> None:
    invoice = _invoice(invoice_id)
    if invoice.outstanding:  # paid meanwhile: say nothing
        send_customer_email(
            invoice.customer,
            "invoice_reminder",
            {"invoice": invoice, "which": which, "bank": settings.BANK_TRANSFER_DETAILS},
        )


def _deliver_invoice_deducted(invoice_id: int, amount: int) -> None:
    from billing.models import Guarantee

    invoice = _invoice(invoice_id)
    held = Guarantee.objects.filter(customer=invoice.customer).values_list("held", flat=True).first() or 0
    send_customer_email(invoice.customer, "invoice_deducted", {"invoice": invoice, "amount": amount, "held": held})


def _deliver_suspended(invoice_id: int) -> None:
    invoice = _invoice(invoice_id)
    context = {"invoice": invoice, "bank": settings.BANK_TRANSFER_DETAILS}
    send_customer_email(invoice.customer, "suspended_nonpayment", context)
    mail_admins(
        f"Suspended for non-payment: {invoice.customer} ({invoice.number})",
        f"Rp {invoice.outstanding:,} is still owed on {invoice.number}; the guarantee could not cover it.\n"
        f"{settings.SITE_URL}/admin/billing/invoice/{invoice.pk}/change/\n",
    )


def _deliver_service_resumed(customer_id: int) -> None:
    send_customer_email(Customer.objects.get(pk=customer_id), "service_resumed", {})


def _deliver_refund_created(refund_id: int) -> None:
    from billing.models import GuaranteeRefund

    refund = GuaranteeRefund.objects.select_related("customer").get(pk=refund_id)
    send_customer_email(refund.customer, "refund_created", {"refund": refund})
    mail_admins(
        f"Guarantee refund due {refund.due_date:%Y-%m-%d}: {refund.customer} Rp {refund.amount:,}",
        f"Transfer it and record the bank reference at "
        f"{settings.SITE_URL}/admin/billing/guaranteerefund/{refund.pk}/change/\n",
    )


def email_documents(
    customer: Customer, template: str, context: dict[str, Any], attachments: list[tuple[str, bytes, str]]
) -> None:
    """Send a customer email with documents attached (invoice PDF and CSV, statement PDF)."""
    with translation.override(settings.LANGUAGE_CODE):
        text = render_to_string(f"billing/email/{template}.txt", {"customer": customer, **context}).strip()
    subject, _, body = text.partition("\n")
    recipients = _recipients(customer)
    if not recipients:
        return
    message = EmailMessage(subject.strip(), body.strip() + "\n", None, recipients)
    for name, content, mimetype in attachments:
        message.attach(name, content, mimetype)
    message.send()


_POSTPAID = {
    "cap_warning": _deliver_cap_warning,
    "invoice_reminder": _deliver_invoice_reminder,
    "invoice_deducted": _deliver_invoice_deducted,
    "suspended_for_nonpayment": _deliver_suspended,
    "service_resumed": _deliver_service_resumed,
    "refund_created": _deliver_refund_created,
}
