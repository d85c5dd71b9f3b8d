"""Dashboard pages of prepaid billing: balance and lots, the ledger (and its
CSV export), top-up requests. Every read goes through ``billing.selectors``
scoped to ``request.customer``; every write through one service."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Membership
from accounts.views import customer_required, roles_required
from billing import selectors, services
from billing.forms import ThresholdForm, TopUpRequestForm, add_service_error
from billing.models import DepositLot, LedgerEntry
from otpportal.errors import ServiceError

JAKARTA = ZoneInfo("Asia/Jakarta")
LEDGER_PAGE_SIZE = 50
MONEY_ROLES = (Membership.Role.OWNER, Membership.Role.BILLING)

LOT_STATUS_LABELS = {
    "active": gettext_lazy("Active"),
    "used_up": gettext_lazy("Used up"),
    "expired": gettext_lazy("Expired"),
    "forfeited": gettext_lazy("Forfeited"),
}


def lot_status(lot: DepositLot, now: datetime) -> str:
    """How a lot reads on the balance page. A lot closed at or after its
    expiry ran out its active period (R-PRE-5, "expired"); one closed before
    was forfeited for inactivity (R-PRE-6)."""
    if lot.closed_at is not None:
        return "expired" if lot.closed_at >= lot.expires_at else "forfeited"
    if lot.expires_at <= now:
        return "expired"
    if lot.remaining <= 0:
        return "used_up"
    return "active"


def _can_manage_money(request: HttpRequest) -> bool:
    return request.membership.role in MONEY_ROLES  # type: ignore[attr-defined]


def _balance_page(request: HttpRequest, threshold_form: ThresholdForm | None = None, status: int = 200) -> HttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    now = timezone.now()
    account = selectors.billing_account(customer=customer)
    can_manage = _can_manage_money(request)
    if can_manage and threshold_form is None:
        threshold_form = ThresholdForm(initial={"threshold": account.low_balance_threshold if account else 0})
    lots = [
        {"lot": lot, "status": status_, "status_label": LOT_STATUS_LABELS[status_]}
        for lot in selectors.lots(customer=customer)
        for status_ in [lot_status(lot, now)]
    ]
    context: dict[str, Any] = {
        "customer": customer,
        "balance": selectors.balance(customer=customer, now=now),
        "lots": lots,
        "account": account,
        "can_manage": can_manage,
        "threshold_form": threshold_form if can_manage else None,
        "validity_days": settings.DEPOSIT_VALIDITY_DAYS,
        "inactivity_months": settings.INACTIVITY_FORFEIT_MONTHS,
    }
    return render(request, "billing/balance.html", context, status=status)


@require_GET
@customer_required
def balance(request: HttpRequest) -> HttpResponse:
    return _balance_page(request)


@require_POST
@customer_required
@roles_required(*MONEY_ROLES)
def threshold(request: HttpRequest) -> HttpResponse:
    form = ThresholdForm(request.POST)
    if form.is_valid():
        try:
            services.low_balance_threshold_set(
                customer=request.customer,  # type: ignore[attr-defined]
                threshold=form.cleaned_data["threshold"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The low-balance alert threshold is saved."))
            return redirect("billing:balance")
    return _balance_page(request, threshold_form=form, status=400)


@require_GET
@customer_required
def ledger(request: HttpRequest) -> HttpResponse:
    lines = selectors.ledger_with_running_balance(customer=request.customer)  # type: ignore[attr-defined]
    page = Paginator(lines, LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "billing/ledger.html", {"page": page})


class _Echo:
    """A file-like object whose ``write`` returns the line (csv docs' pattern)."""

    def write(self, value: str) -> str:
        return value


def _cell(text: str) -> str:
    """Keep free text from being read as a formula by spreadsheets."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


LEDGER_CSV_COLUMNS = ["created_at", "kind", "amount", "running_balance", "lot_id", "charge_reference", "memo"]


def ledger_csv_rows(entries: Iterable[LedgerEntry]) -> Iterator[list[Any]]:
    """The header, then one row per entry with the balance after it."""
    yield LEDGER_CSV_COLUMNS
    running = 0
    for entry in entries:
        running += entry.amount
        yield [
            entry.created_at.astimezone(JAKARTA).isoformat(),
            entry.kind,
            entry.amount,
            running,
            entry.lot_id or "",
            _cell(entry.charge.reference) if entry.charge else "",
            _cell(entry.memo),
        ]


@require_GET
@customer_required
def ledger_csv(request: HttpRequest) -> StreamingHttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    writer = csv.writer(_Echo())
    rows = ledger_csv_rows(selectors.ledger_iter(customer=customer))
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(JAKARTA).strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="ledger-{customer.slug}-{stamp}.csv"'
    return response


@require_http_methods(["GET", "POST"])
@customer_required
@roles_required(*MONEY_ROLES)
def topup(request: HttpRequest) -> HttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    form = TopUpRequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.topup_request_create(
                customer=customer,
                requested_by=request.user,  # type: ignore[arg-type]
                amount=form.cleaned_data["amount"],
                proof=form.cleaned_data["proof"],
                transfer_reference=form.cleaned_data["transfer_reference"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Thank you. We will check your transfer and credit your deposit."))
            return redirect("billing:topup")
    context = {
        "form": form,
        "bank_details": settings.BANK_TRANSFER_DETAILS,
        "requests": selectors.topup_requests(customer=customer),
    }
    return render(request, "billing/topup.html", context, status=400 if form.errors else 200)
