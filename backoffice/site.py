"""The admin site staff run the business from: the platform's name in the
header, the work queues on the index page, and the pages that are not one
model's list (the revenue report with its CSV, provider health, the
reconciliation results). Every page checks its permission on the server.
"""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

REVENUE_PERMISSION = "billing.view_charge"
HEALTH_PERMISSION = "messaging.view_message"
RECONCILIATION_PERMISSION = "billing.view_reconciliation"
RECONCILE_NOW_PERMISSION = "billing.add_reconciliation"


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _month(value: str | None) -> date:
    """``YYYY-MM`` from the query string; this month (Asia/Jakarta) otherwise."""
    if value:
        try:
            year, month = (int(part) for part in value.split("-", 1))
            return date(year, month, 1)
        except ValueError:
            pass
    return timezone.localdate().replace(day=1)


class BackOfficeSite(admin.AdminSite):
    site_header = _("OTP Portal back office")
    site_title = _("OTP Portal back office")
    index_title = _("Work queues")
    index_template = "backoffice/index.html"

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        user = request.user
        context["backoffice_reports"] = [
            (label, reverse(f"admin:{name}"))
            for permission, label, name in (
                (REVENUE_PERMISSION, _("Revenue per channel and operator"), "backoffice_revenue"),
                (HEALTH_PERMISSION, _("Provider health"), "backoffice_providers"),
                (RECONCILIATION_PERMISSION, _("Reconciliation"), "backoffice_reconciliation"),
            )
            if getattr(user, "is_active", False) and getattr(user, "is_staff", False) and user.has_perm(permission)
        ]
        return context

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from backoffice import selectors

        now = timezone.now()
        context = {
            "queues": selectors.work_queues(user=request.user, now=now),
            "reconciliation": selectors.latest_reconciliation()
            if request.user.has_perm(RECONCILIATION_PERMISSION)
            else None,
            "may_see_reconciliation": request.user.has_perm(RECONCILIATION_PERMISSION),
            "now": now,
            **(extra_context or {}),
        }
        return super().index(request, context)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_view
        return [
            path("reports/revenue/", view(self.revenue_view), name="backoffice_revenue"),
            path("reports/revenue.csv", view(self.revenue_csv_view), name="backoffice_revenue_csv"),
            path("reports/providers/", view(self.providers_view), name="backoffice_providers"),
            path("reports/reconciliation/", view(self.reconciliation_view), name="backoffice_reconciliation"),
            *super().get_urls(),
        ]

    def _page(self, request: HttpRequest, template: str, title: Any, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request, template, {**self.each_context(request), "title": title, "subtitle": None, **context}
        )

    # --- Revenue ----------------------------------------------------------------------------

    def revenue_view(self, request: HttpRequest) -> TemplateResponse:
        """A month's charges per channel, operator and mode, and the last 12 months' totals."""
        from backoffice import selectors

        _require(request, REVENUE_PERMISSION)
        month = _month(request.GET.get("month"))
        report = selectors.revenue_month(month=month)
        return self._page(
            request,
            "backoffice/revenue.html",
            _("Revenue per channel and operator, %(month)s") % {"month": f"{month:%Y-%m}"},
            report=report,
            months=selectors.revenue_by_month(last=max(month, timezone.localdate().replace(day=1))),
            month=month,
            previous=f"{month - relativedelta(months=1):%Y-%m}",
            next=f"{month + relativedelta(months=1):%Y-%m}",
            channel_labels=_channel_labels(),
            mode_labels=_mode_labels(),
        )

    def revenue_csv_view(self, request: HttpRequest) -> HttpResponse:
        """The month's lines as CSV: they add up to the month's charges."""
        from backoffice import selectors

        _require(request, REVENUE_PERMISSION)
        month = _month(request.GET.get("month"))
        report = selectors.revenue_month(month=month)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="revenue-{month:%Y-%m}.csv"'
        writer = csv.writer(response)
        writer.writerow(["month", "channel", "operator", "mode", "messages", "units", "amount_rp"])
        for line in report.lines:
            writer.writerow(
                [f"{month:%Y-%m}", line.channel, line.operator, line.mode, line.messages, line.units, line.amount]
            )
        return response

    # --- Provider health ------------------------------------------------------------------------

    def providers_view(self, request: HttpRequest) -> TemplateResponse:
        from backoffice import selectors

        _require(request, HEALTH_PERMISSION)
        try:
            minutes = min(60, max(1, int(request.GET.get("minutes", 5))))
        except ValueError:
            minutes = 5
        health = selectors.provider_health(minutes=minutes)
        return self._page(
            request,
            "backoffice/providers.html",
            _("Provider health"),
            health=health,
            rows=[(route, health.throughput(route)) for route in health.routes],
            channel_labels=_channel_labels(),
            choices=(1, 5, 15, 60),
        )

    # --- Reconciliation -------------------------------------------------------------------------

    @staticmethod
    def _mismatch_links(mismatch: dict[str, Any]) -> dict[str, Any]:
        customer_id = mismatch.get("customer_id")
        book = mismatch.get("book", "deposit")
        return {
            **mismatch,
            "customer_url": reverse("admin:accounts_customer_change", args=[customer_id]),
            "ledger_url": reverse("admin:billing_ledgerentry_changelist")
            + f"?customer__id__exact={customer_id}&book__exact={book}",
            "balance_url": reverse("admin:billing_depositlot_changelist") + f"?customer__id__exact={customer_id}"
            if book == "deposit"
            else reverse("admin:billing_guarantee_changelist") + f"?customer__id__exact={customer_id}",
            "lots": [
                (lot, reverse("admin:billing_depositlot_change", args=[lot])) for lot in mismatch.get("bad_lots", [])
            ],
            "difference": int(mismatch.get("ledger_total", 0)) - int(mismatch.get("lots_total", 0)),
        }

    def reconciliation_view(self, request: HttpRequest) -> HttpResponse:
        """The latest result with a link to each difference; finance may run it now."""
        from backoffice import selectors
        from billing import services

        _require(request, RECONCILIATION_PERMISSION)
        if request.method == "POST":
            _require(request, RECONCILE_NOW_PERMISSION)
            result = services.ledger_reconcile()
            if result["mismatches"]:
                self.message_user_text(
                    request,
                    gettext("%(n)d customer(s) do not reconcile; staff are emailed.") % {"n": result["mismatches"]},
                    messages.ERROR,
                )
            else:
                self.message_user_text(request, gettext("The ledger agrees with every balance."), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:backoffice_reconciliation"))
        latest = selectors.latest_reconciliation()
        return self._page(
            request,
            "backoffice/reconciliation.html",
            _("Reconciliation"),
            latest=latest,
            differences=[self._mismatch_links(m) for m in (latest.mismatches if latest else [])],
            history=selectors.reconciliations(limit=30),
            may_run=request.user.has_perm(RECONCILE_NOW_PERMISSION),
        )

    @staticmethod
    def message_user_text(request: HttpRequest, text: str, level: int) -> None:
        messages.add_message(request, level, text)


def _channel_labels() -> dict[str, str]:
    from billing.models import Channel, Operator

    return {**{k: str(v) for k, v in Channel.choices}, **{k: str(v) for k, v in Operator.choices}}


def _mode_labels() -> dict[str, str]:
    from billing.models import Charge

    return {k: str(v) for k, v in Charge.Mode.choices}


__all__ = ["BackOfficeSite"]
