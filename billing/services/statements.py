"""Prepaid customers' monthly statements: the month's usage per channel and
operator, top-ups, forfeitures, and the opening and closing balance, from
the ledger's deposit book (SQL aggregation). Not an invoice: no VAT, no
number."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from billing import documents, notifications
from billing.models import Charge, LedgerEntry, Statement
from billing.pricing import jakarta_date
from billing.services.invoicing import line_description
from billing.usage import month_bounds, month_not_ended, previous_month

logger = logging.getLogger(__name__)

USAGE_KINDS = (LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REVERSAL)
OTHER_KINDS = (LedgerEntry.Kind.FEE, LedgerEntry.Kind.SHORTFALL, LedgerEntry.Kind.ADJUSTMENT)


def statements_issue(*, month: date | None = None, now: datetime | None = None) -> int:
    """One statement per customer whose deposit book had a balance or any
    movement in the month; refused for a month that has not ended;
    idempotent (one statement per customer and month). Returns how many
    were created."""
    now = now or timezone.now()
    today = jakarta_date(now)
    period = (month or previous_month(today)).replace(day=1)
    if period + relativedelta(months=1) > today:
        raise month_not_ended(period)
    start, end = month_bounds(period)
    book = LedgerEntry.objects.filter(book=LedgerEntry.Book.DEPOSIT)
    opening = dict(
        book.filter(created_at__lt=start)
        .values("customer_id")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("customer_id", "total")
    )
    movements: dict[int, dict[str, int]] = defaultdict(dict)
    for customer_id, kind, total in (
        book.filter(created_at__gte=start, created_at__lt=end)
        .values("customer_id", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("customer_id", "kind", "total")
    ):
        movements[customer_id][kind] = int(total)
    money = defaultdict(dict)  # customer -> (channel, operator) -> net amount drawn
    for customer_id, channel, operator, total in (
        book.filter(created_at__gte=start, created_at__lt=end, kind__in=USAGE_KINDS)
        .values("customer_id", "charge__channel", "charge__operator")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("customer_id", "charge__channel", "charge__operator", "total")
    ):
        money[customer_id][(channel, operator)] = -int(total)
    units = defaultdict(dict)
    for customer_id, channel, operator, unit_sum, count in (
        Charge.objects.filter(
            mode=Charge.Mode.PREPAID, created_at__gte=start, created_at__lt=end, reversed_at__isnull=True
        )
        .values("customer_id", "channel", "operator")
        .annotate(units=Sum("units"), messages=Count("id"))
        .order_by()
        .values_list("customer_id", "channel", "operator", "units", "messages")
    ):
        units[customer_id][(channel, operator)] = (int(unit_sum), int(count))
    done = set(Statement.objects.filter(period=period).values_list("customer_id", flat=True))
    created = 0
    for customer_id in sorted((set(opening) | set(movements)) - done):
        start_balance = int(opening.get(customer_id) or 0)
        moved = movements.get(customer_id, {})
        if not start_balance and not moved:
            continue
        routes = sorted(set(money[customer_id]) | set(units[customer_id]))
        lines = [
            {
                "description": line_description(channel, operator),
                "channel": channel,
                "operator": operator,
                "units": units[customer_id].get((channel, operator), (0, 0))[0],
                "messages": units[customer_id].get((channel, operator), (0, 0))[1],
                "amount": money[customer_id].get((channel, operator), 0),
            }
            for channel, operator in routes
        ]
        usage = -sum(moved.get(k, 0) for k in USAGE_KINDS)
        other = -sum(moved.get(k, 0) for k in OTHER_KINDS)
        try:
            with transaction.atomic():
                statement = Statement.objects.create(
                    customer_id=customer_id,
                    period=period,
                    opening_balance=start_balance,
                    top_ups=moved.get(LedgerEntry.Kind.DEPOSIT, 0),
                    usage=usage,
                    forfeited=-moved.get(LedgerEntry.Kind.FORFEITURE, 0),
                    other=other,
                    closing_balance=start_balance + sum(moved.values()),
                    lines=lines,
                    created_at=now,
                )
                statement_id = statement.pk
                transaction.on_commit(lambda i=statement_id: notifications.statement_issued(i))
        except IntegrityError:
            continue  # issued by a concurrent run
        created += 1
    logger.info("statements %s: %s created", period, created)
    return created


def statement_pdf_store(*, statement: Statement) -> Statement:
    """Render a statement's PDF once and keep it: what the customer
    downloads later is byte for byte what was emailed."""
    with transaction.atomic():
        row = Statement.objects.select_for_update(of=("self",)).select_related("customer").get(pk=statement.pk)
        if not row.pdf:
            data = documents.statement_pdf(row)
            row.pdf.save(f"statement-{row.customer.slug}-{row.period:%Y-%m}.pdf", ContentFile(data), save=False)
            row.save(update_fields=["pdf"])
    return row


def statement_send(*, statement_id: int, now: datetime | None = None) -> bool:
    """Render the statement's PDF once, keep it, and email it (once)."""
    now = now or timezone.now()
    statement = statement_pdf_store(statement=Statement(pk=statement_id))
    if not Statement.objects.filter(pk=statement_id, emailed_at__isnull=True).update(emailed_at=now):
        return False
    try:
        with statement.pdf.open("rb") as handle:
            pdf = handle.read()
        notifications.email_documents(
            statement.customer,
            "statement_issued",
            {"statement": statement},
            [(f"laporan-{statement.period:%Y-%m}.pdf", pdf, "application/pdf")],
        )
    except Exception:
        Statement.objects.filter(pk=statement_id).update(emailed_at=None)
        raise
    return True
