"""Delivery reports (architecture flow 3): SMPP receipts, WhatsApp callbacks and
the sandbox's report move a message forward, de-duplicated, once.

A report can overtake the worker's record of the provider's id: an SMSC may
send the receipt before its ``submit_sm_resp``. Such a report is kept as a
``PendingReport`` and applied as soon as the id is known. Review 8.16: the
worker used to look for pending reports once, possibly before the receipt's
row was committed, and the report was then never applied. Now both sides
write first and look second, each in its own committed transaction:

* the receipt side commits its ``PendingReport``, then looks for the id;
* the worker commits its ``ProviderReference`` rows, then looks for pending
  reports (``pending_reports_apply``).

Under READ COMMITTED at least one of the two looks sees the other's row, and
whichever deletes the ``PendingReport`` first applies it (the other finds it
gone). The outbox sweep applies whatever is left whose id now exists
(``pending_reports_sweep``), should a process die between the two steps.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from messaging.models import Message, PendingReport, ProviderReference
from messaging.providers.base import DeliveryReport, DeliveryState, ReportDeferred
from messaging.services.lifecycle import RANK, fall_back, reverse_charge, transition
from otpportal.rowsql import Column, FirstInstance, update_row

logger = logging.getLogger(__name__)

_STATE_TO_STATUS = {
    DeliveryState.SENT: Message.Status.SENT,
    DeliveryState.DELIVERED: Message.Status.DELIVERED,
    DeliveryState.UNDELIVERED: Message.Status.UNDELIVERED,
    DeliveryState.FAILED: Message.Status.UNDELIVERED,
}


# Issue 11: a receipt is several statements; the two run for every one of them are compiled
# once (otpportal.rowsql), the same SQL the ORM wrote for them. The row locks are unchanged.
_locked_reference = FirstInstance(
    lambda provider, provider_message_id: (
        ProviderReference.objects.select_for_update()
        .filter(provider=provider, provider_message_id=provider_message_id)
        .order_by("pk")
    ),
    provider="~provider~",
    provider_message_id="~provider-message-id~",
)
_reference_states = Column(
    lambda message_id: ProviderReference.objects.filter(message_id=message_id).values_list("state", flat=True),
    message_id="~message-id~",
)


def delivery_record(report: DeliveryReport) -> str:
    """Apply one receipt/callback: de-duplicated, forward-only, never twice.

    Returns "applied", "ignored" (duplicate, stale or out of order) or
    "pending" (the message has not recorded this provider id yet: kept, and
    applied when it has; see the module's docstring).
    """
    with transaction.atomic():
        result = _record_for_reference(report)
    if result is not None:
        return result
    pending = PendingReport.objects.create(
        provider=report.provider,
        provider_message_id=report.provider_message_id,
        state=report.state,
        error_code=report.error_code[:40],
        occurred_at=report.occurred_at,
    )
    # Committed: now look again, the worker may have committed the id meanwhile (Review 8.16).
    if ProviderReference.objects.filter(
        provider=report.provider, provider_message_id=report.provider_message_id
    ).exists():
        return _pending_apply(pending.pk) or "applied"  # None: the worker applied it first
    logger.info("receipt for unknown %s id %s kept pending", report.provider, report.provider_message_id)
    return "pending"


class ReceiptRecorder:
    """``on_report`` for a provider's own receipt thread (an SMPP bind).

    Called with one report: ``delivery_record``, then drop database connections that
    broke or aged, since a long-lived thread has no request cycle to do it. Exceptions
    go to the provider, which logs them; an unreachable database is ``ReportDeferred``,
    so the provider asks the SMSC to send the receipt again rather than acknowledge one
    that was not recorded (issue 14, drill 3).

    ``many`` (issue 11): the receipts that were waiting together, in one transaction,
    so the bind waits for one commit instead of one per receipt. Each is applied as
    ``delivery_record`` applies it (the same locks, forward-only, never twice); one whose
    provider id is not known yet takes ``delivery_record``'s own way afterwards (kept
    pending, looked for again), each in its own transaction as that protocol needs. If
    the transaction fails (a deadlock with another bind, a bad receipt), nothing of it
    is kept and the receipts are recorded one by one, so one receipt's error is its own.
    Returns, per report, its outcome or the exception that kept it from being recorded.
    """

    def __call__(self, report: DeliveryReport) -> str:
        try:
            return self._record(report)
        finally:
            close_old_connections()

    def many(self, reports: Sequence[DeliveryReport]) -> list[str | BaseException]:
        try:
            try:
                with transaction.atomic():
                    found = [_record_for_reference(report) for report in reports]
            except Exception as exc:  # noqa: BLE001 - rolled back whole: each one again on its own
                logger.warning("%d receipts could not be recorded together; one by one", len(reports), exc_info=True)
                if isinstance(exc, (OperationalError, InterfaceError)):
                    close_old_connections()  # a broken connection is replaced before the retries
                return [self._outcome(report) for report in reports]
            return [
                self._outcome(report) if result is None else result
                for report, result in zip(reports, found, strict=True)
            ]
        finally:
            close_old_connections()

    @staticmethod
    def _record(report: DeliveryReport) -> str:
        try:
            return delivery_record(report)
        except (OperationalError, InterfaceError) as exc:
            raise ReportDeferred(f"{type(exc).__name__}: {exc}"[:200]) from exc

    def _outcome(self, report: DeliveryReport) -> str | BaseException:
        try:
            return self._record(report)
        except Exception as exc:  # noqa: BLE001 - handed to the provider, which logs it and answers
            return exc


receipt_record = ReceiptRecorder()


def _record_for_reference(report: DeliveryReport) -> str | None:
    """Apply ``report`` to the message holding its provider id; None when no message does yet.
    Call inside a transaction."""
    ref = _locked_reference.get(provider=report.provider, provider_message_id=report.provider_message_id)
    if ref is None:
        return None
    new_status = _STATE_TO_STATUS[report.state]
    if ref.state and RANK[new_status] <= RANK[ref.state]:
        return "ignored"
    ref.state = new_status
    update_row(ProviderReference, ref.pk, {"state": new_status})
    message = Message.objects.select_for_update(of=("self",)).select_related("verification").get(pk=ref.message_id)
    now = timezone.now()
    if new_status == Message.Status.SENT:
        return "ignored" if message.status != Message.Status.SENDING else _apply(message, new_status, report, now)
    states = _reference_states.get(message_id=message.pk)
    if new_status == Message.Status.DELIVERED and any(s != Message.Status.DELIVERED for s in states):
        return "applied"  # wait for every part
    return _apply(message, new_status, report, now)


def delivered_at(message: Message, report: DeliveryReport, now: datetime) -> datetime:
    """When the report says it was delivered, within sense (Review 8.15): never before the
    message was sent (an SMSC's ``done date`` has minute precision and its own clock), never
    after now; no time at all means now."""
    when = report.occurred_at or now
    floor = message.sent_at or message.created_at
    if when < floor:
        logger.info("message %s: report time %s precedes sending; taken as %s", message.id, when, floor)
        when = floor
    return min(when, now)


def _apply(message: Message, status: str, report: DeliveryReport, now: datetime) -> str:
    if message.status == Message.Status.SENDING and status != Message.Status.SENT:
        # A receipt overtook our own record of the acceptance.
        transition(
            message,
            Message.Status.SENT,
            reason="accepted (implied by receipt)",
            actor=report.provider,
            now=now,
            sent_at=now,
        )
    fields: dict[str, object] = {}
    if status == Message.Status.DELIVERED:
        fields = {"delivered_at": delivered_at(message, report, now), "sealed": ""}
    elif status == Message.Status.UNDELIVERED:
        fields = {"error_code": report.error_code[:40]}
    if not transition(
        message,
        status,
        reason=f"{report.provider} report {report.state} {report.error_code}".strip(),
        actor=report.provider,
        now=now,
        **fields,
    ):
        return "ignored"
    if status == Message.Status.UNDELIVERED:
        if settings.REFUND_UNDELIVERED:  # R-PRE-4 policy, default off
            reverse_charge(message, reason="undelivered (REFUND_UNDELIVERED)", now=now)
        transaction.on_commit(lambda: fall_back(message, timezone.now()))
    return "applied"


def _pending_apply(pk: int) -> str | None:
    """Apply one kept report if its id is known now. None when another process took the row
    first; "pending" (row kept) when the id is still unknown."""
    with transaction.atomic():
        row = PendingReport.objects.filter(pk=pk).first()
        if row is None or not PendingReport.objects.filter(pk=pk).delete()[0]:
            return None  # the other side deleted it first, and applies it
        result = _record_for_reference(
            DeliveryReport(
                provider=row.provider,
                provider_message_id=row.provider_message_id,
                state=DeliveryState(row.state),
                occurred_at=row.occurred_at,
                error_code=row.error_code,
            )
        )
        if result is None:
            transaction.set_rollback(True)  # keep the row for later
            return "pending"
        return result


def pending_reports_apply(*, provider: str, ids: tuple[str, ...] | list[str]) -> int:
    """After the worker committed ``ids``: apply the reports that overtook them. Returns how many."""
    pks = PendingReport.objects.filter(provider=provider, provider_message_id__in=list(ids)).order_by("id")
    return sum(1 for pk in pks.values_list("pk", flat=True) if _pending_apply(pk) not in (None, "pending"))


def pending_reports_sweep(*, batch: int = 500) -> int:
    """The outbox sweep's safety net: apply kept reports whose id is known by now."""
    known = ProviderReference.objects.filter(
        provider=OuterRef("provider"), provider_message_id=OuterRef("provider_message_id")
    )
    pks = list(PendingReport.objects.filter(Exists(known)).order_by("id").values_list("pk", flat=True)[:batch])
    return sum(1 for pk in pks if _pending_apply(pk) not in (None, "pending"))
