"""The dashboard's home page: the account at a glance.

Money (prepaid: the balance, its lots and the next expiry; postpaid: the
guarantee, the month's usage against its cap and the tier reached), traffic
(today's and the month's sends, delivery and verification rates per channel
and per operator, a chart of the last 30 days per channel) and alerts (low
balance, lots about to expire, an inactivity forfeiture coming, an overdue
invoice, a suspended sender ID).

It lives in messaging, the app at the top of the import chain (messaging →
senderids → billing → accounts), because it reads all of them; every read is
a selector scoped to ``request.customer``, aggregated in SQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import roles
from accounts import selectors as account_selectors
from accounts.models import Customer, Membership
from accounts.views import customer_required
from billing import selectors as billing_selectors
from messaging import charts, display, selectors
from messaging.models import Channel
from senderids import selectors as senderid_selectors

JAKARTA = ZoneInfo("Asia/Jakarta")
CHART_DAYS = 30
HOME_KEYS = 10


def day_start(moment: datetime) -> datetime:
    """Midnight of ``moment``'s Jakarta day (business days are WIB days)."""
    return moment.astimezone(JAKARTA).replace(hour=0, minute=0, second=0, microsecond=0)


def _rate_rows(rates: list[selectors.Rate], label: Any) -> list[dict[str, Any]]:
    return [{"rate": rate, "label": label(rate.key) if rate.key else "—"} for rate in rates]


def traffic(customer: Customer, *, now: datetime, is_test: bool) -> dict[str, Any]:
    """Sends, rates and the chart: four aggregate queries."""
    today = day_start(now)
    month = today.replace(day=1)
    since = today - timedelta(days=CHART_DAYS - 1)
    counts = selectors.send_counts(customer=customer, today_start=today, month_start=month, is_test=is_test)
    delivery_channels, delivery_operators = selectors.delivery_rates(customer=customer, since=since, is_test=is_test)
    conversion_channels, conversion_operators = selectors.verification_rates(
        customer=customer, since=since, is_test=is_test
    )
    days = [(since + timedelta(days=n)).date() for n in range(CHART_DAYS)]
    labels = {key: display.channel_label(key) for key in Channel.values}
    chart = charts.stacked_bars(
        days, list(labels), selectors.daily_sends(customer=customer, since=since, is_test=is_test), labels=labels
    )
    return {
        "counts": counts,
        "since": since,
        "chart": chart,
        "series": [{"key": key, "label": labels[key]} for key in chart.series],
        "delivery_channels": _rate_rows(delivery_channels, display.channel_label),
        "delivery_operators": _rate_rows(delivery_operators, display.operator_label),
        "conversion_channels": _rate_rows(conversion_channels, display.channel_label),
        "conversion_operators": _rate_rows(conversion_operators, display.operator_label),
        "has_traffic": bool(counts.month or chart.total or delivery_channels or conversion_channels),
    }


def money(customer: Customer, *, now: datetime) -> dict[str, Any]:
    """Prepaid: balance, lots, next expiry and the alerts on them; postpaid:
    the guarantee, the month against its cap and overdue invoices."""
    if customer.mode == Customer.Mode.POSTPAID:
        return {
            "postpaid": billing_selectors.postpaid_overview(customer=customer, now=now),
            "overdue": billing_selectors.overdue_invoices(customer=customer, now=now),
        }
    summary = billing_selectors.prepaid_summary(customer=customer, now=now)
    return {
        "prepaid": summary,
        "inactivity_days": billing_selectors.inactivity_days_left(summary, now=now),
        "expiring_total": sum(lot.remaining for lot in summary.expiring),
    }


@require_GET
@customer_required
def home(request: HttpRequest) -> HttpResponse:
    customer: Customer = request.customer  # type: ignore[attr-defined]
    membership: Membership = request.membership  # type: ignore[attr-defined]
    now = timezone.now()
    is_test = request.GET.get("mode") == "test"
    # The money is for the roles that may open the money pages (accounts.roles), the keys for builders.
    sees_money = roles.allows("billing:balance", membership.role)
    is_builder = roles.allows("messaging:api_keys", membership.role)
    context: dict[str, Any] = {
        "customer": customer,
        "membership": membership,
        "customers": account_selectors.customers_for_user(user=request.user),  # type: ignore[arg-type]
        "api_keys": account_selectors.customer_api_keys(customer=customer).filter(revoked_at__isnull=True)[:HOME_KEYS]
        if is_builder
        else [],
        "is_test": is_test,
        "sees_money": sees_money,
        "is_builder": is_builder,
        "suspended_sender_ids": list(senderid_selectors.suspended_registrations(customer=customer)),
        "guarantee_min": settings.POSTPAID_GUARANTEE_MIN,
        "chart_days": CHART_DAYS,
        **(money(customer, now=now) if sees_money else {}),
        **traffic(customer, now=now, is_test=is_test),
    }
    return render(request, "accounts/home.html", context)
