"""The appointment form ("Form Penunjukan", R-SID-2) the customer downloads,
prints, signs and uploads: a pure function (style.md #9), context →
template → PDF bytes, nothing stored.

Indonesian only, like billing's documents (see ``billing/documents.py``):
it is a letter to Indonesian operators, so its wording is plain Indonesian
in the template, rendered under ``translation.override("id")``, with no
network access (billing's ``html_to_pdf``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import Customer
from billing.documents import html_to_pdf, long_date
from billing.models import Operator

LOCALE = "id"
ROUTE_LABELS = {"premium": "jalur premium, OTP/verifikasi", "regular": "jalur reguler, notifikasi"}


def appointment_form_context(
    *, customer: Customer, name: str, brand: str, operators: list[str], routes: dict[str, str], today: date
) -> dict[str, Any]:
    rows = []
    for operator in operators:
        label = str(Operator(operator).label)
        route = routes.get(operator, "")
        rows.append({"label": label, "route": ROUTE_LABELS.get(route, "")})
    return {
        "customer": {
            "legal_name": customer.legal_name or customer.name,
            "name": customer.name,
            "npwp": customer.npwp,
            "address": customer.postal_address,
        },
        "name": name,
        "brand": brand,
        "operators": rows,
        "date": long_date(today),
        "company": {"name": settings.COMPANY_NAME},
    }


def appointment_form_pdf(
    *, customer: Customer, name: str, brand: str, operators: list[str], routes: dict[str, str], today: date
) -> bytes:
    context = appointment_form_context(
        customer=customer, name=name, brand=brand, operators=operators, routes=routes, today=today
    )
    with translation.override(LOCALE):
        return html_to_pdf(render_to_string("senderids/pdf/appointment_form.html", context))
