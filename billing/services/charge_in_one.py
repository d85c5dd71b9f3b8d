"""A prepaid charge and the rows it pays for, written by one statement (issue 11).

``charging.charge`` takes a send through the ORM: lock the usable lots, insert the
charge, update each lot drawn, insert the ledger entries, read the billing account and
perhaps update it; the caller then inserts its own rows (the message, its status
history, a new verification). That is nine statements and two round trips for the
transaction, each built and compiled by Django on every call, and the profile of
``POST /api/v1/verifications`` put two thirds of the request's CPU there.

``charge_prepaid_with`` does the same in one PostgreSQL statement: a ``WITH`` whose parts
lock the lots (``FOR UPDATE``, in draw order: expiry, then id, as ``charging`` does),
price the send at the tier of the lot drawn first (R-PRE-2), refuse when the usable
balance cannot pay (R-PRE-3: nothing at all is written then), take the amount from the
lots in draw order, insert the charge and one ledger entry per lot touched, set or clear
the low-balance alert's mark as ``charging._after_balance_change`` does, and insert the
caller's rows, only when the charge is made: never a charge without its message, never a
message without its charge. Outside a transaction the statement is its own transaction.

The statement's text is written once per kind of caller (which models, which of their
columns take the charge's values) from the models' metadata; a call only binds values.
Elsewhere than on PostgreSQL callers use ``charging.charge`` (``available``).

Concurrency is the ORM path's: the lots' row locks are taken before anything is
computed from them, and a lot changed by a concurrent send is re-read under its lock
(READ COMMITTED re-checks a locked row), so concurrent sends queue on the same rows and
the balance never goes below zero (tests/billing/test_charge_in_one.py, on PostgreSQL).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Field, Model

from accounts.models import Customer
from billing import notifications
from billing.models import TIERS, BillingAccount, Charge, DepositLot, LedgerEntry
from billing.pricing import PriceTable, jakarta_date, table_in_force
from billing.services.charging import _validate, balance_empty, balance_short
from otpportal.rowsql import prepared_cursor

logger = logging.getLogger(__name__)

# A column's value taken from the statement: "amount", "tier" or "unit_price" of the charge.
CHARGED_VALUES = ("amount", "tier", "unit_price")


@dataclass(frozen=True)
class Row:
    """A row to insert when the charge is made: an unsaved instance, and the columns
    (attribute names) that take one of the charge's values (``CHARGED_VALUES``)."""

    instance: Model
    charged: Mapping[str, str]


def available() -> bool:
    return connection.vendor == "postgresql"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


# Field types whose Python value JSON carries as PostgreSQL reads it back into the column.
_JSON_READY = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateTimeField",
    "IntegerField",
    "JSONField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


@dataclass(frozen=True)
class _Insert:
    sql: str
    fields: tuple[Field, ...]  # the columns the caller's instance gives, as one JSON object


def _insert(model: type[Model], computed: Mapping[str, str], tables: str, where: str = "") -> _Insert:
    """``INSERT INTO <model> SELECT r.* FROM <tables>, jsonb_populate_record(…) r``: the row
    is the caller's instance as one JSON parameter (PostgreSQL casts each value to its
    column), with the ``computed`` columns' SQL laid over it. One parameter per row, and
    a statement short enough for psycopg to keep its parsed form (at most 4,096 characters
    and 50 parameters): the first version bound every column and psycopg parsed its
    80 parameters again on every call."""
    table = _q(model._meta.db_table)
    over = dict(computed)
    pk = model._meta.pk
    if pk.get_internal_type().endswith("AutoField") and pk.column not in over:
        over[pk.column] = f"nextval(pg_get_serial_sequence('{table}', '{pk.column}'))"
    fields = []
    for field in model._meta.concrete_fields:
        target = field.target_field if field.is_relation else field
        if target.get_internal_type() not in _JSON_READY:
            raise TypeError(f"{model.__name__}.{field.name}: {target.get_internal_type()} is not carried by JSON here")
        if field.column not in over:
            fields.append(field)
    laid = ", ".join(f"'{column}', {expression}" for column, expression in over.items())
    sql = (
        f"INSERT INTO {table} SELECT r.* FROM {tables},"  # noqa: S608 - names from metadata
        f" jsonb_populate_record(NULL::{table}, %s::jsonb || jsonb_build_object({laid})) r"
    )
    return _Insert(sql + (f" WHERE {where}" if where else ""), tuple(fields))


def _row_json(instance: Model, fields: tuple[Field, ...]) -> str:
    values = {}
    for field in fields:
        value = getattr(instance, field.attname)
        values[field.column] = value.isoformat() if isinstance(value, datetime) else value
    return json.dumps(values)


