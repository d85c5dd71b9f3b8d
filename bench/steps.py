"""The bench's steps that run inside the product: ``python -m bench.steps STEP JSON``.

Each step is a short-lived process started by ``bench/run.py`` with the
product's settings (``otpportal.settings``) and the bench's environment (its
own database, broker prefix, limits lifted). It prints one line
``BENCHRESULT {json}`` on stdout; everything else goes to stderr.

Data is made the way production makes it where that is cheap (the services:
``verification_start``, ``month_close``, the enqueue functions) and in bulk
where it is not (10,000 customers, 5,000,000 charges), with the rows the
services would write, checked afterwards with ``billing.services.reconcile``.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpportal.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import ApiKey, Customer  # noqa: E402
from accounts.selectors import hash_secret  # noqa: E402
from billing.models import (  # noqa: E402
    BillingAccount,
    Charge,
    DepositLot,
    Guarantee,
    Invoice,
    LedgerEntry,
)
from billing.pricing import jakarta_date, table_in_force  # noqa: E402
from billing.services.deposits import lot_create, lot_expiry  # noqa: E402
from billing.usage import month_bounds  # noqa: E402

STEPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
C1_ROWS = 1000
KEY_RANDOM_BYTES = 32  # as accounts.services.api_key_create
VISIBLE_PREFIX_CHARS = 8


def step(function: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    STEPS[function.__name__.replace("_", "-")] = function
    return function


def log(message: str) -> None:
    print(f"[steps {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def new_secret() -> str:
    return f"otp_live_{secrets.token_urlsafe(KEY_RANDOM_BYTES)}"


def live_key(customer: Customer, secret: str) -> ApiKey:
    """The row ``accounts.services.api_key_create`` writes, for a secret we keep."""
    return ApiKey(
        customer=customer,
        name="bench",
        mode=ApiKey.Mode.LIVE,
        prefix=secret[: len("otp_live_") + VISIBLE_PREFIX_CHARS],
        key_hash=hash_secret(secret),
    )


def valid_prefixes() -> list[str]:
    """National mobile prefixes (without the 0) whose numbers the send path accepts."""
    from messaging import phones

    good = []
    for prefix in phones.PREFIX_TABLE:
        try:
            phones.parse(f"+62{prefix[1:]}12345678", require_operator=True)
        except Exception:  # noqa: BLE001, S112 - a prefix the parser refuses is left out
            continue
        good.append(prefix[1:])
    return good


# --- HTTP cases: prepaid customers, C1's table ------------------------------------------


@step
def prepare(args: dict[str, Any]) -> dict[str, Any]:
    """C1's table; ``customers`` funded prepaid customers with live keys; the
    hot customer (``hot_lots`` lots); the number prefixes for the wrk scripts."""
    out = Path(args["dir"])
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_ceiling_item (id bigserial PRIMARY KEY, name varchar(40) NOT NULL, "
            "created_at timestamptz NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO bench_ceiling_item (name, created_at) SELECT 'item ' || g, now() FROM generate_series(1, %s) g",
            [C1_ROWS],
        )
        cursor.execute("ANALYZE bench_ceiling_item")
    (out / "prefixes.txt").write_text("\n".join(valid_prefixes()) + "\n")

    count, amount = int(args["customers"]), int(args["amount"])
    now = timezone.now()
    table = table_in_force(jakarta_date(now))
    with transaction.atomic():
        customers = Customer.objects.bulk_create(
            Customer(
                name=f"Bench Prepaid {i:05d}",
                slug=f"bench-prepaid-{i:05d}",
                billing_email=f"billing{i:05d}@bench.example",
                mode=Customer.Mode.PREPAID,
                created_at=now,
            )
            for i in range(count)
        )
        secrets_ = [new_secret() for _ in customers]
        keys = ApiKey.objects.bulk_create(live_key(c, s) for c, s in zip(customers, secrets_, strict=True))
        BillingAccount.objects.bulk_create(BillingAccount(customer=c) for c in customers)
        # The rows billing.services.lot_create writes for a top-up (R-PRE-1): a lot and its deposit entry.
        lots = DepositLot.objects.bulk_create(
            DepositLot(
                customer=c,
                amount=amount,
                remaining=amount,
                tier=table.prepaid_tier(amount),
                price_list_id=table.price_list_id,
                reference="bench-funding",
                created_at=now,
                expires_at=lot_expiry(now),
            )
            for c in customers
        )
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                customer_id=lot.customer_id,
                kind=LedgerEntry.Kind.DEPOSIT,
                amount=amount,
                lot=lot,
                reference=f"deposit:{lot.customer_id}:bench-funding",
                memo="Top-up bench-funding",
                created_at=now,
            )
            for lot in lots
        )
    with (out / "keys.tsv").open("w") as handle:
        for key, secret in zip(keys, secrets_, strict=True):
            handle.write(f"{secret}\t{key.pk}\t{key.customer_id}\n")
    (out / "keys.txt").write_text("".join(s + "\n" for s in secrets_))

    # The hot customer: topped up through the service, several lots (R-PRE-2's draw order).
    hot = Customer.objects.create(
        name="Bench Hot", slug="bench-hot", billing_email="hot@bench.example", mode=Customer.Mode.PREPAID
    )
    hot_secret = new_secret()
    hot_key = live_key(hot, hot_secret)
    hot_key.save()
    for n in range(int(args["hot_lots"])):
        lot_create(customer=hot, amount=int(args["hot_amount"]), reference=f"bench-hot-{n}")
    (out / "hot.txt").write_text(hot_secret + "\n")
    (out / "hot.tsv").write_text(f"{hot_secret}\t{hot_key.pk}\t{hot.pk}\n")

    from billing.services import reconcile

    mismatches = reconcile()
    if mismatches:
        raise SystemExit(f"the generated prepaid data does not reconcile: {mismatches[:3]}")
    return {"customers": count, "hot_customer": hot.pk, "seconds": round(time.monotonic() - started, 2)}


def _read_keys(path: str) -> list[tuple[str, int, int]]:
    rows = []
    for line in Path(path).read_text().splitlines():
        secret, key_id, customer_id = line.split("\t")
        rows.append((secret, int(key_id), int(customer_id)))
    return rows


def _numbers(count: int, salt: int) -> list[str]:
    prefixes = valid_prefixes()
    return [
        f"+62{prefixes[(i * 7 + salt) % len(prefixes)]}{(i * 2654435761 + salt * 97) % 100_000_000:08d}"
        for i in range(count)
    ]


@step
def check_setup(args: dict[str, Any]) -> dict[str, Any]:
    """``count`` pending verifications spread over the prepaid customers, each
    with a code we know (its HMAC is what ``verification_start`` stores)."""
    from messaging.crypto import code_hmac, make_code
    from messaging.models import Verification
    from otpportal.ids import new_id

    keys = _read_keys(args["keys"])
    count = int(args["count"])
    now = timezone.now()
    lines, rows = [], []
    numbers = _numbers(count, 17)
    from messaging import phones

    for i in range(count):
        secret, key_id, customer_id = keys[i % len(keys)]
        verification_id = new_id("ver")
        code = make_code(6)
        phone = phones.parse(numbers[i], require_operator=True)
        rows.append(
            Verification(
                id=verification_id,
                customer_id=customer_id,
                api_key_id=key_id,
                is_test=False,
                to=phone.e164,
                operator=phone.operator.value if phone.operator else "",
                channel="sms",
                fallback=[],
                locale="id",
                code_length=6,
                ttl=3600,
                code_hmacs=[code_hmac(verification_id, code)],
                sends=1,
                last_sent_at=now,
                expires_at=now + timedelta(seconds=3600),
                created_at=now,
                updated_at=now,
            )
        )
        lines.append(f"{secret} {verification_id} {code}\n")
    Verification.objects.bulk_create(rows, batch_size=5000)
    Path(args["out"]).write_text("".join(lines))
    return {"verifications": count}


@step
def hot_state(args: dict[str, Any]) -> dict[str, Any]:
    """The hot customer's money: funded, charged, left; and the whole ledger's reconciliation."""
    from django.db.models import Sum

    from billing.services import reconcile

    customer_id = int(args["customer"])
    lots = DepositLot.objects.filter(customer_id=customer_id).aggregate(
        funded=Sum("amount"), remaining=Sum("remaining")
    )
    charges = Charge.objects.filter(customer_id=customer_id, reversed_at__isnull=True).aggregate(
        n=Count("id"), amount=Sum("amount")
    )
    forfeited = (
        LedgerEntry.objects.filter(customer_id=customer_id, kind=LedgerEntry.Kind.FORFEITURE).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    mismatches = reconcile()
    return {
        "funded": lots["funded"] or 0,
        "remaining": lots["remaining"] or 0,
        "charges": charges["n"] or 0,
        "charged": charges["amount"] or 0,
        "forfeited": forfeited,
        "reconcile_mismatches": len(mismatches),
        "mismatch_sample": [m.customer_slug for m in mismatches[:5]],
    }


# --- Celery cases: C2 and dispatch -------------------------------------------------------


def _wait(done: Callable[[], bool], timeout: float, poll: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(poll)
    return done()


@step
def c2_run(args: dict[str, Any]) -> dict[str, Any]:
    """C2: ``count`` no-op tasks on the ``otp`` queue (where first dispatch
    attempts go), from the first enqueue until the last one ran."""
    import redis
    from celery import current_app

    from otpportal.celery import app  # noqa: F401 - configures current_app

    count = int(args["count"])
    client = redis.Redis.from_url(args["redis_url"])
    counter = args["counter"]
    client.delete(counter)
    signature = current_app.signature("bench.noop.noop", args=(args["redis_url"], counter))
    t0 = time.time()
    for _ in range(count):
        signature.apply_async(queue="otp")
    enqueued = time.time()
    done_at: list[float] = []

    def done() -> bool:
        if int(client.get(counter) or 0) >= count:
            done_at.append(time.time())
            return True
        return False

    finished = _wait(done, float(args["timeout"]), 0.01)
    ran = int(client.get(counter) or 0)
    client.delete(counter)
    elapsed = (done_at[0] if done_at else time.time()) - t0
    return {
        "tasks": count,
        "ran": ran,
        "finished": finished,
        "enqueue_seconds": round(enqueued - t0, 3),
        "seconds": round(elapsed, 3),
        "per_second": round(ran / elapsed, 1) if elapsed > 0 else 0,
    }


@step
def dispatch_create(args: dict[str, Any]) -> dict[str, Any]:
    """``count`` verification SMS through ``messaging.services.verification_start``
    (live keys, charged, queued; valid for an hour, the longest ``ttl``: a
    message whose verification has expired is not sent). Run with a broker
    prefix no worker reads: the timed run enqueues them itself."""
    from messaging.models import Message
    from messaging.services import verification_start

    # The HTTP cases leave their messages queued: their tasks went to a broker prefix that no
    # worker reads. A drainer takes whatever is ready in the outbox, so they would go out with
    # this case's messages and be counted against it; they are closed here (as messages nobody
    # dispatched), and the case measures its own.
    leftovers = Message.objects.filter(status=Message.Status.QUEUED).update(
        status=Message.Status.FAILED, error_code="bench_not_dispatched", sealed=""
    )
    keys = _read_keys(args["keys"])
    api_keys = {k.pk: k for k in ApiKey.objects.select_related("customer").filter(pk__in=[k[1] for k in keys])}
    count = int(args["count"])
    numbers = _numbers(count, 29)
    ids = []
    started = time.monotonic()
    for i in range(count):
        _secret, key_id, _customer = keys[i % len(keys)]
        _verification, message = verification_start(
            api_key=api_keys[key_id], to=numbers[i], reference=args["reference"], ttl=3600
        )
        ids.append(message.id)
    Path(args["out"]).write_text("\n".join(ids) + "\n")
    return {"messages": count, "seconds": round(time.monotonic() - started, 2), "leftovers_closed": leftovers}


@step
def dispatch_run(args: dict[str, Any]) -> dict[str, Any]:
    """Enqueue the queued messages as the send path does
    (``messaging.queueing.enqueue_dispatch``) and wait until every one is final."""
    from messaging.models import Message
    from messaging.queueing import enqueue_dispatch

    ids = Path(args["ids"]).read_text().split()
    final = sorted(Message.FINAL)
    states: dict[str, int] = {}
    done_at: list[float] = []

    # The poll must not compete with what it measures: one GROUP BY over the run's messages
    # (found by their verifications' reference), not a query of 5,000 ids built in Python 20
    # times a second (that took a third of a CPU from the workers).
    ours = Message.objects.filter(verification__reference=args.get("reference", "bench-dispatch"))
    if ours.count() != len(ids):
        ours = Message.objects.filter(id__in=ids)

    def done() -> bool:
        rows = ours.values("status").annotate(n=Count("id")).order_by()
        states.clear()
        states.update({row["status"]: row["n"] for row in rows})
        if sum(states.get(s, 0) for s in final) >= len(ids):
            done_at.append(time.time())
            return True
        return False

    # The set-up's sends woke drainers on a broker prefix nobody reads, and their "awake" marks
    # live WAKE_TTL seconds: an enqueue within that time would take the slot for awake and
    # publish nothing, and with no later send the messages would wait for the outbox sweep
    # (not run here). Seen once, when this step started within 5 s of the set-up's last send.
    from messaging.limits import redis_client
    from messaging.queueing import drainers, wake_key

    client = redis_client()
    if client is not None and drainers():
        client.delete(*[wake_key(slot) for slot in range(drainers())])

    t0 = time.time()
    for message_id in ids:
        enqueue_dispatch(message_id, first=True, batchable=True)  # live SMS, as sending.py says
    enqueued = time.time()
    finished = _wait(done, float(args["timeout"]), 0.2)
    delivered = states.get("delivered", 0)
    elapsed = (done_at[0] if done_at else time.time()) - t0
    return {
        "messages": len(ids),
        "finished": finished,
        "states": states,
        "delivered": delivered,
        "enqueue_seconds": round(enqueued - t0, 3),
        "seconds": round(elapsed, 3),
        "per_second": round(delivered / elapsed, 1) if elapsed > 0 else 0,
    }


# --- Month end ----------------------------------------------------------------------------


def _routes(table: Any) -> list[tuple[str, str, str, int, int]]:
    """(channel, operator, national prefix, units, tier-1 unit price), repeated by weight."""
    weighted = [
        ("sms", "telkomsel", "812", 1, 5),
        ("sms", "telkomsel", "813", 2, 1),
        ("sms", "indosat", "856", 1, 2),
        ("sms", "xl", "817", 1, 2),
        ("sms", "three", "896", 1, 1),
        ("sms", "smartfren", "881", 1, 1),
        ("wa", "", "812", 1, 1),
        ("wa_official", "", "857", 1, 1),
    ]
    routes = []
    for channel, operator, prefix, units, weight in weighted:
        price = table.unit_price(1, channel, operator)
        routes += [(channel, operator, prefix, units, price)] * weight
    return routes


def _load_faster(cursor: Any) -> list[str]:
    """Inside the loading transaction: drop billing_charge's unique constraint
    and secondary indexes (rebuilt afterwards by the statements returned) and,
    as a superuser, skip the foreign-key triggers for this transaction (the
    rows reference customers and a price list the same statement joins)."""
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if cursor.fetchone()[0]:
        cursor.execute("SET LOCAL session_replication_role = replica")
    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'billing_charge'::regclass AND contype = 'u'"
    )
    uniques = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = 'billing_charge' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = 'billing_charge'::regclass)"
    )
    indexes = cursor.fetchall()
    for name, _definition in uniques:
        cursor.execute(f'ALTER TABLE billing_charge DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in indexes] + [
        f'ALTER TABLE billing_charge ADD CONSTRAINT "{name}" {definition}' for name, definition in uniques
    ]


@step
def month_data(args: dict[str, Any]) -> dict[str, Any]:
    """``customers`` postpaid customers holding their guarantee (R-POST-1) and
    ``rows`` charges in ``period`` (``heavy_rows`` of them the first
    customer's), written with one ``INSERT … SELECT generate_series``."""
    period = date.fromisoformat(args["period"])
    start, end = month_bounds(period)
    count, rows, heavy_rows = int(args["customers"]), int(args["rows"]), int(args["heavy_rows"])
    guarantee = int(args["guarantee"])
    at = start - timedelta(days=20)
    table = table_in_force(jakarta_date(start))
    t0 = time.monotonic()
    with transaction.atomic():
        customers = Customer.objects.bulk_create(
            Customer(
                name=f"Bench Postpaid {i:04d}",
                slug=f"bench-postpaid-{i:04d}",
                legal_name=f"PT Bench Postpaid {i:04d}",
                npwp="01.234.567.8-901.000",
                postal_address="Jl. Jenderal Sudirman Kav. 52\nJakarta Selatan 12190",
                billing_email=f"finance{i:04d}@bench.example",
                mode=Customer.Mode.POSTPAID,
                created_at=at,
            )
            for i in range(count)
        )
        BillingAccount.objects.bulk_create(BillingAccount(customer=c) for c in customers)
        # The rows billing.services.guarantee_deposit writes (R-POST-1): the guarantee and its ledger entry.
        Guarantee.objects.bulk_create(
            Guarantee(customer=c, held=guarantee, cap_percent=1000, activated_at=at, created_at=at) for c in customers
        )
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                customer=c,
                book=LedgerEntry.Book.GUARANTEE,
                kind=LedgerEntry.Kind.GUARANTEE,
                amount=guarantee,
                reference=f"guarantee:{c.pk}:bench",
                memo="Guarantee deposit bench",
                created_at=at,
            )
            for c in customers
        )
        heavy, small = customers[0], customers[1]
        heavy_secret, small_secret = new_secret(), new_secret()
        ApiKey.objects.bulk_create([live_key(heavy, heavy_secret), live_key(small, small_secret)])
    customers_seconds = time.monotonic() - t0

    routes = _routes(table)
    t1 = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_routes (idx int, channel text, operator text, prefix text, units int, price int)"
        )
        cursor.executemany(
            "INSERT INTO bench_routes VALUES (%s, %s, %s, %s, %s, %s)",
            [(i, *route) for i, route in enumerate(routes)],
        )
        cursor.execute("CREATE TEMP TABLE bench_customers (idx int PRIMARY KEY, customer_id bigint)")
        cursor.executemany("INSERT INTO bench_customers VALUES (%s, %s)", [(i, c.pk) for i, c in enumerate(customers)])
        cursor.execute("ANALYZE bench_routes")
        cursor.execute("ANALYZE bench_customers")
        rebuild = _load_faster(cursor)
        cursor.execute(
            """
            INSERT INTO billing_charge (customer_id, reference, mode, channel, operator, phone, units, tier,
                                        unit_price, amount, price_list_id, created_at, reversed_at, reversal_reason)
            SELECT c.customer_id,
                   'bench-' || g,
                   'postpaid',
                   r.channel,
                   r.operator,
                   '+62' || r.prefix || lpad(((g::bigint * 2654435761) %% 100000000)::text, 8, '0'),
                   r.units,
                   1,
                   r.price,
                   r.price * r.units,
                   %(price_list)s,
                   %(start)s::timestamptz + ((g::bigint * 7919) %% %(span)s) * interval '1 millisecond',
                   NULL,
                   ''
              FROM generate_series(1, %(rows)s) AS g
              JOIN bench_routes r ON r.idx = g %% %(routes)s
              JOIN bench_customers c
                ON c.idx = CASE WHEN g <= %(heavy)s THEN 0 ELSE 1 + (g %% %(others)s) END
            """,
            {
                "price_list": table.price_list_id,
                "start": start,
                "span": int((end - start).total_seconds() * 1000),
                "rows": rows,
                "routes": len(routes),
                "heavy": heavy_rows,
                "others": max(1, count - 1),
            },
        )
        inserted = cursor.rowcount
        for statement in rebuild:
            cursor.execute(statement)
    insert_seconds = time.monotonic() - t1
    t2 = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) billing_charge")
    vacuum_seconds = time.monotonic() - t2
    out = Path(args["dir"])
    (out / "month.json").write_text(
        json.dumps(
            {
                "heavy_customer": heavy.pk,
                "heavy_key": heavy_secret,
                "small_customer": small.pk,
                "small_key": small_secret,
                "period": period.isoformat(),
            }
        )
    )
    return {
        "customers": count,
        "charges": inserted,
        "heavy_rows": heavy_rows,
        "customers_seconds": round(customers_seconds, 2),
        "insert_seconds": round(insert_seconds, 2),
        "vacuum_seconds": round(vacuum_seconds, 2),
    }


