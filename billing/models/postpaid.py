"""Postpaid billing (R-POST-1 … R-POST-8): the guarantee deposit, the
monthly usage counter and its cap, invoices with their lines, numbers,
payments and history, fees waiting for an invoice, guarantee refunds, and
prepaid customers' monthly statements.

Money is integer rupiah. The guarantee held is a projection of the ledger's
``guarantee`` book, kept in step in the same transaction (``reconcile``).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from billing.models.core import Channel, PriceList


class Guarantee(models.Model):
    """R-POST-1: the guarantee deposit a postpaid customer holds, and its cap.

    Invariant: ``held`` == the sum of the customer's ledger entries in the
    ``guarantee`` book (``reconcile``). ``activated_at`` is set the first time
    the held amount reaches the minimum (``POSTPAID_GUARANTEE_MIN``); sending
    needs it. ``cap_percent`` is the R-POST-2 multiple in percent (200 = 2 ×
    the guarantee held); staff may raise it, each change recorded in
    ``CapChange``.
    """

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="guarantee"
    )
    held = models.BigIntegerField(_("guarantee held (Rp)"), default=0)
    cap_percent = models.PositiveIntegerField(
        _("cap (% of the guarantee)"), default=200, help_text=_("200 means the month may use 2 × the guarantee.")
    )
    activated_at = models.DateTimeField(_("first reached the minimum at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("guarantee deposit")
        verbose_name_plural = _("guarantee deposits")
        constraints = [
            models.CheckConstraint(condition=Q(held__gte=0), name="guarantee_never_negative"),
            models.CheckConstraint(condition=Q(cap_percent__gte=100), name="guarantee_cap_at_least_1x"),
        ]

    def __str__(self) -> str:
        return f"Guarantee of {self.customer}: Rp {self.held:,}"

    @property
    def cap(self) -> int:
        """R-POST-2: the most one month's usage may be worth."""
        return self.held * self.cap_percent // 100


class CapChange(models.Model):
    """R-POST-2: who raised (or lowered) a customer's cap, and why."""

    guarantee = models.ForeignKey(
        Guarantee, verbose_name=_("guarantee"), on_delete=models.PROTECT, related_name="cap_changes"
    )
    old_percent = models.PositiveIntegerField(_("old cap (%)"))
    new_percent = models.PositiveIntegerField(_("new cap (%)"))
    reason = models.CharField(_("reason"), max_length=300)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("changed by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("cap change")
        verbose_name_plural = _("cap changes")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.old_percent}% → {self.new_percent}%"


