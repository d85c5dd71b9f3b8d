"""Receipts recorded together (issue 11): an SMPP bind's receipt thread takes the receipts
waiting in its queue at once and records them in one transaction
(``ReceiptThread`` + ``ReceiptRecorder.many``), each applied exactly as one by one,
each answered after the commit, one receipt's failure its own."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

import pytest
from django.db import OperationalError
from smpplib import consts

from devservers.smsc import SmscServer
from messaging import services
from messaging.models import Message, MessageStatusChange, PendingReport
from messaging.providers.base import DeliveryReport, DeliveryState, Outcome, ProviderResult, ReportDeferred
from messaging.providers.smpp import SmppAccount, SmppProvider
from messaging.services.delivery import ReceiptRecorder, receipt_record
from tests.conftest import Cast
from tests.helpers import wait_for
from tests.messaging.helpers import Scripted, queue_verification

WAIT = 5.0


def _report(provider_id: str, state: DeliveryState = DeliveryState.DELIVERED) -> DeliveryReport:
    return DeliveryReport(provider="scripted", provider_message_id=provider_id, state=state)


def _sent(cast: Cast, count: int) -> list[Message]:
    """``count`` messages handed to the scripted provider (ids p1, p2, …), status ``sent``."""
    messages = []
    for _ in range(count):
        message = queue_verification(cast)
        assert services.message_dispatch(message_id=message.id) == "sent"
        messages.append(message)
    return messages


def _status(message: Message) -> str:
    message.refresh_from_db()
    return message.status


# --- ReceiptRecorder.many: the same result as one by one ----------------------------------------


@pytest.mark.django_db(transaction=True)  # the recorder closes its connection, as on the bind's thread
def test_receipts_together_are_applied_as_one_by_one(
    funded: Cast,
    scripted: Scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    first, second, third = _sent(funded, 3)
    scripted.results = [ProviderResult(Outcome.ACCEPTED, provider_message_id="a1", part_ids=("a1", "a2"))]
    (parts,) = _sent(funded, 1)
    batch = [
        _report("p1"),
        _report("p2", DeliveryState.UNDELIVERED),
        _report("p1"),  # a duplicate within the batch
        _report("a1"),
        _report("a2"),  # the last part: the message is delivered
        _report("nobody"),  # an id no message has yet: kept pending
        _report("p3", DeliveryState.SENT),  # "sent" again: nothing to do
    ]
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = receipt_record.many(batch)
    assert outcomes == ["applied", "applied", "ignored", "applied", "applied", "pending", "ignored"]
    assert [_status(m) for m in (first, second, third, parts)] == ["delivered", "undelivered", "sent", "delivered"]
    assert MessageStatusChange.objects.filter(message=first, new="delivered").count() == 1
    assert list(PendingReport.objects.values_list("provider_message_id", flat=True)) == ["nobody"]


@pytest.mark.django_db(transaction=True)  # the recorder closes its connection, as on the bind's thread
def test_a_receipt_that_fails_is_its_own_failure(
    funded: Cast,
    scripted: Scripted,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, third = _sent(funded, 3)
    from messaging.services import delivery

    real = delivery._record_for_reference

    def broken_for_p2(report: DeliveryReport) -> str | None:
        if report.provider_message_id == "p2":
            raise RuntimeError("a receipt this code cannot apply")
        return real(report)

    monkeypatch.setattr(delivery, "_record_for_reference", broken_for_p2)
    outcomes = receipt_record.many([_report("p1"), _report("p2"), _report("p3")])
    assert outcomes[0] == "applied" and outcomes[2] == "applied"
    assert isinstance(outcomes[1], RuntimeError)
    assert [_status(m) for m in (first, second, third)] == ["delivered", "sent", "delivered"]
    assert MessageStatusChange.objects.filter(message=first, new="delivered").count() == 1  # once, not twice


@pytest.mark.django_db(transaction=True)  # the recorder closes its connection, as on the bind's thread
def test_the_database_out_of_reach_defers_every_receipt(
    funded: Cast,
    scripted: Scripted,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = _sent(funded, 2)
    from messaging.services import delivery

    def gone(report: DeliveryReport) -> str | None:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(delivery, "_record_for_reference", gone)
    outcomes = receipt_record.many([_report("p1"), _report("p2")])
    assert all(isinstance(outcome, ReportDeferred) for outcome in outcomes)
    assert [_status(m) for m in (first, second)] == ["sent", "sent"]


# --- the bind's receipt thread: what waits is taken together, answered after ---------------------


class Recorder:
    """An ``on_report`` with ``many``: the first single call waits for ``release`` (so that
    the next receipts queue up behind it); ``answers`` scripts what ``many`` says per id."""

    def __init__(self) -> None:
        self.singles: list[str] = []
        self.batches: list[list[str]] = []
        self.answers: dict[str, str | BaseException] = {}
        self.release = threading.Event()
        self.acked_at_many: set[str] | None = None
        self.smsc: SmscServer | None = None

    def __call__(self, report: DeliveryReport) -> str:
        self.singles.append(report.provider_message_id)
        assert self.release.wait(WAIT)
        return "applied"

    def many(self, reports: Sequence[DeliveryReport]) -> list[str | BaseException]:
        assert self.smsc is not None
        self.acked_at_many = {ack.message_id for ack in self.smsc.acks}
        self.batches.append([r.provider_message_id for r in reports])
        return [self.answers.get(r.provider_message_id, "applied") for r in reports]


@contextlib.contextmanager
def _bound(smsc: SmscServer, on_report: object) -> Iterator[SmppProvider]:
    """A transceiver bind to the local SMSC whose receipts go to ``on_report``."""
    account = SmppAccount.from_url(f"smpp://otp:secret@127.0.0.1:{smsc.port}/?name=main&tps=0")
    provider = SmppProvider(account, on_report=on_report, mode="transceiver")  # type: ignore[arg-type]
    try:
        assert provider.connect()
        yield provider
    finally:
        provider.close()


def test_waiting_receipts_are_recorded_together_and_answered_after(smsc: SmscServer) -> None:
    recorder = Recorder()
    recorder.smsc = smsc
    recorder.answers = {"x3": ReportDeferred("database out of reach"), "x4": RuntimeError("a bug")}
    with _bound(smsc, recorder) as provider:
        held = smsc.send_receipt("x0")
        assert wait_for(lambda: recorder.singles == ["x0"], timeout=WAIT, interval=0.01)
        sequences = {f"x{i}": smsc.send_receipt(f"x{i}") for i in range(1, 6)}
        malformed = smsc.send_malformed_receipt(kind="text")
        # All six are in the bind's queue behind the held one (the reader hands them over at once).
        assert wait_for(lambda: provider._receipts._queue.qsize() == 6, timeout=WAIT, interval=0.01)
        assert smsc.acks == []  # nothing answered while the first is being recorded
        recorder.release.set()
        assert smsc.wait_for_ack(held, WAIT).status == consts.SMPP_ESME_ROK
        acks = {name: smsc.wait_for_ack(sequence, WAIT) for name, sequence in sequences.items()}
        assert smsc.wait_for_ack(malformed, WAIT).status == consts.SMPP_ESME_ROK  # answered, never recorded
    assert recorder.batches == [["x1", "x2", "x3", "x4", "x5"]]  # one call for the five
    assert recorder.singles == ["x0"]
    assert recorder.acked_at_many <= {"x0"}  # none of the batch was answered before it was recorded
    assert {name: ack.status for name, ack in acks.items()} == {
        "x1": consts.SMPP_ESME_ROK,
        "x2": consts.SMPP_ESME_ROK,
        "x3": consts.SMPP_ESME_RX_T_APPN,  # deferred: the SMSC sends it again later
        "x4": consts.SMPP_ESME_ROK,  # failed in our code: answered, logged, not retried forever
        "x5": consts.SMPP_ESME_ROK,
    }


def test_a_recorder_without_many_gets_the_waiting_receipts_one_by_one(smsc: SmscServer) -> None:
    seen: list[str] = []
    release = threading.Event()

    def one(report: DeliveryReport) -> None:
        seen.append(report.provider_message_id)
        assert release.wait(WAIT)

    with _bound(smsc, one) as provider:
        smsc.send_receipt("y0")
        assert wait_for(lambda: seen == ["y0"], timeout=WAIT, interval=0.01)
        later = [smsc.send_receipt(f"y{i}") for i in range(1, 4)]
        assert wait_for(lambda: provider._receipts._queue.qsize() == 3, timeout=WAIT, interval=0.01)
        release.set()
        assert all(smsc.wait_for_ack(sequence, WAIT).status == consts.SMPP_ESME_ROK for sequence in later)
    assert seen == ["y0", "y1", "y2", "y3"]


def test_the_recorder_offers_many_to_the_bind() -> None:
    assert isinstance(receipt_record, ReceiptRecorder)
    assert callable(receipt_record.many)


def test_a_recorder_whose_many_defers_the_whole_batch_has_every_receipt_sent_again(smsc: SmscServer) -> None:
    recorder = Recorder()
    recorder.smsc = smsc

    def defer_all(reports: Sequence[DeliveryReport]) -> list[str | BaseException]:
        recorder.batches.append([r.provider_message_id for r in reports])
        raise ReportDeferred("database out of reach")

    recorder.many = defer_all  # type: ignore[method-assign]
    with _bound(smsc, recorder) as provider:
        held = smsc.send_receipt("z0")
        assert wait_for(lambda: recorder.singles == ["z0"], timeout=WAIT, interval=0.01)
        later = [smsc.send_receipt(f"z{i}") for i in range(1, 4)]
        assert wait_for(lambda: provider._receipts._queue.qsize() == 3, timeout=WAIT, interval=0.01)
        recorder.release.set()
        assert smsc.wait_for_ack(held, WAIT).status == consts.SMPP_ESME_ROK
        statuses = [smsc.wait_for_ack(sequence, WAIT).status for sequence in later]
    assert recorder.batches == [["z1", "z2", "z3"]]
    assert statuses == [consts.SMPP_ESME_RX_T_APPN] * 3
