"""Top-ups: deposit lots (R-PRE-1) and customers' top-up requests."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta
from typing import Literal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import ActivityEvent, Customer, User
from accounts.services import activity_record
from billing import notifications
from billing.models import BillingAccount, DepositLot, LedgerEntry, TopUpRequest
from billing.pricing import jakarta_date, table_in_force
from billing.templatetags.money import format_rupiah
from otpportal import uploads
from otpportal.errors import ServiceError

MAX_TOPUP = 10_000_000_000  # Rp 10 billion: a typo guard, not a business limit

# validate_amount's refusals, one sentence per field (each is worded its own way in Indonesian):
# not a whole number, not positive, implausibly large.
_AMOUNT_REFUSALS: dict[str, tuple[str, str, str]] = {
    "amount": (
        gettext_noop("amount must be a whole number of rupiah."),
        gettext_noop("amount must be positive."),
        gettext_noop("amount is implausibly large."),
    ),
    "threshold": (
        gettext_noop("threshold must be a whole number of rupiah."),
        gettext_noop("threshold must be positive."),
        gettext_noop("threshold is implausibly large."),
    ),
}


def validate_amount(amount: object, field: Literal["amount", "threshold"] = "amount") -> int:
    """Whole, positive rupiah; anything else is refused with the field named."""
    not_whole, not_positive, too_large = _AMOUNT_REFUSALS[field]
    if isinstance(amount, bool) or not isinstance(amount, int):
        try:
            text = str(amount).strip()
            if not text.isdigit():
                raise ValueError
            amount = int(text)
        except ValueError:
            raise ServiceError("invalid_request", _(not_whole), details={field: [_("Not a whole number.")]}) from None
    if amount <= 0:
        raise ServiceError("invalid_request", _(not_positive), details={field: [_("Must be positive.")]})
    if amount > MAX_TOPUP:
        raise ServiceError("invalid_request", _(too_large), details={field: [_("Too large.")]})
    return amount


def lot_expiry(created_at: datetime) -> datetime:
    """R-PRE-5: a lot is usable through the day before
    created date + DEPOSIT_VALIDITY_DAYS, and expires at 00:00 WIB that day."""
    last = jakarta_date(created_at) + timedelta(days=settings.DEPOSIT_VALIDITY_DAYS)
    return timezone.make_aware(datetime.combine(last, time.min), timezone.get_default_timezone())


def lot_create(
    *,
    customer: Customer,
    amount: object,
    reference: str = "",
    created_by: User | None = None,
    now: datetime | None = None,
) -> DepositLot:
    """Record a bank transfer as a deposit lot (R-PRE-1): its tier is chosen by
    this top-up's amount under the price list in force that day."""
    amount = validate_amount(amount)
    if customer.mode != Customer.Mode.PREPAID:
        raise ServiceError(
            "invalid_request",
            _("%(customer)s is postpaid; record a guarantee deposit instead.") % {"customer": customer.slug},
        )
    if customer.status == Customer.Status.TERMINATED:
        raise ServiceError("account_suspended", _("%(customer)s is terminated.") % {"customer": customer.slug})
    now = now or timezone.now()
    reference = (reference or "").strip() or f"manual-{secrets.token_hex(6)}"
    if len(reference) > 100:
        raise ServiceError("invalid_request", _("The reference is longer than 100 characters."))
    table = table_in_force(jakarta_date(now))
    try:
        with transaction.atomic():
            BillingAccount.objects.get_or_create(customer=customer)
            lot = DepositLot.objects.create(
                customer=customer,
                amount=amount,
                remaining=amount,
                tier=table.prepaid_tier(amount),
                price_list_id=table.price_list_id,
                reference=reference,
                created_at=now,
                expires_at=lot_expiry(now),
            )
            LedgerEntry.objects.create(
                customer=customer,
                kind=LedgerEntry.Kind.DEPOSIT,
                amount=amount,
                lot=lot,
                reference=f"deposit:{customer.pk}:{reference}",
                memo=f"Top-up {reference}",
                created_at=now,
                created_by=created_by,
            )
            BillingAccount.objects.filter(customer=customer, low_balance_notified=True).update(
                low_balance_notified=False
            )
    except IntegrityError:
        raise ServiceError(
            "invalid_request",
            _("A top-up with reference '%(reference)s' is already recorded for %(customer)s.")
            % {"reference": reference, "customer": customer.slug},
            details={"reference": [_("Already recorded.")]},
        ) from None
    return lot


