"""Postpaid invoices (R-POST-3 … R-POST-8): the month-end run, numbers,
VAT, payments, voiding with a credit note, reminders and the deduction of
overdue invoices from the guarantee.

Rounding rule (R-POST-8), in whole rupiah, half up:
  subtotal = the sum of the lines (each line = units × unit price, exact);
  DPP      = round(subtotal × 11 / 12);
  PPN      = round(DPP × 12 / 100);
  total    = subtotal + PPN.
With ``VAT_ENABLED`` off, DPP and PPN are 0 and the total is the subtotal.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer, User
from billing import documents, exports, notifications
from billing.models import (
    BillingAccount,
    Channel,
    Charge,
    Guarantee,
    Invoice,
    InvoiceLine,
    InvoiceStatusChange,
    LedgerEntry,
    NumberSeries,
    Operator,
    Payment,
    PendingFee,
)
from billing.pricing import jakarta_date, table_for, table_in_force
from billing.services.deposits import validate_amount
from billing.templatetags.money import format_rupiah
from billing.usage import month_bounds, month_not_ended, previous_month
from otpportal.errors import ServiceError
from otpportal.rowsql import copy_insert

logger = logging.getLogger(__name__)

INVOICE_SERIES = "INV"
CREDIT_NOTE_SERIES = "CN"


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers (never floats)."""
    if numerator < 0:
        return -_half_up(-numerator, denominator)
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class Totals:
    subtotal: int
    dpp: int
    ppn: int
    total: int


def vat_breakdown(subtotal: int) -> Totals:
    """R-POST-8: DPP is 11/12 of the subtotal, PPN 12 % of the DPP (the module's rounding rule)."""
    if not settings.VAT_ENABLED:
        return Totals(subtotal, 0, 0, subtotal)
    dpp = _half_up(subtotal * 11, 12)
    ppn = _half_up(dpp * 12, 100)
    return Totals(subtotal, dpp, ppn, subtotal + ppn)


def number_allocate(*, series: str, year: int) -> str:
    """R-POST-8: the next gapless number of a series and year, e.g.
    ``INV/2026/000123``. Call inside the transaction that writes the
    document: the counter row stays locked until it commits, and a rollback
    gives the number back."""
    return numbers_allocate(series=series, year=year, count=1)[0]


def numbers_allocate(*, series: str, year: int, count: int) -> list[str]:
    """The next ``count`` gapless numbers, in order, under one lock of the
    counter row (same rules as ``number_allocate``)."""
    NumberSeries.objects.bulk_create([NumberSeries(series=series, year=year)], ignore_conflicts=True)
    row = NumberSeries.objects.select_for_update().get(series=series, year=year)
    first = row.last + 1
    row.last += count
    row.save(update_fields=["last"])
    return [f"{series}/{year}/{n:06d}" for n in range(first, row.last + 1)]


# --- The month-end run (R-POST-3) ------------------------------------------------

CHANNEL_LABELS = {Channel.SMS: "SMS OTP", Channel.WA: "WhatsApp OTP", Channel.WA_OFFICIAL: "WhatsApp Official OTP"}
OPERATOR_LABELS = dict(Operator.choices)


def line_description(channel: str, operator: str) -> str:
    label = CHANNEL_LABELS.get(channel, channel)
    return f"{label} {OPERATOR_LABELS.get(operator, operator)}".strip() if operator else label


@dataclass
class _Usage:
    """One customer's month, as the SQL aggregation returned it."""

    rows: list[tuple[str, str, int, int]] = field(default_factory=list)  # channel, operator, price_list_id, units
    fees: list[PendingFee] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(r[3] for r in self.rows)


@dataclass(frozen=True)
class CloseSummary:
    month: date
    issued: int
    skipped: int
    customers: int


