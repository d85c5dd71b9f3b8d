"""SMPP provider (messaging.providers.smpp) against the project's SMSC on real sockets."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from devservers.smsc import SmscServer, reassemble
from messaging.limits import LocalTokenBucket
from messaging.providers.base import DeliveryReport, DeliveryState, OutboundMessage, Outcome
from messaging.providers.smpp import (
    AMBIGUOUS_ERROR_CODES,
    SmppAccount,
    SmppProvider,
    close_providers,
    encode_parts,
    get_provider,
    mask_receipt,
    outcome_for_status,
    parse_receipt,
    receipt_time,
    status_code,
)
from tests.helpers import wait_for

TO = "+6281234567890"
DEST = "6281234567890"
WAIT = 5.0  # upper bound for any wait in this module; normal runs take milliseconds


class Reports:
    """on_report collector with bounded waits."""

    def __init__(self) -> None:
        self.items: list[DeliveryReport] = []
        self._changed = threading.Condition()

    def __call__(self, report: DeliveryReport) -> None:
        with self._changed:
            self.items.append(report)
            self._changed.notify_all()

    def wait_for(self, message_id: str, timeout: float = WAIT) -> DeliveryReport:
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((r for r in self.items if r.provider_message_id == message_id), None), timeout
            )
        assert found is not None, f"no report for {message_id}"
        return found

    def ids(self) -> list[str]:
        with self._changed:
            return [r.provider_message_id for r in self.items]


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT) -> Any:
    return wait_for(predicate, timeout=timeout, interval=0.01)


def account_for(
    smsc: SmscServer,
    *,
    password: str = "secret",  # noqa: S107 - the dev SMSC's test credential
    tps: float = 1000,
    name: str = "main",
) -> SmppAccount:
    return SmppAccount.from_url(f"smpp://otp:{password}@127.0.0.1:{smsc.port}/?system_type=OTP&tps={tps}&name={name}")


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def make_provider(smsc: SmscServer, reports: Reports) -> Iterator[Callable[..., SmppProvider]]:
    built: list[SmppProvider] = []

    def make(account: SmppAccount | None = None, **options: Any) -> SmppProvider:
        options.setdefault("on_report", reports)
        options.setdefault("bucket", LocalTokenBucket())
        options.setdefault("response_timeout", 2.0)
        options.setdefault("connect_timeout", 2.0)
        provider = SmppProvider(account or account_for(smsc), **options)
        built.append(provider)
        return provider

    yield make
    for provider in built:
        provider.close()


@pytest.fixture
def provider(make_provider: Callable[..., SmppProvider]) -> SmppProvider:
    return make_provider()


def otp(
    text: str = "Kode OTP Anda 123456", *, sender: str = "OTPPORTAL", encoding: str = "gsm7", to: str = TO
) -> OutboundMessage:
    return OutboundMessage(id="msg_1", to=to, channel="sms", text=text, sender_id=sender, encoding=encoding)


# ------------------------------------------------------------------- account


def test_account_from_url_reads_every_part() -> None:
    account = SmppAccount.from_url(
        "smpp://otp:s%40cret@smsc.example:2776/?system_type=OTP&tps=50&name=main&validity=10"
    )
    assert (account.name, account.host, account.port) == ("main", "smsc.example", 2776)
    assert (account.system_id, account.password, account.system_type, account.tps) == ("otp", "s@cret", "OTP", 50.0)
    assert (account.alnum_ton, account.alnum_npi, account.numeric_ton, account.numeric_npi) == (5, 0, 1, 1)
    assert account.validity_minutes == 10
    assert "s@cret" not in repr(account)


def test_account_defaults_and_refusals() -> None:
    account = SmppAccount.from_url("smpp://otp:pw@localhost")
    assert (account.name, account.port, account.system_type) == ("otp", 2775, "")
    with pytest.raises(ValueError):
        SmppAccount.from_url("http://otp:pw@localhost:2775")
    with pytest.raises(ValueError):
        SmppAccount.from_url("smpp://otp:password-too-long@localhost:2775")


# ------------------------------------------------------------------- pure helpers


def test_parse_receipt_standard_text_and_bytes() -> None:
    text = (
        "id:1a2B3c sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:Kode: 12 34"
    )
    fields = parse_receipt(text)
    assert fields == {
        "id": "1a2B3c",
        "sub": "001",
        "dlvrd": "001",
        "submit_date": "2501011200",
        "done_date": "2501011201",
        "stat": "DELIVRD",
        "err": "000",
        "text": "Kode: 12 34",
    }
    assert parse_receipt(text.encode()) == fields
    assert parse_receipt(b"ID:77 Stat:UNDELIV Err:012")["stat"] == "UNDELIV"
    assert parse_receipt(b"\xff\xfe garbage") == {}


def test_encode_parts_boundaries() -> None:
    assert len(encode_parts("a" * 160)[0]) == 1
    parts, coding, esm = encode_parts("a" * 161, ref=7)
    assert (len(parts), coding, esm) == (2, 0, 0x40)
    assert parts[0][:6] == bytes((5, 0, 3, 7, 2, 1))
    assert len(encode_parts("ب" * 70, "ucs2")[0]) == 1
    parts, coding, _ = encode_parts("ب" * 71, "ucs2")
    assert (len(parts), coding) == (2, 8)


def test_status_mapping_table() -> None:
    assert status_code(0x0B) == "0x0000000B"
    assert {s: outcome_for_status(s) for s in (0x58, 0x14, 0x08, 0x64, 0x04)} == dict.fromkeys(
        (0x58, 0x14, 0x08, 0x64, 0x04), Outcome.RETRY
    )
    assert {s: outcome_for_status(s) for s in (0x0A, 0x0B, 0x45, 0x66, 0x400)} == dict.fromkeys(
        (0x0A, 0x0B, 0x45, 0x66, 0x400), Outcome.PERMANENT
    )


# ------------------------------------------------------------------- binding


def test_wrong_password_returns_retry_with_the_bind_status_and_backs_off(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    provider = make_provider(account_for(smsc, password="wrong"))
    first = provider.send(otp())
    assert (first.outcome, first.error_code) == (Outcome.RETRY, "0x0000000D")
    started = time.monotonic()
    second = provider.send(otp())  # inside the back-off window: no new bind, no waiting
    assert time.monotonic() - started < 0.1
    assert (second.outcome, second.error_code) == (Outcome.RETRY, "0x0000000D")
    assert second.retry_after is not None and second.retry_after > 0
    assert len(smsc.binds) == 1
    assert smsc.submits == []


def test_run_forever_backs_off_exponentially_on_a_refused_bind(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    provider = make_provider(account_for(smsc, password="wrong"), backoff_base=0.05, backoff_max=0.2)
    stop = threading.Event()
    runner = threading.Thread(target=provider.run_forever, args=(stop,), kwargs={"poll": 0.05})
    runner.start()
    stop.wait(0.6)
    stop.set()
    runner.join(WAIT)
    assert not runner.is_alive()
    # Delays 0.025-0.05, 0.05-0.1, then 0.1-0.2 each: a handful of attempts, not a hot loop.
    assert 3 <= len(smsc.binds) <= 12
    assert all(b.status == 0x0D for b in smsc.binds)


def test_run_forever_binds_again_after_the_smsc_drops_it(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    provider = make_provider(backoff_base=0.05)
    stop = threading.Event()
    runner = threading.Thread(target=provider.run_forever, args=(stop,), kwargs={"poll": 0.05})
    runner.start()
    try:
        wait_until(lambda: provider.connected)
        assert smsc.drop_all() == 1
        assert smsc.wait_until(lambda s: len(s.binds) == 2, WAIT)
        wait_until(lambda: provider.connected)
        assert smsc.bound_sessions("otp") == 1
    finally:
        stop.set()
        runner.join(WAIT)
    assert not runner.is_alive()


def test_send_when_no_smsc_listens_returns_retry_quickly(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    provider = make_provider()
    smsc.stop()
    started = time.monotonic()
    result = provider.send(otp())
    assert time.monotonic() - started < 2.0
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "not_connected")


def test_one_bind_is_shared_by_concurrent_senders(smsc: SmscServer, provider: SmppProvider) -> None:
    results: list[Any] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        result = provider.send(otp(f"Kode OTP Anda {n:06d}"))
        with lock:
            results.append(result)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 8
    assert len(smsc.binds) == 1 and smsc.binds[0].command == "bind_transceiver"
    assert sorted(r.text for r in smsc.accepted()) == [f"Kode OTP Anda {n:06d}" for n in range(8)]


# ------------------------------------------------------------------- encodings and parts


def test_gsm7_single_part_reaches_the_smsc_with_sender_ton_npi_and_text(
    smsc: SmscServer, provider: SmppProvider
) -> None:
    result = provider.send(otp("Kode OTP Anda 123456 @ {ok} €"))
    assert result.outcome is Outcome.ACCEPTED
    [record] = smsc.submits
    assert result.provider_message_id == record.message_id
    assert result.part_ids == (record.message_id,)
    assert (record.source_addr, record.source_addr_ton, record.source_addr_npi) == ("OTPPORTAL", 5, 0)
    assert (record.destination_addr, record.dest_addr_ton, record.dest_addr_npi) == (DEST, 1, 1)
    assert (record.data_coding, record.esm_class, record.registered_delivery) == (0, 0, 1)
    assert record.text == "Kode OTP Anda 123456 @ {ok} €"


def test_numeric_sender_goes_as_international(smsc: SmscServer, provider: SmppProvider) -> None:
    assert provider.send(otp(sender="+628111222333")).outcome is Outcome.ACCEPTED
    [record] = smsc.submits
    assert (record.source_addr, record.source_addr_ton, record.source_addr_npi) == ("628111222333", 1, 1)


def test_ucs2_text_arrives_with_data_coding_8_and_decodes_back(smsc: SmscServer, provider: SmppProvider) -> None:
    text = "رمز التحقق 123456 🙂"
    assert provider.send(otp(text, encoding="ucs2")).outcome is Outcome.ACCEPTED
    [record] = smsc.submits
    assert (record.data_coding, record.esm_class) == (8, 0)
    assert record.text == text


def test_a_gsm7_marked_text_outside_the_alphabet_goes_as_ucs2(smsc: SmscServer, provider: SmppProvider) -> None:
    assert provider.send(otp("Kode 123456 ✓", encoding="gsm7")).outcome is Outcome.ACCEPTED
    [record] = smsc.submits
    assert (record.data_coding, record.text) == (8, "Kode 123456 ✓")


def test_long_gsm7_text_arrives_as_parts_with_udh_and_reassembles(smsc: SmscServer, provider: SmppProvider) -> None:
    # 152 plain characters then "€" (escape + code) straddles the 153-octet cut: it must not be split.
    text = "A" * 152 + "€" + "Kode OTP Anda 123456. " * 10
    result = provider.send(otp(text))
    assert result.outcome is Outcome.ACCEPTED
    records = smsc.submits
    assert len(records) == len(result.part_ids) == 3
    assert result.part_ids == tuple(r.message_id for r in records)
    assert result.provider_message_id == records[0].message_id
    refs = {r.udh[0] for r in records if r.udh}
    assert len(refs) == 1
    assert [r.udh[1:] for r in records if r.udh] == [(3, 1), (3, 2), (3, 3)]
    assert all(r.esm_class & 0x40 and r.data_coding == 0 for r in records)
    assert records[0].text == "A" * 152  # the cut moved before the escape
    assert reassemble(records) == text


def test_long_ucs2_text_never_splits_an_emoji(smsc: SmscServer, provider: SmppProvider) -> None:
    # 66 UTF-16 units, then an emoji (a surrogate pair) across the 67-unit cut.
    text = "ك" * 66 + "🙂" + "رمز 123456 " * 4
    result = provider.send(otp(text, encoding="ucs2"))
    assert result.outcome is Outcome.ACCEPTED
    records = smsc.submits
    assert len(records) == 2
    assert records[0].text == "ك" * 66  # the cut moved before the emoji
    assert all("\ufffd" not in r.text for r in records)  # each part decodes on its own
    assert reassemble(records) == text


def test_validity_period_is_relative_when_configured(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    account = SmppAccount.from_url(f"smpp://otp:secret@127.0.0.1:{smsc.port}/?validity=10")
    assert make_provider(account).send(otp()).outcome is Outcome.ACCEPTED
    assert smsc.submits[0].validity_period == "000000001000000R"


def test_invalid_destination_is_refused_without_a_submit(smsc: SmscServer, provider: SmppProvider) -> None:
    result = provider.send(otp(to="0812-abc"))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "invalid_destination")
    assert smsc.submits == []


# ------------------------------------------------------------------- receipts


def test_receipt_reports_delivered_with_the_matching_id(
    smsc: SmscServer, provider: SmppProvider, reports: Reports
) -> None:
    result = provider.send(otp())
    report = reports.wait_for(result.provider_message_id)
    assert report.provider == "smpp"
    assert report.state is DeliveryState.DELIVERED
    assert report.error_code == ""
    assert isinstance(report.occurred_at, datetime) and report.occurred_at.tzinfo is not None
    assert report.raw["receipt"]["stat"] == "DELIVRD"  # type: ignore[index]
    ack = smsc.wait_until(lambda s: next((a for a in s.acks if a.message_id == result.provider_message_id), None), WAIT)
    assert ack.status == 0


@pytest.mark.parametrize("stat", ["UNDELIV", "EXPIRED", "REJECTD", "DELETED"])
def test_failed_receipts_report_undelivered(
    smsc: SmscServer, provider: SmppProvider, reports: Reports, stat: str
) -> None:
    smsc.set_receipt_stat(DEST, stat, err="012")
    result = provider.send(otp())
    report = reports.wait_for(result.provider_message_id)
    assert report.state is DeliveryState.UNDELIVERED
    assert report.error_code == "012"


def test_unknown_stat_changes_nothing(smsc: SmscServer, provider: SmppProvider, reports: Reports) -> None:
    smsc.set_receipt_stat(DEST, "UNKNOWN")
    unknown = provider.send(otp())
    smsc.set_receipt_stat(DEST, None)
    later = provider.send(otp(to="+6281234567891"))
    reports.wait_for(later.provider_message_id)  # receipts come in order: the UNKNOWN one was handled first
    assert unknown.provider_message_id not in reports.ids()
    assert smsc.wait_until(lambda s: len(s.acks) == 2, WAIT)


def test_decimal_ids_are_kept_as_the_smsc_sent_them(
    make_provider: Callable[..., SmppProvider], reports: Reports
) -> None:
    with SmscServer(message_id_format="decimal", receipt_delay=0.05) as decimal_smsc:
        provider = make_provider(account_for(decimal_smsc))
        result = provider.send(otp())
        assert result.provider_message_id.isdigit()
        assert reports.wait_for(result.provider_message_id).state is DeliveryState.DELIVERED
        provider.close()


def test_receipt_id_from_the_text_when_there_is_no_tlv(
    smsc: SmscServer, provider: SmppProvider, reports: Reports
) -> None:
    provider.connect()
    smsc.send_receipt("12345678901", "DELIVRD", tlvs=False)
    assert reports.wait_for("12345678901").state is DeliveryState.DELIVERED


def test_receipt_tlv_id_wins_over_the_text_id(smsc: SmscServer, provider: SmppProvider, reports: Reports) -> None:
    provider.connect()
    smsc.send_receipt("a1b2c3", "UNDELIV", text_id="10597059")  # hex in the TLV, decimal in the text
    assert reports.wait_for("a1b2c3").state is DeliveryState.UNDELIVERED


def test_malformed_receipts_and_unknown_ids_do_not_stop_the_reader(
    smsc: SmscServer, provider: SmppProvider, reports: Reports
) -> None:
    assert provider.connect()
    sequences = [
        smsc.send_malformed_receipt(kind="text"),
        smsc.send_malformed_receipt(kind="tlv"),
        smsc.send_malformed_receipt(kind="no_id"),
        smsc.send_receipt("ffffffffffffffff", "DELIVRD"),
        smsc.send_mo("+6281234567890", "STOP"),  # inbound: ignored (R-CH-2)
    ]
    for sequence in sequences:
        assert smsc.wait_for_ack(sequence, WAIT).status == 0  # every deliver_sm is answered
    assert reports.wait_for("ffffffffffffffff").state is DeliveryState.DELIVERED  # unknown ids: the service's call
    assert reports.ids() == ["ffffffffffffffff"]
    result = provider.send(otp())
    assert result.outcome is Outcome.ACCEPTED
    assert reports.wait_for(result.provider_message_id).state is DeliveryState.DELIVERED
    assert len(smsc.binds) == 1


def test_on_report_failure_still_acks_and_keeps_reading(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider], reports: Reports
) -> None:
    calls: list[str] = []

    def flaky(report: DeliveryReport) -> None:
        calls.append(report.provider_message_id)
        if len(calls) == 1:
            raise RuntimeError("database down")
        reports(report)

    provider = make_provider(on_report=flaky)
    first = provider.send(otp())
    second = provider.send(otp(to="+6281234567891"))
    reports.wait_for(second.provider_message_id)
    assert calls[0] == first.provider_message_id
    assert smsc.wait_until(lambda s: len(s.acks) == 2, WAIT)
    assert all(a.status == 0 for a in smsc.acks)


# ------------------------------------------------------------------- refusals


def test_throttled_submit_returns_retry_with_the_status(smsc: SmscServer, provider: SmppProvider) -> None:
    smsc.throttle(1)
    result = provider.send(otp())
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "0x00000058")
    assert result.retry_after is not None and result.retry_after > 0
    assert provider.send(otp()).outcome is Outcome.ACCEPTED


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (0x0B, Outcome.PERMANENT),  # ESME_RINVDSTADR
        (0x0A, Outcome.PERMANENT),  # ESME_RINVSRCADR
        (0x45, Outcome.PERMANENT),  # ESME_RSUBMITFAIL (our decision)
        (0x66, Outcome.PERMANENT),  # ESME_RX_R_APPN: rejected
        (0x14, Outcome.RETRY),  # ESME_RMSGQFUL
        (0x08, Outcome.RETRY),  # ESME_RSYSERR
    ],
)
def test_refusal_maps_to_retry_or_permanent(
    smsc: SmscServer, provider: SmppProvider, status: int, outcome: Outcome
) -> None:
    smsc.refuse(DEST, status)
    result = provider.send(otp())
    assert (result.outcome, result.error_code) == (outcome, f"0x{status:08X}")
    assert result.provider_message_id == ""
    assert provider.send(otp(to="+6281234567891")).outcome is Outcome.ACCEPTED  # the bind is fine


def test_local_rate_cap_returns_retry_without_submitting(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    bucket = LocalTokenBucket()
    account = account_for(smsc, tps=2)
    first, second = make_provider(account, bucket=bucket, throttle_timeout=0.05), make_provider(account, bucket=bucket)
    assert first.send(otp()).outcome is Outcome.ACCEPTED
    assert second.send(otp()).outcome is Outcome.ACCEPTED  # same account name: same bucket (capacity 2)
    refused = first.send(otp())
    assert (refused.outcome, refused.error_code) == (Outcome.RETRY, "rate_limited")
    assert len(smsc.submits) == 2


# ------------------------------------------------------------------- connection loss


def test_dropped_connection_reconnects_and_sends_each_message_exactly_once(
    smsc: SmscServer, provider: SmppProvider
) -> None:
    smsc.drop_after(1)  # answer the next submit, then drop the TCP connection
    assert provider.send(otp("Kode OTP Anda 111111")).outcome is Outcome.ACCEPTED
    wait_until(lambda: not provider.connected)
    result = provider.send(otp("Kode OTP Anda 222222"))
    assert result.outcome is Outcome.ACCEPTED
    assert [r.text for r in smsc.accepted()] == ["Kode OTP Anda 111111", "Kode OTP Anda 222222"]
    assert [b.status for b in smsc.binds] == [0, 0]


def test_connection_dropped_before_the_answer_returns_retry_and_the_retry_is_the_only_copy(
    smsc: SmscServer, provider: SmppProvider
) -> None:
    smsc.drop_after(1, answer=False)  # the submit is lost with the connection
    lost = provider.send(otp("Kode OTP Anda 333333"))
    assert (lost.outcome, lost.error_code) == (Outcome.RETRY, "connection_lost")
    assert lost.error_code in AMBIGUOUS_ERROR_CODES
    assert "may have accepted" in lost.error_message
    again = provider.send(otp("Kode OTP Anda 333333"))
    assert again.outcome is Outcome.ACCEPTED
    assert [r.message_id for r in smsc.accepted()] == [again.provider_message_id]


def test_submit_without_an_answer_times_out_as_retry(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    provider = make_provider(response_timeout=0.3)
    smsc.silence(1)  # the connection stays up but this submit is never answered
    started = time.monotonic()
    result = provider.send(otp())
    assert time.monotonic() - started < 1.0
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "no_response")
    assert result.error_code in AMBIGUOUS_ERROR_CODES
    assert "may have accepted" in result.error_message
    assert provider.send(otp()).outcome is Outcome.ACCEPTED
    assert len(smsc.binds) == 2  # Review 8.17: the silent session was dropped, the next send bound again


# ------------------------------------------------------------------- keep-alive


def test_enquire_link_keep_alive_is_sent_and_answered(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    provider = make_provider(enquire_link_interval=0.05)
    assert provider.connect()
    assert smsc.wait_until(lambda s: s.enquire_links >= 2, WAIT)
    assert provider.ping(timeout=1.0)
    assert provider.connected


def test_the_smscs_enquire_link_is_answered(smsc: SmscServer, provider: SmppProvider) -> None:
    assert provider.connect()
    assert smsc.ping_clients() == 1
    assert smsc.wait_until(lambda s: s.enquire_link_resps == 1, WAIT)


def test_close_unbinds(smsc: SmscServer, provider: SmppProvider) -> None:
    assert provider.connect()
    provider.close()
    assert smsc.wait_until(lambda s: s.unbinds == 1, WAIT)
    result = provider.send(otp())
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "closed")


# ------------------------------------------------------------------- smpp_bind


@pytest.fixture
def services_stub(monkeypatch: pytest.MonkeyPatch) -> Reports:
    """Stand-in for messaging.services.delivery_record, which smpp_bind's receipt_record calls."""
    from messaging.services import delivery

    collected = Reports()
    monkeypatch.setattr(delivery, "delivery_record", collected)
    return collected