def _median_of(repeats: int, run: Callable[[], Any]) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


@step
def c3(args: dict[str, Any]) -> dict[str, Any]:
    """C3 in raw SQL on the bench's data: the month's ``GROUP BY`` (what an
    invoice run needs per customer, channel, operator and price list) and
    ``COPY … TO STDOUT CSV`` of one customer's rows of the month."""
    import psycopg

    period = date.fromisoformat(args["period"])
    start, end = month_bounds(period)
    repeats = int(args.get("repeats", 3))
    result: dict[str, Any] = {}
    with psycopg.connect(args["database_url"], autocommit=True) as conn:
        if "group_by" in args["which"]:

            def group_by() -> int:
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT customer_id, channel, operator, price_list_id, SUM(units) FROM billing_charge "
                        "WHERE mode = 'postpaid' AND created_at >= %s AND created_at < %s AND reversed_at IS NULL "
                        "GROUP BY 1, 2, 3, 4",
                        [start, end],
                    )
                    return len(cur.fetchall())

            median, times, groups = _median_of(repeats, group_by)
            result["group_by"] = {"seconds": round(median, 4), "runs": [round(t, 4) for t in times], "groups": groups}
        if "copy" in args["which"]:

            def copy() -> tuple[int, int]:
                size = lines = 0
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        "COPY (SELECT created_at, phone, channel, operator, units, unit_price, amount, reference "
                        "FROM billing_charge WHERE customer_id = %s AND mode = 'postpaid' "
                        "AND created_at >= %s AND created_at < %s ORDER BY created_at, id) "
                        "TO STDOUT (FORMAT csv, HEADER)",
                        [int(args["customer"]), start, end],
                    ) as stream,
                ):
                    for block in stream:
                        size += len(block)
                        lines += bytes(block).count(b"\n")
                return size, lines

            median, times, (size, lines) = _median_of(repeats, copy)
            result["copy"] = {
                "seconds": round(median, 4),
                "runs": [round(t, 4) for t in times],
                "bytes": size,
                "rows": lines - 1,
            }
    return result


