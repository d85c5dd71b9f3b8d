"""Batches of the dispatch pipeline in SQL (issue 11): claiming ready messages together with
their history rows, and recording a batch's accepted messages.

Kept apart from ``dispatch`` (what a message's sending decides: retries, refusals, fallback)
because this is what changes with the database: on PostgreSQL a claim is one statement (the
task's own message, others ``FOR UPDATE SKIP LOCKED``, the history rows) and an accepted
batch one ``UPDATE … FROM (VALUES …)``; elsewhere (SQLite, ``make run``) a claim is one
message in a transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from messaging.models import Message, MessageStatusChange, ProviderReference
from messaging.providers.base import ProviderResult
from messaging.services.events import messages_event


def _ready(now: datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))


def batch_size() -> int:
    """How many messages one claim may take: only where the SMS provider sends in parallel
    (SMPP: one bind, several ``submit_sm`` outstanding) and the database skips locked rows."""
    size = max(1, settings.DISPATCH_BATCH)
    if size == 1 or settings.PROVIDER_SMS != "smpp" or not connection.features.has_select_for_update_skip_locked:
        return 1
    return size


def claim(message_id: str | None, now: datetime) -> list[Message]:
    """``message_id`` and (see ``_batch_size``) other ready live SMS, claimed together with
    their history rows (issue 14, drill 3: a database lost between the two used to leave a
    message 'sending', unsent; now the claim is undone and the message stays 'queued' for the
    outbox sweep). ``message_id`` comes first; [] when it was not claimable. Without a
    ``message_id`` (a drainer): a batch of ready live SMS."""
    size = batch_size()
    if message_id is None:
        ids = _claim_in_one_statement(None, now, size) if size > 1 else []
    elif size > 1 or connection.vendor == "postgresql":
        ids = _claim_in_one_statement(message_id, now, size - 1)
    else:
        ids = _claim_one(message_id, now)
    if not ids:
        return []
    by_id = Message.objects.select_related("verification", "customer").in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]


def _claim_one(message_id: str, now: datetime) -> list[str]:
    with transaction.atomic():
        claimed = Message.objects.filter(_ready(now), pk=message_id, status=Message.Status.QUEUED).update(
            status=Message.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        if not claimed:
            return []
        attempts = Message.objects.filter(pk=message_id).values_list("attempts", flat=True).get()
        MessageStatusChange.objects.create(
            message_id=message_id,
            old="queued",
            new="sending",
            reason=f"attempt {attempts}",
            actor="worker",
            created_at=now,
        )
    return [message_id]


def _claim_in_one_statement(message_id: str | None, now: datetime, others: int) -> list[str]:
    """PostgreSQL: the claim, the batch and the history rows in one statement, so the rows are
    locked for as long as the statement runs and no longer (issue 11: with the claim spread
    over a transaction of five statements, the tasks of a batch's messages spent a quarter of
    their time waiting on its row locks). The task's own message waits for a lock (another
    worker holding it decides its fate); the others are only taken when free (SKIP LOCKED)."""
    message = Message._meta.db_table
    history = MessageStatusChange._meta.db_table
    sql = f"""
        WITH own AS (
            SELECT id FROM {message}
            WHERE id = %(own)s AND status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= %(soon)s)
            FOR UPDATE
        ), others AS (
            SELECT id FROM {message}
            WHERE %(others)s > 0 AND (%(drain)s OR EXISTS (SELECT 1 FROM own)) AND id <> %(own)s
              AND status = 'queued' AND channel = 'sms' AND NOT is_test
              AND (next_attempt_at IS NULL OR next_attempt_at <= %(soon)s)
            ORDER BY created_at
            LIMIT %(others)s
            FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE {message} AS m
            SET status = 'sending', claimed_at = %(now)s, attempts = m.attempts + 1, updated_at = %(now)s
            FROM (SELECT id FROM own UNION ALL SELECT id FROM others) AS picked
            WHERE m.id = picked.id
            RETURNING m.id, m.attempts, m.created_at
        ), moves AS (
            INSERT INTO {history} (message_id, old, new, reason, actor, created_at)
            SELECT id, 'queued', 'sending', 'attempt ' || attempts, 'worker', %(now)s FROM claimed
        )
        SELECT id FROM claimed ORDER BY id <> %(own)s, created_at
    """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "own": message_id or "",
                "drain": message_id is None,
                "soon": now + timedelta(seconds=1),
                "now": now,
                "others": max(0, others),
            },
        )
        return [row[0] for row in cursor.fetchall()]


def reference_ids(result: ProviderResult) -> tuple[str, ...]:
    return result.part_ids or ((result.provider_message_id,) if result.provider_message_id else ())


def record_accepted(accepted: list[tuple[Message, str, ProviderResult]], now: datetime) -> set[str]:
    """One transaction: every accepted message still 'sending' moves to 'sent' (as
    ``transition`` does, history and event included). Returns the ids moved.

    The move is one ``UPDATE … FROM (VALUES …) RETURNING`` (batches exist on PostgreSQL only):
    Django's ``bulk_update`` builds a CASE per field and row, and compiling it took half of a
    dispatching worker's CPU (issue 11, profile of the dispatch case)."""
    table = Message._meta.db_table
    rows = ", ".join(["(%s::text, %s::text, %s::text, %s::integer)"] * len(accepted))
    params: list[object] = []
    for message, name, result in accepted:
        params += [message.pk, name, result.provider_message_id, 1 if result.submitted else 0]
    sql = f"""
        UPDATE {table} AS m
        SET status = 'sent', updated_at = %s, sent_at = %s, provider = v.provider,
            provider_message_id = v.provider_message_id, submits = m.submits + v.submitted
        FROM (VALUES {rows}) AS v(id, provider, provider_message_id, submitted)
        WHERE m.id = v.id AND m.status = 'sending'
        RETURNING m.id
    """  # noqa: S608 - the table name from the model, values as parameters
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, now, *params])
            moved = {row[0] for row in cursor.fetchall()}
        moved_rows = []
        for message, name, result in accepted:
            if message.pk not in moved:
                continue
            message.status = Message.Status.SENT
            message.updated_at = message.sent_at = now
            message.provider = name
            message.provider_message_id = result.provider_message_id
            message.submits += 1 if result.submitted else 0
            moved_rows.append(message)
        ProviderReference.objects.bulk_create(
            [
                ProviderReference(provider=name, provider_message_id=pid, message=message, part=i + 1)
                for message, name, result in accepted
                if message.pk in moved
                for i, pid in enumerate(reference_ids(result))
            ],
            ignore_conflicts=True,
        )
        if moved_rows:
            MessageStatusChange.objects.bulk_create(
                MessageStatusChange(
                    message=m,
                    old="sending",
                    new="sent",
                    reason="accepted by provider",
                    actor=m.provider,
                    created_at=now,
                )
                for m in moved_rows
            )
            messages_event(moved_rows)
    return moved