def _aggregate(period: date, customer_ids: list[int] | None = None) -> dict[int, _Usage]:
    """The month's postpaid usage per customer, channel, operator and price
    list: one ``GROUP BY`` over billing's own charges (reversed ones left out)."""
    start, end = month_bounds(period)
    charges = Charge.objects.filter(
        mode=Charge.Mode.POSTPAID, created_at__gte=start, created_at__lt=end, reversed_at__isnull=True
    )
    fees = PendingFee.objects.filter(month__lte=period, invoice__isnull=True)
    if customer_ids is not None:
        charges = charges.filter(customer_id__in=customer_ids)
        fees = fees.filter(customer_id__in=customer_ids)
    usage: dict[int, _Usage] = defaultdict(_Usage)
    for customer_id, channel, operator, price_list_id, units in (
        charges.values_list("customer_id", "channel", "operator", "price_list_id")
        .annotate(units=Sum("units"))
        .order_by()
        .values_list("customer_id", "channel", "operator", "price_list_id", "units")
    ):
        usage[customer_id].rows.append((channel, operator, price_list_id, int(units)))
    for fee in fees.filter(customer__mode=Customer.Mode.POSTPAID).order_by("id"):
        usage[fee.customer_id].fees.append(fee)
    return usage


def month_close(*, month: date | None = None, now: datetime | None = None) -> CloseSummary:
    """`close_month`: one invoice per postpaid customer with usage or fees in
    the month (R-POST-3). Refused for a month that has not ended
    (``month_not_ended``). Idempotent: a customer that already has an invoice
    for the month is skipped, so a second run issues and sends nothing.
    A customer with neither usage nor fees gets no invoice."""
    now = now or timezone.now()
    today = jakarta_date(now)
    period = (month or previous_month(today)).replace(day=1)
    if period + relativedelta(months=1) > today:
        raise month_not_ended(period)
    usage = _aggregate(period)
    invoiced = set(
        Invoice.objects.filter(kind=Invoice.Kind.INVOICE, period=period).values_list("customer_id", flat=True)
    )
    customers = Customer.objects.in_bulk([c for c in usage if c not in invoiced])
    todo = [(customers[c], usage[c]) for c in sorted(usage) if c in customers]
    try:
        issued = len(_issue_many(todo, period, now=now))  # one transaction, a few bulk statements
    except IntegrityError:
        # A concurrent run issued some of these meanwhile (nothing of this
        # batch was kept, its numbers with it): go one customer at a time.
        logger.info("close_month %s: concurrent run detected; issuing one by one", period)
        issued = sum(1 for customer, rows in todo if _issue(customer, period, rows, now=now) is not None)
    skipped = len(usage) - issued
    logger.info("close_month %s: %s issued, %s skipped", period, issued, skipped)
    return CloseSummary(period, issued, skipped, len(usage))


def _lines(usage: _Usage, period: date) -> tuple[int, int, int | None, list[InvoiceLine]]:
    """Volume pricing (R-POST-3): every unit of the month at the tier the
    month's total reaches, per channel and operator; each unit at the price
    list it was sent under (R-PL-1: a new list never reprices the past)."""
    _start, end = month_bounds(period)
    closing_table = table_in_force(jakarta_date(end - timedelta(seconds=1)))
    units = usage.units
    tier = closing_table.postpaid_tier(units) if units else None
    lines: list[InvoiceLine] = []
    order = {c: i for i, c in enumerate(Channel.values)}
    operators = {o: i for i, o in enumerate(["", *Operator.values])}
    for channel, operator, price_list_id, line_units in sorted(
        usage.rows, key=lambda r: (order.get(r[0], 9), operators.get(r[1], 9), r[2])
    ):
        unit_price = table_for(price_list_id).unit_price(tier or 1, channel, operator)
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.USAGE,
                channel=channel,
                operator=operator,
                description=line_description(channel, operator),
                units=line_units,
                unit_price=unit_price,
                amount=unit_price * line_units,
            )
        )
    for fee in usage.fees:
        kind = InvoiceLine.Kind.SHORTFALL if fee.kind == PendingFee.Kind.SHORTFALL else InvoiceLine.Kind.FEE
        lines.append(
            InvoiceLine(kind=kind, description=fee.description, units=1, unit_price=fee.amount, amount=fee.amount)
        )
    for position, line in enumerate(lines, start=1):
        line.position = position
    return units, sum(line.amount for line in lines), tier, lines