class MonthlyUsage(models.Model):
    """R-POST-2: one postpaid customer's running month, updated atomically in
    the charging transaction (the row is locked), so the cap check never sums
    the month's charges on the hot send path.

    ``units_by_route`` maps ``"<channel>:<operator>"`` to units; ``units`` is
    their total. Reversed charges are taken back out. Invoices are built from
    the charges themselves (SQL), not from this counter.
    """

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="monthly_usage"
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month (Asia/Jakarta)."))
    units = models.BigIntegerField(_("units"), default=0)
    units_by_route = models.JSONField(_("units by channel and operator"), default=dict)
    warned_80_at = models.DateTimeField(_("80 % warning sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("monthly usage")
        verbose_name_plural = _("monthly usage")
        constraints = [
            models.UniqueConstraint(fields=["customer", "month"], name="monthlyusage_customer_month"),
            models.CheckConstraint(condition=Q(units__gte=0), name="monthlyusage_units_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.month:%Y-%m}: {self.units} units"


class NumberSeries(models.Model):
    """R-POST-8: gapless document numbers per series and year, allocated under
    a row lock inside the transaction that issues the document (a rolled
    back issue gives its number back)."""

    series = models.CharField(_("series"), max_length=8)
    year = models.PositiveSmallIntegerField(_("year"))
    last = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("document number series")
        verbose_name_plural = _("document number series")
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="numberseries_series_year")]

    def __str__(self) -> str:
        return f"{self.series}/{self.year}: {self.last}"


class Invoice(models.Model):
    """R-POST-3 / R-POST-8: one postpaid month's invoice, or a credit note
    that voids one. Its totals, lines and PDF never change once issued;
    ``status`` moves through ``MOVES`` only, each move in ``InvoiceStatusChange``.
    """

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")
        PAID_BY_DEDUCTION = "paid_by_deduction", _("Paid from the guarantee")
        VOID = "void", _("Void")

    MOVES: ClassVar[dict[str, tuple[str, ...]]] = {
        "issued": ("paid", "paid_by_deduction", "void"),
        "paid": (),
        "paid_by_deduction": (),
        "void": (),
    }

    number = models.CharField(_("number"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="invoices"
    )
    period = models.DateField(_("billing month"), help_text=_("The first day of the month billed."))
    period_end = models.DateTimeField(_("usage up to"))
    issue_date = models.DateField(_("invoice date"))
    due_date = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ISSUED)
    tier = models.PositiveSmallIntegerField(_("tier reached"), null=True, blank=True)
    units = models.BigIntegerField(_("units"), default=0)
    subtotal = models.BigIntegerField(_("subtotal (Rp)"))
    dpp = models.BigIntegerField(_("VAT base, DPP (Rp)"))
    ppn = models.BigIntegerField(_("VAT, PPN (Rp)"))
    total = models.BigIntegerField(_("total (Rp)"))
    paid_amount = models.BigIntegerField(_("paid (Rp)"), default=0)
    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    credit_note_for = models.OneToOneField(
        "self",
        verbose_name=_("credit note for"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_note",
    )
    # What the customer gets: the company block and the customer's details as
    # they were on the invoice date (an address change never rewrites it).
    bill_to = models.JSONField(_("billed to"), default=dict)
    pdf = models.FileField(_("PDF"), upload_to="invoices/%Y/%m/", blank=True)
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64, blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    posted_at = models.DateTimeField(_("paper copy posted at"), null=True, blank=True)
    courier = models.CharField(_("courier"), max_length=60, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=80, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reminded_before_due_at = models.DateTimeField(_("reminded before due at"), null=True, blank=True, editable=False)
    reminded_on_due_at = models.DateTimeField(_("reminded on due at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-number"]
        constraints = [
            # R-POST-3: one live invoice per customer and month (close_month is
            # idempotent); a void one may be re-issued under a new number.
            models.UniqueConstraint(
                fields=["customer", "period"],
                condition=Q(kind="invoice") & ~Q(status="void"),
                name="invoice_one_per_customer_month",
            ),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="invoice_paid_nonneg"),
        ]
        indexes = [models.Index(fields=["status", "issue_date"], name="invoice_status_date")]

    def __str__(self) -> str:
        return self.number

    @property
    def outstanding(self) -> int:
        if self.kind != self.Kind.INVOICE or self.status != self.Status.ISSUED:
            return 0
        return max(0, self.total - self.paid_amount)


class InvoiceLine(models.Model):
    """One line: a channel and operator's units at the month's tier, or a fee."""

    class Kind(models.TextChoices):
        USAGE = "usage", _("Usage")
        FEE = "fee", _("Fee")
        SHORTFALL = "shortfall", _("Sender-ID shortfall")

    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, blank=True)
    operator = models.CharField(_("operator"), max_length=12, blank=True)
    description = models.CharField(_("description"), max_length=200)
    units = models.BigIntegerField(_("quantity"))
    unit_price = models.BigIntegerField(_("unit price (Rp)"))
    amount = models.BigIntegerField(_("amount (Rp)"))

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoiceline_position")]

    def __str__(self) -> str:
        return self.description


class InvoiceStatusChange(models.Model):
    """Append-only history of an invoice's status (style: explicit state machines)."""

    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="history")
    old = models.CharField(_("old status"), max_length=20, blank=True)
    new = models.CharField(_("new status"), max_length=20)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("invoice status change")
        verbose_name_plural = _("invoice status changes")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.old or '-'} → {self.new}"


class Payment(models.Model):
    """R-POST-5 / R-POST-6: money received against an invoice: a bank
    transfer recorded by staff, or a deduction from the guarantee."""

    class Method(models.TextChoices):
        TRANSFER = "transfer", _("Bank transfer")
        DEDUCTION = "deduction", _("Deducted from the guarantee")

    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(_("method"), max_length=10, choices=Method.choices)
    amount = models.BigIntegerField(_("amount (Rp)"))
    reference = models.CharField(_("bank reference"), max_length=100)
    paid_on = models.DateField(_("paid on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive"),
            models.UniqueConstraint(fields=["invoice", "reference"], name="payment_reference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} Rp {self.amount:,} ({self.reference})"


class PendingFee(models.Model):
    """A postpaid customer's fee waiting for its month's invoice (sender-ID
    registration and reactivation fees, R-SID-6/R-SID-8; monthly shortfalls,
    R-SID-5). ``reference`` is unique: a fee is billed once."""

    class Kind(models.TextChoices):
        FEE = "fee", _("Fee")
        SHORTFALL = "shortfall", _("Sender-ID shortfall")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="pending_fees"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.FEE)
    reference = models.CharField(_("reference"), max_length=140, unique=True)
    description = models.CharField(_("description"), max_length=200)
    amount = models.BigIntegerField(_("amount (Rp)"))
    month = models.DateField(_("month billed"), help_text=_("The first day of the month whose invoice carries it."))
    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), null=True, blank=True, on_delete=models.PROTECT, related_name="fees"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("fee to invoice")
        verbose_name_plural = _("fees to invoice")
        ordering = ["month", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="pendingfee_positive")]

    def __str__(self) -> str:
        return f"{self.description}: Rp {self.amount:,}"


