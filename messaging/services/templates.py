"""Customers' own verification texts (validated, R-CH-3)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from messaging.content import validate_template
from messaging.models import MessageTemplate
from otpportal.errors import ServiceError


def template_set(*, customer: Customer, locale: str, body: str) -> MessageTemplate:
    if locale not in ("id", "en"):
        raise ServiceError("invalid_request", _("locale must be 'id' or 'en'."), details={"locale": [_("id or en.")]})
    body = validate_template(body)
    template, _created = MessageTemplate.objects.update_or_create(
        customer=customer, locale=locale, defaults={"body": body, "updated_at": timezone.now()}
    )
    return template


def template_delete(*, customer: Customer, locale: str) -> None:
    MessageTemplate.objects.filter(customer=customer, locale=locale).delete()