def bill_to(customer: Customer) -> dict[str, str]:
    """The customer's details as printed on the document (kept with it)."""
    return {
        "name": customer.name,
        "legal_name": customer.legal_name or customer.name,
        "npwp": customer.npwp,
        "address": customer.postal_address,
        "email": customer.billing_email,
    }


def _issue(
    customer: Customer,
    period: date,
    usage: _Usage,
    *,
    now: datetime,
    period_end: datetime | None = None,
    actor: User | None = None,
    reason: str = "month closed",
) -> Invoice | None:
    """One customer's invoice, or None when there is nothing to bill or a
    concurrent run issued it first (its number then goes back, R-POST-8)."""
    try:
        issued = _issue_many([(customer, usage)], period, now=now, period_end=period_end, actor=actor, reason=reason)
    except IntegrityError:
        logger.info("invoice for %s %s issued concurrently; skipped", customer.slug, period)
        return None
    return issued[0] if issued else None


def _issue_many(
    items: list[tuple[Customer, _Usage]],
    period: date,
    *,
    now: datetime,
    period_end: datetime | None = None,
    actor: User | None = None,
    reason: str = "month closed",
) -> list[Invoice]:
    """Issue the invoices of many customers in one transaction: numbers
    reserved in one go under the counter's lock, invoices, lines and
    history written in bulk, sending enqueued after commit. Raises
    IntegrityError, keeping nothing, when any of them exists already."""
    issue_date = jakarta_date(now)
    _start, end = month_bounds(period)
    prepared = []
    for customer, usage in items:
        units, subtotal, tier, lines = _lines(usage, period)
        if lines:
            prepared.append((customer, usage, units, tier, lines, vat_breakdown(subtotal)))
    if not prepared:
        return []
    with transaction.atomic():
        numbers = numbers_allocate(series=INVOICE_SERIES, year=issue_date.year, count=len(prepared))
        invoices = [
            Invoice(
                number=number,
                kind=Invoice.Kind.INVOICE,
                customer=customer,
                period=period,
                period_end=period_end or end,
                issue_date=issue_date,
                due_date=issue_date + timedelta(days=settings.INVOICE_DUE_DAYS),  # R-POST-5
                tier=tier,
                units=units,
                subtotal=totals.subtotal,
                dpp=totals.dpp,
                ppn=totals.ppn,
                total=totals.total,
                price_list_id=usage.rows[0][2] if usage.rows else None,
                bill_to=bill_to(customer),
                created_at=now,
            )
            for number, (customer, usage, units, tier, _lines_, totals) in zip(numbers, prepared, strict=True)
        ]
        copy_insert(Invoice, invoices, with_ids=True)
        all_lines = []
        for invoice, (_customer, usage, _units, _tier, lines, _totals) in zip(invoices, prepared, strict=True):
            for line in lines:
                line.invoice = invoice
            all_lines.extend(lines)
            if usage.fees:
                fee_ids = [f.pk for f in usage.fees]
                if PendingFee.objects.filter(pk__in=fee_ids, invoice__isnull=True).update(invoice=invoice) != len(
                    fee_ids
                ):
                    raise IntegrityError("a fee was invoiced meanwhile")
        # By COPY on PostgreSQL (otpportal.rowsql): the lines were most of the run's time.
        copy_insert(InvoiceLine, all_lines)
        copy_insert(
            InvoiceStatusChange,
            [
                InvoiceStatusChange(
                    invoice=invoice, old="", new=Invoice.Status.ISSUED, reason=reason, actor=actor, created_at=now
                )
                for invoice in invoices
            ],
        )
        ids = [invoice.pk for invoice in invoices]
        transaction.on_commit(lambda: notifications.invoices_issued(ids))
    return invoices


def invoice_issue(
    *,
    customer: Customer,
    period: date,
    now: datetime,
    period_end: datetime | None = None,
    actor: User | None = None,
    reason: str,
) -> Invoice | None:
    """Issue one customer's invoice for a month outside the month-end run
    (a final invoice on termination, a re-issue): None when there is nothing
    to bill."""
    usage = _aggregate(period, [customer.pk]).get(customer.pk, _Usage())
    return _issue(customer, period, usage, now=now, period_end=period_end, actor=actor, reason=reason)


