"""Ending a customer's contract (R-POST-7): a final invoice for the month so
far, unpaid invoices paid from the guarantee, and the rest of the guarantee
refunded by bank transfer within 7 working days."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as accounts
from accounts.models import Customer, User
from billing import notifications
from billing.models import Guarantee, GuaranteeRefund, Invoice, LedgerEntry
from billing.pricing import jakarta_date
from billing.services.invoicing import guarantee_deduct, invoice_issue
from billing.usage import month_of
from otpportal.errors import ServiceError
from otpportal.workdays import add_working_days


def customer_terminate(
    *, customer: Customer, reason: str, actor: User | None, now: datetime | None = None
) -> GuaranteeRefund | None:
    """Terminate a customer: sending stops at once (``account_suspended``).

    Postpaid (R-POST-7): the month so far is invoiced now; every unpaid
    invoice is paid from the guarantee as far as it goes; what is left of the
    guarantee becomes a refund due ``GUARANTEE_REFUND_WORKING_DAYS`` working
    days later (weekends, public holidays and collective leave skipped).
    Prepaid deposits are never refunded (R-PRE-4). Refused when already
    terminated (``already_terminated``); nothing is written then.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "invalid_request", _("Say why the customer is terminated."), details={"reason": [_("Required.")]}
        )
    now = now or timezone.now()
    with transaction.atomic():
        row = Customer.objects.select_for_update().get(pk=customer.pk)
        if row.status == Customer.Status.TERMINATED:
            raise ServiceError("already_terminated", _("%(customer)s is already terminated.") % {"customer": row.slug})
        accounts.customer_set_status(customer=row, status=Customer.Status.TERMINATED, reason=reason, actor=actor)
        customer.status = row.status
        if row.mode != Customer.Mode.POSTPAID:
            return None
        month = month_of(now)
        if not Invoice.objects.filter(customer=row, kind=Invoice.Kind.INVOICE, period=month).exists():
            invoice_issue(
                customer=row, period=month, now=now, period_end=now, actor=actor, reason=f"final invoice: {reason}"
            )
        guarantee = Guarantee.objects.select_for_update().filter(customer=row).first()
        held_before = guarantee.held if guarantee else 0
        if guarantee is not None:
            for invoice in (
                Invoice.objects.select_for_update()
                .filter(customer=row, kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED)
                .order_by("issue_date", "number")
            ):
                guarantee_deduct(invoice=invoice, guarantee=guarantee, now=now, reason="contract ended", actor=actor)
        amount = guarantee.held if guarantee else 0
        refund = GuaranteeRefund.objects.create(
            customer=row,
            amount=amount,
            due_date=add_working_days(jakarta_date(now), settings.GUARANTEE_REFUND_WORKING_DAYS),
            reason=reason[:300],
            created_by=actor,
            created_at=now,
        )
        if amount:
            LedgerEntry.objects.create(
                customer=row,
                book=LedgerEntry.Book.GUARANTEE,
                kind=LedgerEntry.Kind.REFUND,
                amount=-amount,
                reference=f"refund:{row.pk}",
                memo=f"Guarantee refund on termination (held Rp {held_before:,})".replace(",", "."),
                created_at=now,
                created_by=actor,
            )
            guarantee.held = 0
            guarantee.save(update_fields=["held"])
        refund_id = refund.pk
        transaction.on_commit(lambda: notifications.refund_created(refund_id))
    return refund


def refund_mark_transferred(
    *, refund: GuaranteeRefund, bank_reference: str, transferred_by: User | None, now: datetime | None = None
) -> GuaranteeRefund:
    """Staff record the refund's bank transfer (R-POST-7)."""
    bank_reference = (bank_reference or "").strip()
    if not bank_reference:
        raise ServiceError(
            "invalid_request",
            _("The transfer's bank reference is required."),
            details={"bank_reference": [_("Required.")]},
        )
    now = now or timezone.now()
    with transaction.atomic():
        row = GuaranteeRefund.objects.select_for_update().get(pk=refund.pk)
        if row.status != GuaranteeRefund.Status.DUE:
            raise ServiceError("invalid_request", _("This refund is already marked as transferred."))
        row.status = GuaranteeRefund.Status.TRANSFERRED
        row.transferred_at = now
        row.bank_reference = bank_reference[:100]
        row.transferred_by = transferred_by
        row.save(update_fields=["status", "transferred_at", "bank_reference", "transferred_by"])
    return row