class GuaranteeRefund(models.Model):
    """R-POST-7: on termination, the guarantee less unpaid invoices goes back
    by bank transfer within 7 working days."""

    class Status(models.TextChoices):
        DUE = "due", _("To transfer")
        TRANSFERRED = "transferred", _("Transferred")

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="guarantee_refund"
    )
    amount = models.BigIntegerField(_("amount (Rp)"))
    due_date = models.DateField(_("transfer by"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DUE)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    transferred_at = models.DateTimeField(_("transferred at"), null=True, blank=True)
    bank_reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    transferred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("transferred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("guarantee refund")
        verbose_name_plural = _("guarantee refunds")
        ordering = ["due_date", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="refund_nonneg")]

    def __str__(self) -> str:
        return f"Refund to {self.customer}: Rp {self.amount:,}"


class Statement(models.Model):
    """A prepaid customer's monthly statement (not an invoice: no VAT)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="statements"
    )
    period = models.DateField(_("month"))
    opening_balance = models.BigIntegerField(_("opening balance (Rp)"))
    top_ups = models.BigIntegerField(_("top-ups (Rp)"))
    usage = models.BigIntegerField(_("usage (Rp)"))
    forfeited = models.BigIntegerField(_("forfeited (Rp)"))
    other = models.BigIntegerField(_("fees and other (Rp)"), default=0)
    closing_balance = models.BigIntegerField(_("closing balance (Rp)"))
    lines = models.JSONField(_("lines"), default=list)
    pdf = models.FileField(_("PDF"), upload_to="statements/%Y/%m/", blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("monthly statement")
        verbose_name_plural = _("monthly statements")
        ordering = ["-period"]
        constraints = [models.UniqueConstraint(fields=["customer", "period"], name="statement_customer_month")]

    def __str__(self) -> str:
        return f"Statement {self.customer} {self.period:%Y-%m}"
