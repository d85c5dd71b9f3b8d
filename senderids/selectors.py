"""Read queries on sender IDs (R-CH-4, R-SID), scoped by customer.

``active_sender_id`` is on the send path: one query on the registrations
table alone, served by an index on (customer, operator) (the partial index
``sidreg_active_lookup`` over active rows, or the ``sidreg_live_once``
constraint's, which the planner may prefer), its SQL compiled once
(``otpportal.rowsql.Scalar``, issue 11). The send path keeps the answer for
``HOT_CACHE_SECONDS`` (``messaging.services.sending``); a suspension made in
a process clears it there at once.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.utils.translation import gettext as _

from accounts.models import Customer
from otpportal.errors import ServiceError
from otpportal.rowsql import Scalar
from senderids.models import Registration, RegistrationStatusChange, SenderId

ACTIVE = Registration.Status.ACTIVE


def _active_names(customer_id: int, operator: str, name_key: str | None = None) -> QuerySet[Registration]:
    rows = Registration.objects.filter(customer_id=customer_id, operator=operator, status=ACTIVE).exclude(
        route=Registration.Route.REGULAR
    )
    if name_key is not None:
        rows = rows.filter(name_key=name_key)
    return rows.order_by("activated_at", "id").values_list("name", flat=True)


_SENTINELS = {"customer_id": -7_310_000_000_000_001, "operator": "~operator~"}
_first_active = Scalar(_active_names, **_SENTINELS)
_active_named = Scalar(_active_names, **_SENTINELS, name_key="~name-key~")


def active_sender_id(*, customer: Customer, operator: str, requested: str = "") -> str | None:
    """R-CH-4: the customer's sender ID active for this operator, or None.

    With ``requested``, only that name counts (compared without regard to
    case; the registered spelling is returned). Without it, the customer's
    first activated one. Telkomsel's regular (notification) route never
    carries OTP, so only its premium route counts (R-SID-7).
    """
    if not operator:
        return None
    if requested:
        return _active_named.get(customer_id=customer.pk, operator=operator, name_key=requested.strip().upper())
    return _first_active.get(customer_id=customer.pk, operator=operator)


def sender_ids(*, customer: Customer) -> QuerySet[SenderId]:
    """The customer's applications, newest first, with their registrations."""
    return (
        SenderId.objects.filter(customer=customer)
        .prefetch_related(Prefetch("registrations", queryset=Registration.objects.order_by("operator", "route")))
        .order_by("-created_at", "-pk")
    )


def sender_id(*, customer: Customer, sender_id: str) -> SenderId:
    """One of the customer's applications with its registrations and their
    history; another customer's is ``not_found``."""
    row = (
        SenderId.objects.filter(customer=customer, pk=sender_id)
        .prefetch_related(
            Prefetch(
                "registrations",
                queryset=Registration.objects.order_by("operator", "route").prefetch_related(
                    Prefetch("history", queryset=RegistrationStatusChange.objects.order_by("created_at", "id"))
                ),
            )
        )
        .first()
    )
    if row is None:
        raise ServiceError("not_found", _("No such sender ID."))
    return row


def registration(*, customer: Customer, registration_id: int) -> Registration:
    row = Registration.objects.filter(customer=customer, pk=registration_id).select_related("application").first()
    if row is None:
        raise ServiceError("not_found", _("No such sender ID."))
    return row


def active_at(moment: datetime) -> QuerySet[Registration]:
    """Registrations whose status at ``moment`` was active, read from their
    history (the last change before ``moment``), whatever they are now."""
    last = (
        RegistrationStatusChange.objects.filter(registration=OuterRef("pk"), created_at__lt=moment)
        .order_by("-created_at", "-id")
        .values("new")[:1]
    )
    return (
        Registration.objects.filter(activated_at__lt=moment)
        .annotate(status_then=Subquery(last))
        .filter(status_then=ACTIVE)
    )


def suspended_registrations(*, customer: Customer) -> QuerySet[Registration]:
    """The customer's sender-ID registrations suspended on an operator (the
    home page's alert; R-SID-5, R-SID-6). Few rows: a customer's own."""
    return Registration.objects.filter(customer_id=customer.pk, status=Registration.Status.SUSPENDED).order_by(
        "name", "operator", "route"
    )