# --- The state machine ------------------------------------------------------------


def _move(invoice: Invoice, new: str, *, reason: str, actor: User | None, now: datetime) -> None:
    """Move an invoice (locked by the caller) along ``Invoice.MOVES``, with history."""
    old = invoice.status
    if new not in Invoice.MOVES[old]:
        raise ServiceError(
            "invoice_not_open",
            _("Invoice %(number)s is %(status)s; it cannot become %(new)s.")
            % {"number": invoice.number, "status": invoice.get_status_display().lower(), "new": new},
            details={"status": [old]},
        )
    invoice.status = new
    invoice.save(update_fields=["status"])
    InvoiceStatusChange.objects.create(
        invoice=invoice, old=old, new=new, reason=reason[:300], actor=actor, created_at=now
    )


def _locked_open_invoice(invoice: Invoice) -> Invoice:
    row = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    if row.kind != Invoice.Kind.INVOICE or row.status != Invoice.Status.ISSUED:
        raise ServiceError(
            "invoice_not_open",
            _("%(number)s is %(status)s: nothing can be recorded against it.")
            % {"number": row.number, "status": row.get_status_display().lower()},
            details={"invoice": [row.status]},
        )
    return row


def payment_record(
    *,
    invoice: Invoice,
    amount: object,
    reference: str,
    paid_on: date | None = None,
    recorded_by: User | None = None,
    now: datetime | None = None,
) -> Payment:
    """R-POST-5: staff record a bank transfer against an invoice, in full or
    in part. More than what is owed is refused (``payment_too_large``), as is
    a payment on an invoice that is not open (``invoice_not_open``). When the
    invoice is settled and the customer was suspended for non-payment
    (R-POST-6) with nothing else overdue, sending resumes."""
    amount = validate_amount(amount)
    reference = (reference or "").strip()
    if not reference or len(reference) > 100:
        raise ServiceError(
            "invalid_request", _("A payment needs its bank reference."), details={"reference": [_("Required.")]}
        )
    now = now or timezone.now()
    paid_on = paid_on or jakarta_date(now)
    if paid_on > jakarta_date(now):
        raise ServiceError(
            "invalid_request",
            _("A payment cannot be dated in the future."),
            details={"paid_on": [_("In the future.")]},
        )
    with transaction.atomic():
        row = _locked_open_invoice(invoice)
        if amount > row.outstanding:
            raise ServiceError(
                "payment_too_large",
                _("%(amount)s is more than the %(owed)s still owed on %(number)s.")
                % {"amount": format_rupiah(amount), "owed": format_rupiah(row.outstanding), "number": row.number},
                details={"amount": [_("At most %(amount)s.") % {"amount": format_rupiah(row.outstanding)}]},
            )
        if Payment.objects.filter(invoice=row, reference=reference).exists():
            raise ServiceError(
                "invalid_request",
                _("A payment with reference '%(reference)s' is already recorded on %(number)s.")
                % {"reference": reference, "number": row.number},
                details={"reference": [_("Already recorded.")]},
            )
        payment = Payment.objects.create(
            invoice=row,
            method=Payment.Method.TRANSFER,
            amount=amount,
            reference=reference,
            paid_on=paid_on,
            recorded_by=recorded_by,
            created_at=now,
        )
        row.paid_amount += amount
        row.save(update_fields=["paid_amount"])
        if row.outstanding == 0:
            _move(row, Invoice.Status.PAID, reason=f"paid by transfer {reference}", actor=recorded_by, now=now)
        _reinstate_if_settled(row.customer, now=now)
    invoice.refresh_from_db()
    return payment


