"""Sender-ID emails to customers and staff, sent after commit (style.md #6)
through ``senderids.tasks.notify`` (enqueued by name: this module never
imports the tasks). Customers read them in Indonesian, the platform's
language, like billing's emails.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import Customer, Membership

logger = logging.getLogger(__name__)

NOTIFY_TASK = "senderids.tasks.notify"


def recipients(customer: Customer) -> list[str]:
    """The customer's billing address and its owners and billing members:
    sender IDs cost money (fees, the monthly minimum) and only owners apply."""
    emails = [customer.billing_email] if customer.billing_email else []
    emails += list(
        Membership.objects.filter(customer=customer, role__in=[Membership.Role.OWNER, Membership.Role.BILLING])
        .values_list("user__email", flat=True)
        .order_by("user__email")
    )
    return sorted(set(emails))


def send_customer_email(customer: Customer, template: str, context: dict[str, Any]) -> None:
    """Render ``senderids/email/<template>.txt`` (first line = subject) in
    Indonesian and send it to the customer."""
    with translation.override(settings.LANGUAGE_CODE):
        text = render_to_string(
            f"senderids/email/{template}.txt", {"customer": customer, "site_url": settings.SITE_URL, **context}
        ).strip()
    subject, _, body = text.partition("\n")
    to = recipients(customer)
    if to:
        send_mail(subject.strip(), body.strip() + "\n", None, to)


def _enqueue(kind: str, **kwargs: Any) -> None:
    """Queue the email once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: current_app.signature(NOTIFY_TASK, args=(kind,), kwargs=kwargs).apply_async())


def application_received(sender_id: str) -> None:
    _enqueue("application_received", sender_id=sender_id)


def registration_changed(change_id: int) -> None:
    _enqueue("registration_changed", change_id=change_id)


def reactivation_requested(registration_id: int) -> None:
    _enqueue("reactivation_requested", registration_id=registration_id)


def shortfall_charged(customer_id: int, **facts: Any) -> None:
    _enqueue("shortfall_charged", customer_id=customer_id, **facts)


def quarter_warning(customer_id: int, registration_ids: list[int], **facts: Any) -> None:
    _enqueue("quarter_warning", customer_id=customer_id, registration_ids=registration_ids, **facts)


def deliver(kind: str, **kwargs: Any) -> None:
    """Render and send one notification (runs in the worker)."""
    from senderids.models import Registration, RegistrationStatusChange, SenderId

    if kind == "application_received":
        application = SenderId.objects.select_related("customer").get(pk=kwargs["sender_id"])
        registrations = list(application.registrations.all())
        send_customer_email(
            application.customer, "application_received", {"application": application, "registrations": registrations}
        )
        mail_admins(
            f"Sender ID application: {application.name} for {application.customer}",
            f"Review it at {settings.SITE_URL}/admin/senderids/senderid/{application.pk}/change/",
        )
    elif kind == "registration_changed":
        change = RegistrationStatusChange.objects.select_related(
            "registration", "registration__customer", "registration__application"
        ).get(pk=kwargs["change_id"])
        registration = change.registration
        send_customer_email(registration.customer, "registration_changed", {"change": change, "r": registration})
    elif kind == "reactivation_requested":
        registration = Registration.objects.select_related("customer").get(pk=kwargs["registration_id"])
        mail_admins(
            f"Sender ID reactivation requested: {registration}",
            f"Reactivate it at {settings.SITE_URL}/admin/senderids/registration/{registration.pk}/change/",
        )
    elif kind == "shortfall_charged":
        customer = Customer.objects.get(pk=kwargs["customer_id"])
        send_customer_email(customer, "shortfall_charged", kwargs)
    elif kind == "quarter_warning":
        customer = Customer.objects.get(pk=kwargs["customer_id"])
        registrations = list(
            Registration.objects.filter(pk__in=kwargs["registration_ids"], customer=customer).order_by("operator")
        )
        for registration in registrations:
            registration.units_so_far = kwargs.get("units", {}).get(str(registration.pk), 0)  # type: ignore[attr-defined]
        send_customer_email(customer, "quarter_warning", {**kwargs, "registrations": registrations})
    else:
        logger.error("unknown sender-ID notification %s", kind)