def test_smpp_bind_records_receipts_and_unbinds(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider], services_stub: Reports, settings: Any
) -> None:
    settings.SMPP_ACCOUNTS = [f"smpp://otp:secret@127.0.0.1:{smsc.port}/?name=main"]
    sender = make_provider(on_report=None)  # a worker without on_report binds as transmitter
    result = sender.send(otp())
    assert result.outcome is Outcome.ACCEPTED
    assert smsc.binds[0].command == "bind_transmitter"
    out = StringIO()
    call_command("smpp_bind", once_seconds=0.5, stdout=out)  # the receipt waited at the SMSC for a receiver
    report = services_stub.wait_for(result.provider_message_id, timeout=0.1)
    assert report.state is DeliveryState.DELIVERED
    assert [b.command for b in smsc.binds] == ["bind_transmitter", "bind_transceiver"]
    assert smsc.wait_until(lambda s: s.unbinds == 1, WAIT)
    assert "smpp_bind: stopped" in out.getvalue()


def test_smpp_bind_survives_a_failing_delivery_record(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from messaging.services import delivery

    def broken(report: DeliveryReport) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(delivery, "delivery_record", broken)
    settings.SMPP_ACCOUNTS = [f"smpp://otp:secret@127.0.0.1:{smsc.port}/?name=main"]
    assert make_provider(on_report=None).send(otp()).outcome is Outcome.ACCEPTED
    call_command("smpp_bind", once_seconds=0.5, stdout=StringIO())
    assert smsc.wait_until(lambda s: s.acks, WAIT)[0].status == 0
    assert smsc.unbinds == 1


def test_smpp_bind_without_accounts_refuses(settings: Any) -> None:
    from django.core.management.base import CommandError

    settings.SMPP_ACCOUNTS = []
    with pytest.raises(CommandError):
        call_command("smpp_bind", once_seconds=0.1, stdout=StringIO())


# ------------------------------------------------------------------- process-wide provider


def test_get_provider_gives_one_provider_per_account_per_process(smsc: SmscServer, settings: Any) -> None:
    settings.SMPP_ACCOUNTS = [
        f"smpp://otp:secret@127.0.0.1:{smsc.port}/?name=main&tps=100",
        f"smpp://otp:secret@127.0.0.1:{smsc.port}/?name=backup",
    ]
    settings.REDIS_URL = ""
    try:
        main = get_provider()
        assert get_provider("main") is main
        assert get_provider("backup") is not main
        assert (main.account.name, main.mode, main.account.tps) == ("main", "transceiver", 100.0)
        assert main.send(otp()).outcome is Outcome.ACCEPTED
        with pytest.raises(LookupError):
            get_provider("nope")
    finally:
        close_providers()
    assert smsc.wait_until(lambda s: s.unbinds == 1, WAIT)


# ------------------------------------------------------------------- Review 8.12: receipts in logs

CODE = "482913"


def test_review_8_12_mask_receipt_withholds_the_text_field() -> None:
    receipt = (
        f"id:7 sub:001 dlvrd:001 submit date:2611300535 done date:2611300536 stat:DELIVRD err:000 text:Kode {CODE}"
    )
    masked = mask_receipt(receipt.encode())
    assert CODE not in masked
    assert masked.startswith("id:7 sub:001") and masked.endswith("text:<11 chars withheld>")
    assert mask_receipt("id:7 stat:DELIVRD") == "id:7 stat:DELIVRD"  # nothing to hide


@pytest.mark.parametrize("kind", ["text", "tlv", "no_id"])
def test_review_8_12_malformed_receipts_are_logged_without_the_code(
    smsc: SmscServer, provider: SmppProvider, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    assert provider.connect()
    with caplog.at_level(logging.DEBUG):
        sequence = smsc.send_malformed_receipt(kind=kind, text=f"Kode OTP Anda {CODE}")
        assert smsc.wait_for_ack(sequence, WAIT).status == 0
    logged = [r for r in caplog.records if r.name.startswith("messaging")]
    assert logged, "the malformed receipt was not logged at all"
    assert all(CODE not in r.getMessage() and CODE.encode().hex() not in r.getMessage() for r in caplog.records)
    assert any("withheld" in r.getMessage() for r in logged)


def test_review_8_12_a_receipts_raw_fields_never_carry_the_text(
    smsc: SmscServer, provider: SmppProvider, reports: Reports
) -> None:
    result = provider.send(otp(f"Kode OTP Anda {CODE}"))
    report = reports.wait_for(result.provider_message_id)
    assert CODE not in repr(report.raw)
    assert report.raw["receipt"]["text"] == "<20 chars withheld>"  # type: ignore[index]


# ------------------------------------------------------------------- Review 8.15: receipt times

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=JAKARTA)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2611300535", datetime(2026, 11, 30, 5, 35, tzinfo=JAKARTA)),  # not 05:03:05 (strptime's reading)
        ("261130053512", datetime(2026, 11, 30, 5, 35, 12, tzinfo=JAKARTA)),
        ("2601010000", datetime(2026, 1, 1, 0, 0, tzinfo=JAKARTA)),
    ],
)
def test_review_8_15_receipt_time_format_is_chosen_by_length(value: str, expected: datetime) -> None:
    assert receipt_time(value, JAKARTA, now=NOW) == expected


