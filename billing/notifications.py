"""Emails to customers and staff. Called after commit (style.md #6) through
``billing.tasks.notify`` so a slow mail server never sits in a request."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins, send_mail
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


def _enqueue(kind: str, **kwargs: Any) -> None:
    from billing.tasks import notify

    notify.delay(kind, **kwargs)


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
    else:
        logger.error("unknown notification kind %s", kind)