def _statement(kinds: tuple[tuple[type[Model], tuple[tuple[str, str], ...]], ...]) -> tuple[str, list[_Insert]]:
    lots, accounts = _q(DepositLot._meta.db_table), _q(BillingAccount._meta.db_table)
    charge = _insert(Charge, {"tier": "p.tier", "unit_price": "p.unit_price", "amount": "p.amount"}, "priced p", "p.ok")
    ledger = _insert(
        LedgerEntry,
        {"amount": "-d.take", "lot_id": "d.id", "charge_id": "c.id", "reference": "a.ledger_prefix || d.id"},
        "draws d, charged c, args a",
    )
    inserts, rows = [charge, ledger], ""
    for position, (model, charged) in enumerate(kinds):
        columns = {model._meta.get_field(attname).column: f"p.{value}" for attname, value in charged}
        insert = _insert(model, columns, "priced p", "p.ok")
        rows += f",\nrow_{position} AS ({insert.sql} RETURNING 1)"
        inserts.append(insert)
    # Names from the models' metadata; every value is a parameter (in ``args`` or a row's JSON).
    sql = f"""
WITH args AS (
    SELECT %s::bigint AS customer_id, %s::timestamptz AS now, %s::bigint AS units,
           %s::bigint[] AS prices, %s::text AS ledger_prefix
), locked AS (
    SELECT l.id, l.remaining, l.tier, l.expires_at FROM {lots} l, args a
    WHERE l.customer_id = a.customer_id AND l.remaining > 0 AND l.expires_at > a.now AND l.closed_at IS NULL
    ORDER BY l.expires_at, l.id
    FOR UPDATE OF l
), ranked AS (
    SELECT id, remaining, tier, row_number() OVER w AS position, sum(remaining) OVER w - remaining AS drawn_before
    FROM locked WINDOW w AS (ORDER BY expires_at, id ROWS UNBOUNDED PRECEDING)
), totals AS (
    SELECT COALESCE(sum(r.remaining), 0) AS balance, min(r.tier) FILTER (WHERE r.position = 1) AS tier
    FROM ranked r
), priced AS (
    SELECT t.balance, t.tier, a.prices[t.tier] AS unit_price, a.prices[t.tier] * a.units AS amount,
           COALESCE(t.balance >= a.prices[t.tier] * a.units, false) AS ok
    FROM totals t, args a
), draws AS (
    SELECT r.id, LEAST(r.remaining, p.amount - r.drawn_before) AS take
    FROM ranked r, priced p WHERE p.ok AND r.drawn_before < p.amount
), drawn AS (
    UPDATE {lots} l SET remaining = l.remaining - d.take FROM draws d WHERE l.id = d.id RETURNING l.id
), charged AS ({charge.sql} RETURNING id
), ledger AS ({ledger.sql} RETURNING 1
), alerted AS (
    UPDATE {accounts} b SET low_balance_notified = NOT b.low_balance_notified
    FROM priced p, args a
    WHERE p.ok AND b.customer_id = a.customer_id AND b.low_balance_threshold > 0 AND (
        (NOT b.low_balance_notified AND p.balance - p.amount < b.low_balance_threshold
         AND b.low_balance_threshold <= p.balance)
        OR (b.low_balance_notified AND p.balance - p.amount >= b.low_balance_threshold))
    RETURNING b.low_balance_notified, b.low_balance_threshold
){rows}
SELECT p.ok, p.balance, p.tier, p.unit_price, p.amount,
       (SELECT count(*) FROM drawn), (SELECT count(*) FROM ledger),
       (SELECT low_balance_notified FROM alerted), (SELECT low_balance_threshold FROM alerted)
FROM priced p
"""  # noqa: S608
    return sql, inserts


_statements: dict[tuple, tuple[str, list[_Insert]]] = {}


def charge_prepaid_with(
    *,
    customer: Customer,
    channel: str,
    operator: str,
    units: int,
    reference: str,
    phone: str,
    now: datetime,
    rows: Sequence[Row],
) -> int:
    """Charge a prepaid send and insert ``rows`` with it, in one statement; returns the
    amount charged, or refuses with ``insufficient_balance`` having written nothing.
    ``reference`` is new (a message id made just now): it is not looked up first."""
    _validate(channel, operator, units)
    table = table_in_force(jakarta_date(now))
    prices = [table.price_or_none(tier, channel, operator) for tier in TIERS]  # R-OP-1, per tier
    kinds = tuple((type(row.instance), tuple(sorted(row.charged.items()))) for row in rows)
    built = _statements.get(kinds)
    if built is None:
        built = _statements[kinds] = _statement(kinds)
    sql, inserts = built
    charge = Charge(
        customer=customer,
        reference=reference,
        mode=Charge.Mode.PREPAID,
        channel=channel,
        operator=operator,
        phone=phone,
        units=units,
        tier=0,
        unit_price=0,
        amount=0,
        price_list_id=table.price_list_id,
        created_at=now,
    )
    entry = LedgerEntry(
        customer=customer,
        kind=LedgerEntry.Kind.CHARGE,
        amount=0,
        reference="",
        memo=f"{channel} {operator} ×{units}".strip()[:200],
        created_at=now,
    )
    params: list[object] = [customer.pk, now, units, prices, f"charge:{reference}:"]
    for instance, insert in zip([charge, entry, *(row.instance for row in rows)], inserts, strict=True):
        params.append(_row_json(instance, insert.fields))
    with prepared_cursor() as cursor:  # prepared on its connection: not parsed and planned per send (issue 11)
        cursor.execute(sql, params)
        ok, balance, tier, unit_price, amount, lots_drawn, entries, notified, threshold = cursor.fetchone()
    if not ok:
        _refuse(balance, tier, unit_price, table, channel, operator, units)
    if not lots_drawn == entries >= 1:  # the statement's own invariant; the money is written: say so, do not fail
        logger.error("charge %s: %s lots drawn but %s ledger entries (run reconcile)", reference, lots_drawn, entries)
    for row in rows:
        for attname, value in row.charged.items():
            setattr(row.instance, attname, {"amount": amount, "tier": tier, "unit_price": unit_price}[value])
        row.instance._state.adding = False
        row.instance._state.db = connection.alias
    if notified:
        after = balance - amount
        transaction.on_commit(lambda: notifications.low_balance(customer.pk, after, threshold))
    return int(amount)


def _refuse(
    balance: int, tier: int | None, unit_price: int | None, table: PriceTable, channel: str, operator: str, units: int
) -> None:
    """The ORM path's refusals (``charging``): no lot, no price for the route, too little."""
    if tier is None:
        raise balance_empty()
    if unit_price is None:
        table.unit_price(tier, channel, operator)  # no price for this route at this tier: its own error
    raise balance_short(balance, unit_price * units)