@step
def month_close(args: dict[str, Any]) -> dict[str, Any]:
    """``billing.services.month_close`` for the period, timed (its invoice
    enqueues go to the broker prefix this step runs with). The aggregation
    alone is timed first, for information."""
    from billing.services import invoicing
    from billing.services import month_close as close

    period = date.fromisoformat(args["period"])
    aggregate_seconds = None
    if hasattr(invoicing, "_aggregate") and args.get("time_aggregate", True):
        t0 = time.perf_counter()
        invoicing._aggregate(period)
        aggregate_seconds = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    summary = close(month=period)
    seconds = time.perf_counter() - t0
    month = json.loads((Path(args["dir"]) / "month.json").read_text())
    heavy = Invoice.objects.filter(
        customer_id=month["heavy_customer"], period=period, kind=Invoice.Kind.INVOICE
    ).first()
    small = Invoice.objects.filter(
        customer_id=month["small_customer"], period=period, kind=Invoice.Kind.INVOICE
    ).first()
    month.update(heavy_invoice=heavy.number if heavy else None, small_invoice=small.number if small else None)
    (Path(args["dir"]) / "month.json").write_text(json.dumps(month))
    return {
        "issued": summary.issued,
        "skipped": summary.skipped,
        "customers": summary.customers,
        "seconds": round(seconds, 3),
        "aggregate_seconds": aggregate_seconds,
        "heavy_invoice": month["heavy_invoice"],
        "heavy_invoice_units": heavy.units if heavy else None,
    }