@pytest.mark.parametrize(
    "value", ["", "26113005", "26113005351", "2611300535123", "2613300535", "2602300535", "26a1300535"]
)
def test_review_8_15_anything_else_is_refused(value: str) -> None:
    assert receipt_time(value, JAKARTA, now=NOW) is None


def test_review_8_15_a_receipt_time_far_in_the_future_is_clamped_to_now() -> None:
    assert receipt_time("2611300604", JAKARTA, now=NOW) == datetime(2026, 11, 30, 6, 4, tzinfo=JAKARTA)  # clock skew
    assert receipt_time("2611300606", JAKARTA, now=NOW) == NOW  # beyond the few minutes we believe
    assert receipt_time("3001010000", JAKARTA, now=NOW) == NOW


def test_review_8_15_receipt_times_over_the_wire_are_within_a_minute(
    smsc: SmscServer, provider: SmppProvider, reports: Reports
) -> None:
    result = provider.send(otp())
    occurred = reports.wait_for(result.provider_message_id).occurred_at
    assert occurred is not None
    assert abs(occurred - datetime.now(tz=UTC)) < timedelta(minutes=1)  # the SMSC stamps YYMMDDhhmm


# ------------------------------------------------------------------- Review 8.17: a hung SMSC


def test_review_8_17_a_hung_smsc_gets_at_most_one_extra_copy(
    smsc: SmscServer, make_provider: Callable[..., SmppProvider]
) -> None:
    """After a submit_sm_resp timeout the session is dropped, not written into again: while the
    SMSC hangs nothing more is submitted (binding again fails first), so when it wakes up it can
    act on at most the one unanswered copy, besides the one the retry sends."""
    provider = make_provider(response_timeout=0.3, backoff_base=0.05, backoff_max=0.1)
    assert provider.connect()
    smsc.hang()
    first = provider.send(otp())
    assert (first.outcome, first.error_code, first.submitted) == (Outcome.RETRY, "no_response", True)
    assert not provider.connected
    for _ in range(3):
        later = provider.send(otp())
        assert (later.outcome, later.error_code, later.submitted) == (Outcome.RETRY, "not_connected", False)
        time.sleep(0.12)  # past the bind back-off: each round tries to bind again
    assert len(smsc.submits) == 1, "a silent session was written into again"
    assert smsc.ignored >= 1  # the binds it left unanswered
    smsc.hang(False)
    time.sleep(0.12)
    assert provider.send(otp()).outcome is Outcome.ACCEPTED
    assert len(smsc.submits) == 2  # the unanswered copy and the accepted one, nothing more
