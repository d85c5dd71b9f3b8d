"""An SMPP bind's receipts: the thread that records them and answers ``deliver_sm_resp``.

The connection's reader thread hands each ``deliver_sm`` here (``put``) and goes
back to reading; this thread parses it, calls the injected ``on_report`` and
only then answers, so a crash before the answer makes the SMSC send the receipt
again rather than lose it. The answer is always given, even when the PDU is
malformed or ``on_report`` fails, so the SMSC does not send the same one
forever; the one error answer is a deferred report (``ReportDeferred``, the
database out of reach): ``ESME_RX_T_APPN``, "try again later".

Issue 11: receipts arrive about as fast as messages are sent, and recording each
in a transaction of its own made the bind wait for one commit (one WAL flush)
per receipt. When ``on_report`` offers ``many`` (``messaging.services.delivery``'s
``receipt_record`` does), the receipts waiting in the queue when the thread
looks (up to ``BATCH_MAX``) are recorded together, in one transaction, and all
answered after it commits; one receipt waiting is recorded as before.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from smpplib import consts, smpp

from messaging.providers.base import DeliveryReport, ReportCallback, ReportDeferred
from messaging.providers.smpp.codec import mask_receipt, report_from_deliver_sm
from messaging.providers.smpp.connection import NOSEQ

if TYPE_CHECKING:
    from messaging.providers.smpp.connection import Connection

logger = logging.getLogger("messaging.providers.smpp")

BATCH_MAX = 64  # receipts recorded in one transaction at most

# What ``on_report.many`` answers for each report, in order: an outcome, or the exception
# that kept it from being recorded (``ReportDeferred``: ask the SMSC to send it again).
ManyCallback = Callable[[Sequence[DeliveryReport]], list["str | BaseException"]]


@dataclass
class _Deliver:
    conn: Connection
    sequence: int
    raw: bytes
    report: DeliveryReport | None = None
    status: int = consts.SMPP_ESME_ROK


class ReceiptThread:
    """The receipts of one provider (one account's bind), recorded on a thread of their own."""

    def __init__(self, account_name: str, tz: ZoneInfo, on_report: ReportCallback | None) -> None:
        self.account_name = account_name
        self.tz = tz
        self.on_report = on_report
        self._queue: queue.Queue[_Deliver | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def put(self, conn: Connection, sequence: int, raw: bytes) -> None:
        """The reader's hand-over (``Connection(on_deliver=...)``)."""
        self._queue.put(_Deliver(conn, sequence, raw))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"smpp-{self.account_name}-reports", daemon=True)
            self._thread.start()

    def stop(self, timeout: float) -> None:
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = [first], False
            while len(batch) < BATCH_MAX:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._handle(batch)
            if stopping:
                return

    def _handle(self, batch: list[_Deliver]) -> None:
        try:
            for item in batch:
                item.report = self._parse(item.raw)
            self._record([item for item in batch if item.report is not None])
        except Exception:  # a bug here must not leave the SMSC without its answers
            logger.exception("SMPP %s: deliver_sm handling failed", self.account_name)
        finally:
            for item in batch:
                item.conn.respond("deliver_sm_resp", item.sequence, item.status)

    def _record(self, items: list[_Deliver]) -> None:
        if not items:
            return
        if self.on_report is None:
            for item in items:
                logger.warning(
                    "SMPP %s: receipt for %s (%s) on a bind without on_report: dropped",
                    self.account_name,
                    item.report.provider_message_id,  # type: ignore[union-attr]
                    item.report.state,  # type: ignore[union-attr]
                )
            return
        many: ManyCallback | None = getattr(self.on_report, "many", None)
        if many is not None and len(items) > 1:
            try:
                outcomes: list[str | BaseException] = many([item.report for item in items])  # type: ignore[misc]
            except Exception as exc:  # the whole batch: deferred (ReportDeferred) or failed alike
                outcomes = [exc] * len(items)
        else:
            outcomes = [self._one(item.report) for item in items]  # type: ignore[arg-type]
        for item, outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, ReportDeferred):
                logger.warning(
                    "SMPP %s: receipt deferred (%s); the SMSC will send it again", self.account_name, outcome
                )
                item.status = consts.SMPP_ESME_RX_T_APPN
            elif isinstance(outcome, BaseException):
                logger.error(
                    "SMPP %s: receipt for %s not recorded",
                    self.account_name,
                    item.report.provider_message_id,  # type: ignore[union-attr]
                    exc_info=outcome,
                )

    def _one(self, report: DeliveryReport) -> str | BaseException:
        try:
            self.on_report(report)  # type: ignore[misc]
        except Exception as exc:  # ReportDeferred included: _record answers accordingly
            return exc
        return "recorded"

    def _parse(self, raw: bytes) -> DeliveryReport | None:
        """The receipt in a ``deliver_sm`` (None: malformed, or not a receipt)."""
        try:
            pdu = smpp.parse_pdu(raw, client=NOSEQ, allow_unknown_opt_params=True)
        except Exception as exc:
            logger.warning(
                "SMPP %s: malformed deliver_sm (%s), header %s, body %r",
                self.account_name,
                exc,
                raw[:16].hex(),
                mask_receipt(raw[16:]),  # Review 8.12: never the text field, which can hold the code
            )
            return None
        report = report_from_deliver_sm(pdu, tz=self.tz)
        if report is None:
            return None
        return DeliveryReport(
            provider=report.provider,
            provider_message_id=report.provider_message_id,
            state=report.state,
            occurred_at=report.occurred_at,
            error_code=report.error_code,
            raw={**report.raw, "account": self.account_name},
        )