@step
def docs_run(args: dict[str, Any]) -> dict[str, Any]:
    """Enqueue every invoice of the period as ``month_close`` does after commit
    (``billing.notifications.invoice_issued``: render and store the PDF,
    email it with the CSV) and wait until each one is emailed."""
    from billing import notifications

    period = date.fromisoformat(args["period"])
    invoices = Invoice.objects.filter(period=period, kind=Invoice.Kind.INVOICE)
    ids = list(invoices.values_list("pk", flat=True))
    done_at: list[float] = []
    progress = {"emailed": 0, "mails": 0}
    sink = Path(args["smtp_stats"])

    def mails() -> int:
        try:
            return int(json.loads(sink.read_text())["messages"])
        except (OSError, ValueError, KeyError):
            return 0

    mails_before = mails()

    def done() -> bool:
        # invoice_send marks the invoice emailed before it talks to the mail server:
        # done when every invoice is marked and the sink has received every mail.
        progress["emailed"] = invoices.filter(emailed_at__isnull=False).count()
        progress["mails"] = mails() - mails_before
        if progress["emailed"] >= len(ids) and progress["mails"] >= len(ids):
            done_at.append(time.time())
            return True
        return False

    t0 = time.time()
    for invoice_id in ids:
        notifications.invoice_issued(invoice_id)
    enqueued = time.time()
    finished = _wait(done, float(args["timeout"]), 0.25)
    elapsed = (done_at[0] if done_at else time.time()) - t0
    return {
        "invoices": len(ids),
        "emailed": progress["emailed"],
        "mails_received": progress["mails"],
        "with_pdf": invoices.exclude(pdf="").count(),
        "finished": finished,
        "enqueue_seconds": round(enqueued - t0, 3),
        "seconds": round(elapsed, 2),
    }


@step
def period(args: dict[str, Any]) -> dict[str, Any]:
    """The month that ``close_month`` would invoice today (the previous Jakarta month)."""
    from billing.usage import previous_month

    return {"period": previous_month(jakarta_date(timezone.now())).isoformat()}


def main() -> None:
    name, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
    if name not in STEPS:
        raise SystemExit(f"unknown step {name!r}; one of {sorted(STEPS)}")
    result = STEPS[name](json.loads(raw))
    print("BENCHRESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
