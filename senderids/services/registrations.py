"""The registrations' state machine (style.md #4, R-SID-4): one transition
function, ``registration_move``, refuses every move ``Registration.MOVES``
does not list and writes the append-only history row. Staff (admin), the
quarterly traffic rules and nothing else call it.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import Customer, User
from billing import services as billing
from billing.models import Operator
from otpportal.errors import ServiceError, field_error
from senderids import notifications, policy
from senderids.models import Registration, RegistrationStatusChange, SenderId

S = Registration.Status

MSG_MOVE = gettext_noop("This registration's status does not allow that move.")
MSG_TELKOMSEL_NEW = gettext_noop(
    "A suspended Telkomsel route cannot be reactivated; apply again for a new registration."
)
MSG_NOT_REQUESTED = gettext_noop("The customer has not asked for the reactivation and accepted its fee yet.")
MSG_NOTE_REQUIRED = gettext_noop("Write a note saying why; the customer reads it.")
MSG_NAME_ACTIVE_ELSEWHERE = gettext_noop("This sender name is already active for another customer.")
MSG_UNKNOWN = gettext_noop("No such registration.")


def record_change(
    registration: Registration,
    *,
    old: str,
    new: str,
    reason: str,
    actor: User | None,
    now: datetime,
    notify: bool = True,
) -> RegistrationStatusChange:
    """The history row of one move, and (``notify``) the customer's email after commit."""
    change = RegistrationStatusChange.objects.create(
        registration=registration, old=old, new=new, reason=reason[:300], actor=actor, created_at=now
    )
    if notify:
        notifications.registration_changed(change.pk)
    return change


def _refuse_move(old: str, new: str, message: str | None = None) -> ServiceError:
    """``message`` (translated) says why; by default that the move is not allowed."""
    return ServiceError("invalid_transition", message or _(MSG_MOVE), details={"from": old, "to": new})


def _name_active_elsewhere(row: Registration) -> bool:
    """Whether another customer holds this name active (any operator). The
    applications with the name are locked first, in one order, so two
    activations of one name for two customers take turns."""
    list(SenderId.objects.select_for_update().filter(name_key=row.name_key).order_by("pk").values_list("pk", flat=True))
    return (
        Registration.objects.filter(name_key=row.name_key, status=S.ACTIVE)
        .exclude(customer_id=row.customer_id)
        .exists()
    )


def _charge_reactivation(row: Registration, customer: Customer, now: datetime) -> None:
    """R-SID-6: a suspended Three registration comes back for Rp 300.000,
    billed once per suspension (its reference names the suspension's history
    row) and only after the customer asked for it, seeing the fee."""
    fee = policy.reactivation_fee(row.operator)
    if fee is None:
        return
    if row.reactivation_requested_at is None:
        raise ServiceError("fees_not_accepted", _(MSG_NOT_REQUESTED), details={"fees": [fee.as_dict()]})
    suspension = row.history.filter(new=S.SUSPENDED).order_by("-created_at", "-id").only("pk").first()
    billing.fee_charge(
        customer=customer,
        amount=fee.amount,
        reference=f"sid:{row.pk}:reactivation:{suspension.pk if suspension else 0}",
        description=f"Sender ID {row.name}: {Operator(row.operator).label} reactivation",
        kind="fee",
        now=now,
    )


def registration_move(
    *,
    registration: Registration | int,
    new: str,
    note: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> Registration:
    """Move one registration to ``new`` (R-SID-4), or refuse with
    ``invalid_transition`` and write nothing.

    ``actor`` is the staff user (``None``: the platform's own rules). Staff
    give a note to reject or suspend; the customer reads it. Reactivating a
    Telkomsel route is refused (R-SID-7: a new registration is needed);
    reactivating Three charges its fee (R-SID-6), refused with
    ``insufficient_balance`` when a prepaid balance cannot pay it.
    """
    now = now or timezone.now()
    note = (note or "").strip()
    if new not in S.values:
        raise field_error("status", _(MSG_MOVE), code="invalid_transition")
    if actor is not None and new in (S.REJECTED, S.SUSPENDED) and not note:
        raise field_error("note", _(MSG_NOTE_REQUIRED))
    pk = registration if isinstance(registration, int) else registration.pk
    try:
        with transaction.atomic():
            row = Registration.objects.select_for_update(of=("self",)).filter(pk=pk).first()
            if row is None:
                raise ServiceError("not_found", _(MSG_UNKNOWN))
            customer = Customer.objects.get(pk=row.customer_id)
            old = row.status
            if new not in Registration.MOVES[old]:
                raise _refuse_move(old, new)
            if old == S.SUSPENDED and new == S.ACTIVE:
                if row.operator == Operator.TELKOMSEL:
                    raise _refuse_move(old, new, _(MSG_TELKOMSEL_NEW))  # R-SID-7
                _charge_reactivation(row, customer, now)  # R-SID-6
            if new == S.ACTIVE and _name_active_elsewhere(row):
                raise ServiceError("sender_id_taken", _(MSG_NAME_ACTIVE_ELSEWHERE), details={"name": [row.name]})
            row.status = new
            row.status_changed_at = now
            fields = ["status", "status_changed_at"]
            if new == S.ACTIVE:
                if row.activated_at is None:
                    row.activated_at = now
                row.reactivation_requested_at = None
                row.reactivation_requested_by = None
                fields += ["activated_at", "reactivation_requested_at", "reactivation_requested_by"]
            row.save(update_fields=fields)
            record_change(row, old=old, new=new, reason=note, actor=actor, now=now)
    except IntegrityError as error:  # the database's own guard (sidreg_active_name_once)
        if "sidreg_active_name_once" not in str(error):
            raise
        raise ServiceError("sender_id_taken", _(MSG_NAME_ACTIVE_ELSEWHERE)) from None
    return row