def _reinstate_if_settled(customer: Customer, *, now: datetime) -> None:
    """R-POST-6: a customer suspended for an unpaid invoice sends again once
    no invoice from an ended month is still owed."""
    from accounts import services as accounts

    account = BillingAccount.objects.select_for_update().filter(customer=customer).first()
    if account is None or account.suspended_for_nonpayment_at is None:
        return
    if _overdue(customer, jakarta_date(now)).exists():
        return
    account.suspended_for_nonpayment_at = None
    account.save(update_fields=["suspended_for_nonpayment_at"])
    if customer.status == Customer.Status.SUSPENDED:
        accounts.customer_set_status(
            customer=customer, status=Customer.Status.ACTIVE, reason="overdue invoices settled (R-POST-6)"
        )
        customer_id = customer.pk
        transaction.on_commit(lambda: notifications.service_resumed(customer_id))


def _overdue(customer: Customer, today: date) -> QuerySet[Invoice]:
    """Invoices issued in a month that has ended and still owed (R-POST-6)."""
    return Invoice.objects.filter(
        customer=customer,
        kind=Invoice.Kind.INVOICE,
        status=Invoice.Status.ISSUED,
        issue_date__lt=today.replace(day=1),
        paid_amount__lt=F("total"),
    )


def invoice_void(*, invoice: Invoice, reason: str, actor: User | None, now: datetime | None = None) -> Invoice:
    """Void an unpaid invoice: it keeps its number and gets a credit note
    with a number of its own (``CN/2026/000001``) that mirrors its lines.
    Returns the credit note."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("invalid_request", _("Say why the invoice is voided."), details={"reason": [_("Required.")]})
    now = now or timezone.now()
    with transaction.atomic():
        row = _locked_open_invoice(invoice)
        if row.paid_amount:
            raise ServiceError(
                "invoice_not_open",
                _("%(number)s is partly paid (%(paid)s); it cannot be voided.")
                % {"number": row.number, "paid": format_rupiah(row.paid_amount)},
                details={"invoice": [_("Partly paid.")]},
            )
        issue_date = jakarta_date(now)
        note = Invoice.objects.create(
            number=number_allocate(series=CREDIT_NOTE_SERIES, year=issue_date.year),
            kind=Invoice.Kind.CREDIT_NOTE,
            customer=row.customer,
            period=row.period,
            period_end=row.period_end,
            issue_date=issue_date,
            due_date=issue_date,
            tier=row.tier,
            units=-row.units,
            subtotal=-row.subtotal,
            dpp=-row.dpp,
            ppn=-row.ppn,
            total=-row.total,
            price_list=row.price_list,
            credit_note_for=row,
            bill_to=row.bill_to,
            created_at=now,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=note,
                position=line.position,
                kind=line.kind,
                channel=line.channel,
                operator=line.operator,
                description=line.description,
                units=-line.units,
                unit_price=line.unit_price,
                amount=-line.amount,
            )
            for line in row.lines.all()
        )
        InvoiceStatusChange.objects.create(
            invoice=note, old="", new=Invoice.Status.ISSUED, reason=f"credit note for {row.number}", actor=actor
        )
        _move(row, Invoice.Status.VOID, reason=f"{reason} (credit note {note.number})", actor=actor, now=now)
        note_id = note.pk
        transaction.on_commit(lambda: notifications.invoice_issued(note_id))
    return note


def invoice_reissue(*, invoice: Invoice, actor: User | None, now: datetime | None = None) -> Invoice:
    """Issue a new invoice for the month of a voided one (a new number; its
    fees move to the new invoice)."""
    now = now or timezone.now()
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.VOID:
        raise ServiceError(
            "invoice_not_open",
            _("%(number)s is not void; only a void invoice is re-issued.") % {"number": invoice.number},
        )
    with transaction.atomic():
        live = (
            Invoice.objects.filter(customer=invoice.customer, period=invoice.period, kind=Invoice.Kind.INVOICE)
            .exclude(status=Invoice.Status.VOID)
            .values_list("number", flat=True)
            .first()
        )
        if live is not None:
            raise ServiceError(
                "invoice_not_open",
                _("%(month)s already has a live invoice, %(live)s; void it first.")
                % {"month": f"{invoice.period:%Y-%m}", "live": live},
            )
        PendingFee.objects.filter(invoice=invoice).update(invoice=None)
        new = invoice_issue(
            customer=invoice.customer,
            period=invoice.period,
            now=now,
            period_end=invoice.period_end,
            actor=actor,
            reason=f"re-issued for void {invoice.number}",
        )
        if new is None:
            raise ServiceError(
                "invalid_request", _("Nothing to invoice for %(month)s.") % {"month": f"{invoice.period:%Y-%m}"}
            )
    return new


# --- Reminders and overdue invoices (R-POST-5, R-POST-6) ----------------------------


def invoices_remind(*, today: date, now: datetime | None = None) -> int:
    """Email a reminder ``INVOICE_REMIND_DAYS_BEFORE`` days before the due
    date (or on a later day before it, when a run was missed) and one on the
    due date. Each is sent once."""
    now = now or timezone.now()
    sent = 0
    before = today + timedelta(days=settings.INVOICE_REMIND_DAYS_BEFORE)
    open_invoices = Invoice.objects.filter(kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED)
    for invoice_id in open_invoices.filter(
        due_date__gt=today, due_date__lte=before, reminded_before_due_at__isnull=True
    ).values_list("pk", flat=True):
        if Invoice.objects.filter(pk=invoice_id, reminded_before_due_at__isnull=True).update(
            reminded_before_due_at=now
        ):
            transaction.on_commit(lambda i=invoice_id: notifications.invoice_reminder(i, "before_due"))
            sent += 1
    for invoice_id in open_invoices.filter(due_date=today, reminded_on_due_at__isnull=True).values_list(
        "pk", flat=True
    ):
        if Invoice.objects.filter(pk=invoice_id, reminded_on_due_at__isnull=True).update(reminded_on_due_at=now):
            transaction.on_commit(lambda i=invoice_id: notifications.invoice_reminder(i, "due_today"))
            sent += 1
    return sent


@dataclass(frozen=True)
class OverdueSummary:
    settled: int
    partly: int
    suspended: int


def guarantee_deduct(
    *, invoice: Invoice, guarantee: Guarantee, now: datetime, reason: str, actor: User | None = None
) -> int:
    """Pay what an invoice (locked, open) still owes from the guarantee
    (locked), as far as it goes (R-POST-6, R-POST-7). Returns the amount."""
    take = min(invoice.outstanding, guarantee.held)
    if take <= 0:
        return 0
    count = Payment.objects.filter(invoice=invoice, method=Payment.Method.DEDUCTION).count() + 1
    LedgerEntry.objects.create(
        customer_id=invoice.customer_id,
        book=LedgerEntry.Book.GUARANTEE,
        kind=LedgerEntry.Kind.DEDUCTION,
        amount=-take,
        invoice=invoice,
        reference=f"deduction:{invoice.number}:{count}",
        memo=f"{invoice.number}: {reason}"[:200],
        created_at=now,
        created_by=actor,
    )
    Payment.objects.create(
        invoice=invoice,
        method=Payment.Method.DEDUCTION,
        amount=take,
        reference=f"guarantee-deduction-{count}",
        paid_on=jakarta_date(now),
        recorded_by=actor,
        created_at=now,
    )
    guarantee.held -= take
    guarantee.save(update_fields=["held"])
    invoice.paid_amount += take
    invoice.save(update_fields=["paid_amount"])
    if invoice.outstanding == 0:
        _move(invoice, Invoice.Status.PAID_BY_DEDUCTION, reason=reason, actor=actor, now=now)
    return take


def invoices_settle_overdue(*, today: date, now: datetime | None = None) -> OverdueSummary:
    """R-POST-6, run daily: an invoice still owed when the month it was
    issued in has ended is paid from the guarantee deposit. What the
    guarantee cannot cover suspends the customer (``account_suspended``)
    until staff record the payment; the cap follows the guarantee left.
    Idempotent: a settled invoice is not open any more, and a suspended
    customer is suspended once."""
    from accounts import services as accounts

    now = now or timezone.now()
    settled = partly = suspended = 0
    due = (
        Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED, issue_date__lt=today.replace(day=1)
        )
        .order_by("issue_date", "number")
        .values_list("pk", flat=True)
    )
    for invoice_id in list(due):
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice_id)
            if invoice.status != Invoice.Status.ISSUED or invoice.outstanding == 0:
                continue
            customer = invoice.customer
            guarantee = Guarantee.objects.select_for_update().filter(customer=customer).first()
            taken = 0
            if guarantee is not None:
                taken = guarantee_deduct(
                    invoice=invoice, guarantee=guarantee, now=now, reason="unpaid at the end of its month"
                )
            if taken:
                transaction.on_commit(lambda i=invoice.pk, a=taken: notifications.invoice_deducted(i, a))
            if invoice.outstanding == 0:
                settled += 1
                continue
            partly += 1
            account, _created = BillingAccount.objects.select_for_update().get_or_create(customer=customer)
            if account.suspended_for_nonpayment_at is None:
                account.suspended_for_nonpayment_at = now
                account.save(update_fields=["suspended_for_nonpayment_at"])
                if customer.status == Customer.Status.ACTIVE:
                    accounts.customer_set_status(
                        customer=customer,
                        status=Customer.Status.SUSPENDED,
                        reason=f"invoice {invoice.number} unpaid, the guarantee cannot cover it (R-POST-6)",
                    )
                suspended += 1
                transaction.on_commit(lambda i=invoice.pk: notifications.suspended_for_nonpayment(i))
    return OverdueSummary(settled, partly, suspended)


# --- Paper copies (R-POST-4) ----------------------------------------------------------


def invoices_mark_posted(*, invoices: list[Invoice], courier: str, tracking_number: str, posted_by: User | None) -> int:
    """Staff record that paper copies went out (courier and tracking number)."""
    courier = (courier or "").strip()
    tracking_number = (tracking_number or "").strip()
    if not courier or not tracking_number:
        raise ServiceError(
            "invalid_request",
            _("Name the courier and the tracking number."),
            details={"courier": [_("Required.")], "tracking_number": [_("Required.")]},
        )
    now = timezone.now()
    return Invoice.objects.filter(pk__in=[i.pk for i in invoices], posted_at__isnull=True).update(
        posted_at=now, courier=courier[:60], tracking_number=tracking_number[:80], posted_by=posted_by
    )


# --- Documents (R-POST-4) -----------------------------------------------------------


def invoice_pdf_store(*, invoice: Invoice) -> Invoice:
    """Render an issued invoice's PDF once and keep it: what the customer
    downloads later is byte for byte what was sent."""
    with transaction.atomic():
        row = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("customer", "credit_note_for")
            .get(pk=invoice.pk)
        )
        if not row.pdf:
            data = documents.invoice_pdf(row)
            row.pdf.save(documents.document_filename(row.number, "pdf"), ContentFile(data), save=False)
            row.pdf_sha256 = hashlib.sha256(data).hexdigest()
            row.save(update_fields=["pdf", "pdf_sha256"])
    return row


def invoice_send(*, invoice_id: int, now: datetime | None = None) -> bool:
    """Email an invoice (or credit note) with its PDF and, for an invoice,
    the CSV of every message billed (R-POST-4). Sent once: the send is
    claimed first and the claim given back if the mail server fails."""
    invoice = invoice_pdf_store(invoice=Invoice(pk=invoice_id))
    now = now or timezone.now()
    if not Invoice.objects.filter(pk=invoice.pk, emailed_at__isnull=True).update(emailed_at=now):
        return False
    try:
        with invoice.pdf.open("rb") as handle:
            attachments = [(documents.document_filename(invoice.number, "pdf"), handle.read(), "application/pdf")]
        if invoice.kind == Invoice.Kind.INVOICE:
            csv_bytes = b"".join(exports.invoice_csv_chunks(invoice))
            attachments.append((exports.invoice_csv_filename(invoice), csv_bytes, "text/csv"))
        notifications.email_documents(
            invoice.customer,
            "invoice_issued",
            {"invoice": invoice, "bank": settings.BANK_TRANSFER_DETAILS},
            attachments,
        )
    except Exception:
        Invoice.objects.filter(pk=invoice.pk).update(emailed_at=None)
        raise
    return True