ALLOWED_PROOF_TYPES = {".pdf", ".png", ".jpg", ".jpeg"}
MAX_PROOF_BYTES = uploads.MAX_BYTES
# A proof that is not a document that opens (issue 14): uploads.Refused's reason -> the sentence.
_PROOF_REFUSALS: dict[str, str] = {
    uploads.MISSING: gettext_noop("Upload the transfer proof."),
    uploads.EMPTY: gettext_noop("The proof is empty."),
    uploads.TOO_LARGE: gettext_noop("The proof is larger than 5 MB."),
    uploads.NOT_A_DOCUMENT: gettext_noop("The proof must be a PDF, PNG or JPEG file."),
    uploads.BROKEN: gettext_noop("The proof cannot be opened; upload the PDF or the photo again."),
}


def _proof_refused(reason: str) -> ServiceError:
    message = _(_PROOF_REFUSALS[reason])
    return ServiceError("invalid_file", message, details={"proof": [message]})


def topup_request_create(
    *, customer: Customer, requested_by: User, amount: object, proof: UploadedFile | None, transfer_reference: str = ""
) -> TopUpRequest:
    """A prepaid customer's request to top up, with its transfer proof: a PDF, PNG or JPEG
    of at most 5 MB that really opens (``otpportal.uploads``: judged by its content, an
    image's size checked before it is decoded), else ``invalid_file`` and nothing written.
    The proof is stored under a name of ours, never the customer's file name."""
    amount = validate_amount(amount)
    if customer.mode != Customer.Mode.PREPAID:
        raise ServiceError("invalid_request", _("Only prepaid customers top up a deposit."))
    name = ((proof.name if proof is not None else "") or "").lower()
    if proof is not None and not any(name.endswith(ext) for ext in ALLOWED_PROOF_TYPES):
        raise _proof_refused(uploads.NOT_A_DOCUMENT)
    try:
        checked = uploads.check(proof)
    except uploads.Refused as refusal:
        raise _proof_refused(refusal.reason) from None
    stored = ContentFile(checked.data, name=f"proof-{secrets.token_hex(16)}.{checked.kind}")
    with transaction.atomic():
        request = TopUpRequest.objects.create(
            customer=customer,
            requested_by=requested_by,
            amount=amount,
            proof=stored,
            transfer_reference=transfer_reference.strip()[:100],
        )
        activity_record(
            customer=customer,
            action=ActivityEvent.Action.TOPUP_REQUESTED,
            user=requested_by,
            target=" ".join(filter(None, [format_rupiah(amount), request.transfer_reference])),
        )
    transaction.on_commit(lambda: notifications.topup_requested(request.pk))
    return request


def _already_decided(row: TopUpRequest) -> ServiceError:
    return ServiceError(
        "invalid_request", _("This request is already %(status)s.") % {"status": row.get_status_display().lower()}
    )


def topup_request_approve(*, request: TopUpRequest, reviewed_by: User, note: str = "") -> TopUpRequest:
    with transaction.atomic():
        row = TopUpRequest.objects.select_for_update().get(pk=request.pk)
        if row.status != TopUpRequest.Status.PENDING:
            raise _already_decided(row)
        lot = lot_create(
            customer=row.customer,
            amount=row.amount,
            reference=row.transfer_reference or f"topup-request-{row.pk}",
            created_by=reviewed_by,
        )
        row.status = TopUpRequest.Status.APPROVED
        row.reviewed_by = reviewed_by
        row.reviewed_at = timezone.now()
        row.review_note = note[:300]
        row.lot = lot
        row.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "lot"])
        transaction.on_commit(lambda: notifications.topup_decided(row.pk))
    return row


def topup_request_reject(*, request: TopUpRequest, reviewed_by: User, note: str) -> TopUpRequest:
    if not note.strip():
        raise ServiceError("invalid_request", _("Say why the request is rejected."), details={"note": [_("Required.")]})
    with transaction.atomic():
        row = TopUpRequest.objects.select_for_update().get(pk=request.pk)
        if row.status != TopUpRequest.Status.PENDING:
            raise _already_decided(row)
        row.status = TopUpRequest.Status.REJECTED
        row.reviewed_by = reviewed_by
        row.reviewed_at = timezone.now()
        row.review_note = note[:300]
        row.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        transaction.on_commit(lambda: notifications.topup_decided(row.pk))
    return row


def low_balance_threshold_set(*, customer: Customer, threshold: object) -> BillingAccount:
    value = 0 if threshold in (0, "0") else validate_amount(threshold, "threshold")
    account, _created = BillingAccount.objects.get_or_create(customer=customer)
    account.low_balance_threshold = value
    account.low_balance_notified = False
    account.save(update_fields=["low_balance_threshold", "low_balance_notified"])
    return account
