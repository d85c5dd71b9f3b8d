"""Price lists, deposit lots, the append-only ledger and usage (charges).

Money is integer rupiah everywhere (domain-rules "Money"). The ledger is the
record; lot balances are projections kept in step in the same transaction,
and ``billing.services.reconcile`` proves they agree.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer


class Channel(models.TextChoices):
    """R-CH-1. Billing keeps its own copy: it never imports messaging."""

    SMS = "sms", _("SMS")
    WA = "wa", _("WhatsApp regular")
    WA_OFFICIAL = "wa_official", _("WhatsApp Official")


class Operator(models.TextChoices):
    """R-OP-1: SMS prices depend on the destination operator."""

    TELKOMSEL = "telkomsel", "Telkomsel"
    XL = "xl", "XL-Axiata"
    INDOSAT = "indosat", "Indosat"
    THREE = "three", "Three"
    SMARTFREN = "smartfren", "Smartfren"


TIERS = range(1, 7)  # R-PL-2: six tiers


class PriceList(models.Model):
    """R-PL-1: a versioned list; it takes effect on its date and, once in
    force, is read-only (it never reprices what was charged)."""

    effective_from = models.DateField(_("effective from"), unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    source_filename = models.CharField(_("source file"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return self.name or f"Price list {self.effective_from:%Y-%m-%d}"

    def is_in_force(self, today: Any) -> bool:
        return self.effective_from <= today


class PriceTier(models.Model):
    """R-PL-2: a tier's prepaid deposit bounds and postpaid monthly unit bounds
    (inclusive; ``None`` max = no upper bound)."""

    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), on_delete=models.CASCADE, related_name="tiers"
    )
    tier = models.PositiveSmallIntegerField(_("tier"))
    prepaid_min = models.BigIntegerField(_("prepaid deposit from (Rp)"))
    prepaid_max = models.BigIntegerField(_("prepaid deposit to (Rp)"), null=True, blank=True)
    postpaid_min = models.BigIntegerField(_("postpaid units from"))
    postpaid_max = models.BigIntegerField(_("postpaid units to"), null=True, blank=True)

    class Meta:
        verbose_name = _("price tier")
        verbose_name_plural = _("price tiers")
        ordering = ["price_list", "tier"]
        constraints = [
            models.UniqueConstraint(fields=["price_list", "tier"], name="pricetier_unique"),
            models.CheckConstraint(condition=Q(tier__gte=1, tier__lte=6), name="pricetier_tier_1_6"),
        ]

    def __str__(self) -> str:
        return f"Tier {self.tier}"


class Price(models.Model):
    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), on_delete=models.CASCADE, related_name="prices"
    )
    tier = models.PositiveSmallIntegerField(_("tier"))
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    operator = models.CharField(_("operator"), max_length=12, choices=Operator.choices, blank=True)
    unit_price = models.PositiveIntegerField(_("unit price (Rp)"))

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["price_list", "tier", "channel", "operator"]
        constraints = [
            models.UniqueConstraint(fields=["price_list", "tier", "channel", "operator"], name="price_unique"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="price_positive"),
        ]

    def __str__(self) -> str:
        return f"T{self.tier} {self.channel} {self.operator or '-'}: {self.unit_price}"


class BillingAccount(models.Model):
    """Per-customer billing settings and notification state."""

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="billing_account"
    )
    low_balance_threshold = models.BigIntegerField(
        _("low-balance alert threshold (Rp)"), default=0, help_text=_("0 turns the alert off.")
    )
    low_balance_notified = models.BooleanField(_("low-balance alert sent"), default=False, editable=False)
    inactivity_warned_for = models.CharField(
        _("inactivity warning sent for"), max_length=40, blank=True, editable=False
    )
    suspended_for_nonpayment_at = models.DateTimeField(
        _("suspended for an unpaid invoice at"), null=True, blank=True, editable=False
    )  # R-POST-6: set when billing suspended the customer, cleared when it is settled

    class Meta:
        verbose_name = _("billing account")
        verbose_name_plural = _("billing accounts")

    def __str__(self) -> str:
        return f"Billing of {self.customer}"


class DepositLot(models.Model):
    """R-PRE-1: one top-up, with its amount, tier and expiry.

    Invariant: 0 <= remaining <= amount; remaining == the sum of this lot's
    ledger entries (``reconcile``).
    """

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="deposit_lots"
    )
    amount = models.BigIntegerField(_("amount (Rp)"))
    remaining = models.BigIntegerField(_("remaining (Rp)"))
    tier = models.PositiveSmallIntegerField(_("tier"))
    price_list = models.ForeignKey(PriceList, verbose_name=_("price list"), on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(_("bank reference"), max_length=100)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    closed_at = models.DateTimeField(_("forfeited at"), null=True, blank=True)
    expiry_warned_days = models.PositiveSmallIntegerField(
        _("expiry warning sent (days before)"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("deposit lot")
        verbose_name_plural = _("deposit lots")
        ordering = ["expires_at", "id"]
        indexes = [models.Index(fields=["customer", "expires_at", "id"], name="lot_draw_order")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="lot_amount_positive"),
            models.CheckConstraint(condition=Q(remaining__gte=0), name="lot_never_negative"),
            models.CheckConstraint(condition=Q(remaining__lte=models.F("amount")), name="lot_remaining_le_amount"),
        ]

    def __str__(self) -> str:
        return f"Lot #{self.pk} Rp {self.amount:,} (tier {self.tier})"

    def is_usable(self, now: Any) -> bool:
        return self.remaining > 0 and self.expires_at > now and self.closed_at is None


class Charge(models.Model):
    """One billed send: billing's own usage row (the architecture's "usage").

    ``reference`` (the message id, or message id + attempt) is unique, so a
    retried task never charges twice. Prepaid charges draw lots through
    ledger entries; postpaid charges are priced at month end (R-POST-3).
    """

    class Mode(models.TextChoices):
        PREPAID = "prepaid", _("Prepaid")
        POSTPAID = "postpaid", _("Postpaid")

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="charges")
    reference = models.CharField(_("reference"), max_length=100, unique=True)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    operator = models.CharField(_("operator"), max_length=12, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    units = models.PositiveIntegerField(_("units"))
    tier = models.PositiveSmallIntegerField(_("tier"))
    unit_price = models.PositiveIntegerField(_("unit price (Rp)"))
    amount = models.BigIntegerField(_("amount (Rp)"))
    price_list = models.ForeignKey(PriceList, verbose_name=_("price list"), on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)
    reversal_reason = models.CharField(_("reversal reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        indexes = [models.Index(fields=["customer", "created_at"], name="charge_customer_time")]
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="charge_units_positive"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="charge_amount_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: Rp {self.amount:,}"


class LedgerEntry(models.Model):
    """An immutable change of a customer's money (append-only; PostgreSQL
    refuses UPDATE and DELETE on these rows).

    Two books: ``deposit`` (prepaid lots, R-PRE) and ``guarantee`` (the
    postpaid guarantee deposit, R-POST-1). ``amount`` is signed: deposits and
    reversals add, everything else draws. ``reference`` is unique: the
    idempotency key of the change.
    """

    class Book(models.TextChoices):
        DEPOSIT = "deposit", _("Prepaid deposit")
        GUARANTEE = "guarantee", _("Guarantee deposit")

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit")
        CHARGE = "charge", _("Charge")
        REVERSAL = "reversal", _("Reversal")
        FORFEITURE = "forfeiture", _("Forfeiture")
        FEE = "fee", _("Fee")
        SHORTFALL = "shortfall", _("Sender-ID shortfall")
        ADJUSTMENT = "adjustment", _("Adjustment")
        GUARANTEE = "guarantee", _("Guarantee deposit")
        DEDUCTION = "deduction", _("Invoice paid from the guarantee")
        REFUND = "refund", _("Guarantee refund")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="ledger_entries"
    )
    book = models.CharField(_("book"), max_length=10, choices=Book.choices, default=Book.DEPOSIT)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    amount = models.BigIntegerField(_("amount (Rp)"))
    lot = models.ForeignKey(
        DepositLot,
        verbose_name=_("deposit lot"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
    )
    charge = models.ForeignKey(
        Charge, verbose_name=_("charge"), null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    invoice = models.ForeignKey(
        "billing.Invoice",
        verbose_name=_("invoice"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    reference = models.CharField(_("reference"), max_length=140, unique=True)
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["customer", "created_at", "id"], name="ledger_customer_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+,}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("Ledger entries are append-only; record a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Ledger entries are append-only; they are never deleted.")


class TopUpRequest(models.Model):
    """A customer's request to top up, with its transfer proof; staff decide."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="topup_requests"
    )
    amount = models.BigIntegerField(_("amount (Rp)"))
    transfer_reference = models.CharField(_("transfer reference"), max_length=100, blank=True)
    proof = models.FileField(_("transfer proof"), upload_to="topup-proofs/%Y/%m/")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.CharField(_("note"), max_length=300, blank=True)
    lot = models.OneToOneField(
        DepositLot, verbose_name=_("deposit lot"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("top-up request")
        verbose_name_plural = _("top-up requests")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="topup_amount_positive")]

    def __str__(self) -> str:
        return f"Top-up {self.customer} Rp {self.amount:,} ({self.status})"
