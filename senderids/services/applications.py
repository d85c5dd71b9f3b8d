"""Applying for a sender ID (R-SID-1 … R-SID-4, R-SID-8) and asking for a
suspended one back (R-SID-6).

``sender_id_apply`` checks everything that needs no write first (the name,
the operators, the deposit, the name's availability, the fees' acceptance,
the upload's content), then saves the signed form under a name of ours,
the application, one registration per operator with its first history row,
and bills the fees, all in one transaction. Whatever fails after the file
was saved removes the file again: a refusal leaves nothing behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import ActivityEvent, ApiKey, Customer, User
from accounts.services import activity_record
from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import Operator
from billing.pricing import jakarta_date
from otpportal.errors import ServiceError, field_error
from otpportal.workdays import add_working_days
from senderids import notifications, policy, uploads
from senderids.models import Registration, SenderId, live_q
from senderids.services.registrations import MSG_TELKOMSEL_NEW, record_change

logger = logging.getLogger(__name__)
S = Registration.Status

MSG_DEPOSIT_PREPAID = gettext_noop("A custom sender ID needs a first deposit of at least Rp 2.000.000 in one top-up.")
MSG_DEPOSIT_POSTPAID = gettext_noop("A custom sender ID needs your guarantee deposit to be held.")
MSG_TAKEN = gettext_noop("This sender name is already registered by another customer.")
MSG_EXISTS = gettext_noop("You have already applied for this sender name with these operators.")
MSG_FEES = gettext_noop("This application has a fee; confirm it to apply.")
MSG_BRAND = gettext_noop("Name the brand, business or product this sender name stands for (at most 100 characters).")
MSG_SUSPENDED = gettext_noop("Your account is suspended; sender IDs cannot be applied for or reactivated.")
MSG_NOT_SUSPENDED = gettext_noop("Only a suspended registration can be reactivated.")
MSG_UNKNOWN = gettext_noop("No such sender ID.")
MSG_BALANCE_FOR_FEE = gettext_noop("Your balance cannot cover the reactivation fee; top up first.")
SUBMITTED_NOTE = "Application submitted."


@dataclass(frozen=True)
class Application:
    """What an application became: the row, its registrations and the fees billed."""

    sender_id: SenderId
    registrations: list[Registration]
    fees: list[dict[str, object]] = field(default_factory=list)


def deposit_check(*, customer: Customer) -> None:
    """R-SID-3. Prepaid: one top-up of at least Rp 2.000.000 at some time
    (policy: a single deposit, not a sum of small ones). Postpaid: the
    guarantee deposit held (R-POST-1) stands for it."""
    if customer.mode == Customer.Mode.POSTPAID:
        if not billing_selectors.guarantee_active(customer=customer):
            raise ServiceError("deposit_required", _(MSG_DEPOSIT_POSTPAID))
    elif billing_selectors.largest_deposit(customer=customer) < policy.MIN_DEPOSIT:
        raise ServiceError("deposit_required", _(MSG_DEPOSIT_PREPAID), details={"minimum_deposit": policy.MIN_DEPOSIT})


def validate_brand(raw: object) -> str:
    brand = " ".join(raw.split()) if isinstance(raw, str) else ""
    if not brand or len(brand) > 100:
        raise field_error("brand", _(MSG_BRAND))
    return brand


def _wanted(operators: list[str]) -> Q:
    """The (operator, route) pairs an application for ``operators`` registers."""
    wanted = Q(pk__in=[])
    for operator in operators:
        wanted |= Q(operator=operator, route=policy.route_for(operator))
    return wanted


def name_check(*, customer: Customer, name: str, operators: list[str]) -> None:
    """The name is free for this customer on these operators: not active for
    another customer (``sender_id_taken``), not already applied for here
    (``sender_id_exists``; a rejected registration, or a Telkomsel route
    suspended for good, R-SID-7, frees it)."""
    key = policy.name_key(name)
    if Registration.objects.filter(name_key=key, status=S.ACTIVE).exclude(customer=customer).exists():
        raise ServiceError("sender_id_taken", _(MSG_TAKEN), details={"name": [_(MSG_TAKEN)]})
    held = sorted(
        set(
            Registration.objects.filter(live_q(), _wanted(operators), customer=customer, name_key=key).values_list(
                "operator", flat=True
            )
        )
    )
    if held:
        raise ServiceError("sender_id_exists", _(MSG_EXISTS), details={"name": [_(MSG_EXISTS)], "operators": held})


def expected_window(submitted: date) -> tuple[date, date]:
    """R-SID-4: 7 to 30 Indonesian working days after the day of submission."""
    low, high = policy.EXPECTED_WORKING_DAYS
    return add_working_days(submitted, low), add_working_days(submitted, high)


def application_preview(*, customer: Customer, name: object, brand: object, operators: object) -> dict[str, object]:
    """Everything an application is checked for before its form is uploaded:
    the cleaned values and the fees it will bill (shown before confirming)."""
    if not customer.is_active:
        raise ServiceError("account_suspended", _(MSG_SUSPENDED))
    clean_name = policy.validate_name(name)
    clean_brand = validate_brand(brand)
    chosen = policy.validate_operators(operators)
    deposit_check(customer=customer)
    name_check(customer=customer, name=clean_name, operators=chosen)
    return {
        "name": clean_name,
        "brand": clean_brand,
        "operators": chosen,
        "fees": [fee.as_dict() for fee in policy.application_fees(chosen)],
    }


def appointment_form(*, customer: Customer, name: object, brand: object, operators: object, today: date) -> bytes:
    """The pre-filled appointment form (R-SID-2) as PDF bytes. (WeasyPrint is
    imported here, not at start-up: most processes never render a PDF.)"""
    from senderids.documents import appointment_form_pdf

    clean_name = policy.validate_name(name)
    clean_brand = validate_brand(brand)
    chosen = policy.validate_operators(operators)
    routes = {op: policy.route_for(op) for op in chosen}
    return appointment_form_pdf(
        customer=customer, name=clean_name, brand=clean_brand, operators=chosen, routes=routes, today=today
    )


def _discard(name: str | None) -> None:
    if not name:
        return
    try:
        SenderId._meta.get_field("form").storage.delete(name)  # type: ignore[attr-defined]
    except OSError:
        logger.exception("could not remove the refused upload %s", name)


def sender_id_apply(
    *,
    customer: Customer,
    name: object,
    brand: object,
    operators: object,
    form: UploadedFile | None,
    accept_fees: bool = False,
    applied_by: User | None = None,
    api_key: ApiKey | None = None,
    now: datetime | None = None,
) -> Application:
    """Apply for a sender name with the chosen operators (R-SID-1, R-SID-2).

    Refused, with nothing written and no file left: a bad name, brand or
    operator (``invalid_request``), no qualifying deposit (``deposit_required``,
    R-SID-3), a name active for another customer (``sender_id_taken``) or
    already applied for here (``sender_id_exists``), a fee not accepted
    (``fees_not_accepted``, R-SID-8), an upload that is not a PDF, JPEG or PNG
    of at most 5 MB that opens (``invalid_file``), a fee the prepaid balance
    cannot pay (``insufficient_balance``).
    """
    now = now or timezone.now()
    preview = application_preview(customer=customer, name=name, brand=brand, operators=operators)
    chosen: list[str] = preview["operators"]  # type: ignore[assignment]
    fees = policy.application_fees(chosen)
    if fees and accept_fees is not True:
        message = _(MSG_FEES)
        raise ServiceError(
            "fees_not_accepted", message, details={"accept_fees": [message], "fees": [f.as_dict() for f in fees]}
        )
    checked = uploads.check_form(form)
    clean_name = str(preview["name"])
    application = SenderId(
        customer=customer,
        name=clean_name,
        name_key=policy.name_key(clean_name),
        brand=str(preview["brand"]),
        form_kind=checked.kind,
        form_original_name=checked.original_name,
        applied_by=applied_by,
        created_at=now,
    )
    stored: str | None = None
    try:
        with transaction.atomic():
            application.form.save("form", ContentFile(checked.data), save=False)
            stored = application.form.name
            application.save(force_insert=True)
            registrations = _register(application, chosen, applied_by, now)
            billed = _bill_fees(application, registrations, fees, now)
            notifications.application_received(application.pk)
            activity_record(
                customer=customer,
                action=ActivityEvent.Action.SENDER_ID_APPLIED,
                user=applied_by,
                api_key=api_key,
                target=f"{clean_name} ({', '.join(chosen)})",
                at=now,
            )
    except IntegrityError as error:
        _discard(stored)
        if "sidreg_live_once" not in str(error):
            raise
        raise ServiceError("sender_id_exists", _(MSG_EXISTS), details={"name": [_(MSG_EXISTS)]}) from None
    except BaseException:
        _discard(stored)
        raise
    return Application(sender_id=application, registrations=registrations, fees=billed)


def _register(application: SenderId, operators: list[str], actor: User | None, now: datetime) -> list[Registration]:
    """R-SID-4: one registration per operator, each starting ``submitted``."""
    expected_from, expected_by = expected_window(jakarta_date(now))
    rows = []
    for operator in operators:
        row = Registration.objects.create(
            application=application,
            customer_id=application.customer_id,
            name=application.name,
            name_key=application.name_key,
            operator=operator,
            route=policy.route_for(operator),
            status=S.SUBMITTED,
            submitted_at=now,
            expected_from=expected_from,
            expected_by=expected_by,
            status_changed_at=now,
        )
        # The application's own email lists every operator; no email per first row.
        record_change(row, old="", new=S.SUBMITTED, reason=SUBMITTED_NOTE, actor=actor, now=now, notify=False)
        rows.append(row)
    return rows


def _bill_fees(
    application: SenderId, registrations: list[Registration], fees: list[policy.Fee], now: datetime
) -> list[dict[str, object]]:
    """R-SID-8: the Smartfren registration fee, billed once per registration."""
    by_operator = {row.operator: row for row in registrations}
    billed = []
    for fee in fees:
        row = by_operator[fee.operator]
        charged = billing.fee_charge(
            customer=application.customer,
            amount=fee.amount,
            reference=f"sid:{row.pk}:registration",
            description=f"Sender ID {application.name}: {Operator(fee.operator).label} registration",
            kind="fee",
            now=now,
        )
        billed.append({**fee.as_dict(), "billed_to": "invoice" if charged.invoiced else "deposit"})
    return billed


def registration_reactivation_request(
    *,
    customer: Customer,
    registration_id: int,
    accept_fees: bool,
    requested_by: User | None,
    now: datetime | None = None,
) -> Registration:
    """The customer asks for a suspended registration back (R-SID-6), having
    seen its fee (Three: Rp 300.000, billed when staff reactivate it). A
    suspended Telkomsel route cannot come back (R-SID-7): apply again."""
    now = now or timezone.now()
    if not customer.is_active:
        raise ServiceError("account_suspended", _(MSG_SUSPENDED))
    with transaction.atomic():
        row = Registration.objects.select_for_update(of=("self",)).filter(pk=registration_id, customer=customer).first()
        if row is None:
            raise ServiceError("not_found", _(MSG_UNKNOWN))
        if row.status != S.SUSPENDED:
            raise ServiceError("invalid_transition", _(MSG_NOT_SUSPENDED), details={"from": row.status, "to": S.ACTIVE})
        if row.operator == Operator.TELKOMSEL:
            raise ServiceError("invalid_transition", _(MSG_TELKOMSEL_NEW), details={"from": row.status, "to": S.ACTIVE})
        fee = policy.reactivation_fee(row.operator)
        if fee is not None:
            if accept_fees is not True:
                raise ServiceError(
                    "fees_not_accepted", _(MSG_FEES), details={"accept_fees": [_(MSG_FEES)], "fees": [fee.as_dict()]}
                )
            if customer.mode == Customer.Mode.PREPAID:
                balance = billing_selectors.balance(customer=customer, now=now)
                if balance < fee.amount:  # told now; the charge itself checks again when staff reactivate
                    raise ServiceError(
                        "insufficient_balance",
                        _(MSG_BALANCE_FOR_FEE),
                        details={"balance": balance, "price": fee.amount},
                    )
        if row.reactivation_requested_at is None:
            row.reactivation_requested_at = now
            row.reactivation_requested_by = requested_by
            row.save(update_fields=["reactivation_requested_at", "reactivation_requested_by"])
            notifications.reactivation_requested(row.pk)
    return row
