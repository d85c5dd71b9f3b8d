"""The development SMSC (devservers.smsc), driven by smpplib's own client on real sockets."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smpplib import client as smpp_client
from smpplib import consts, exceptions

from devservers.smsc import SmscServer, decode_short_message, reassemble

DEST = "6281234567890"
RECEIPT = re.compile(
    r"^id:(?P<id>\S+) sub:001 dlvrd:(?P<dlvrd>\d{3}) submit date:\d{10} done date:\d{10} "
    r"stat:(?P<stat>[A-Z]+) err:(?P<err>\d{3}) text:(?P<text>.*)$"
)


class Esme:
    """smpplib's blocking client, closed at the end of the test."""

    def __init__(self, port: int) -> None:
        self.client = smpp_client.Client("127.0.0.1", port, timeout=3, allow_unknown_opt_params=True)
        self.client.connect()

    def bind(self, mode: str = "transceiver", password: str = "secret") -> Any:  # noqa: S107 - test credential
        return getattr(self.client, f"bind_{mode}")(system_id="otp", password=password)

    def submit(self, text: str = "Kode OTP Anda 123456", destination: str = DEST, **fields: Any) -> Any:
        values: dict[str, Any] = {
            "source_addr_ton": 5,
            "source_addr_npi": 0,
            "source_addr": "OTPPORTAL",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": destination,
            "short_message": text.encode("ascii"),
            "registered_delivery": 1,
        }
        values.update(fields)
        self.client.send_message(**values)
        return self.client.read_pdu()

    def close(self) -> None:
        if self.client._socket is not None:
            self.client.disconnect()


@pytest.fixture
def esme(smsc: SmscServer) -> Iterator[Esme]:
    client = Esme(smsc.port)
    yield client
    client.close()


def test_bind_with_a_wrong_password_fails_with_rbindfail(smsc: SmscServer, esme: Esme) -> None:
    with pytest.raises(exceptions.PDUError) as refused:
        esme.bind(password="wrong")
    assert refused.value.args[1] == consts.SMPP_ESME_RBINDFAIL
    assert [(b.system_id, b.status) for b in smsc.binds] == [("otp", consts.SMPP_ESME_RBINDFAIL)]


def test_bind_with_an_unknown_system_id_fails(smsc: SmscServer) -> None:
    esme = Esme(smsc.port)
    try:
        with pytest.raises(exceptions.PDUError):
            esme.client.bind_transmitter(system_id="nobody", password="secret")
    finally:
        esme.close()
    assert smsc.binds[0].status == consts.SMPP_ESME_RBINDFAIL


@pytest.mark.parametrize("mode", ["transceiver", "transmitter", "receiver"])
def test_each_bind_mode_is_accepted(smsc: SmscServer, esme: Esme, mode: str) -> None:
    response = esme.bind(mode)
    assert response.status == consts.SMPP_ESME_ROK
    assert smsc.binds[0].command == f"bind_{mode}"
    assert smsc.bound_sessions("otp") == 1


def test_submit_is_answered_with_unique_ids_and_recorded(smsc: SmscServer, esme: Esme) -> None:
    esme.bind("transmitter")
    first = esme.submit("Kode OTP Anda 123456")
    second = esme.submit("Kode OTP Anda 654321")
    assert first.status == second.status == consts.SMPP_ESME_ROK
    assert first.message_id and second.message_id and first.message_id != second.message_id
    records = smsc.wait_for_submits(2)
    assert records[0].message_id == first.message_id.decode()
    assert (records[0].source_addr, records[0].source_addr_ton, records[0].source_addr_npi) == ("OTPPORTAL", 5, 0)
    assert (records[0].destination_addr, records[0].dest_addr_ton, records[0].dest_addr_npi) == (DEST, 1, 1)
    assert (records[0].data_coding, records[0].esm_class, records[0].udh) == (0, 0, None)
    assert records[0].text == "Kode OTP Anda 123456"
    assert records[1].text == "Kode OTP Anda 654321"


def test_decimal_message_ids_when_asked() -> None:
    with SmscServer(message_id_format="decimal", receipt_delay=0.05) as server:
        esme = Esme(server.port)
        try:
            esme.bind("transmitter")
            assert esme.submit().message_id.decode().isdigit()
        finally:
            esme.close()


def test_submit_on_a_receiver_bind_is_refused(smsc: SmscServer, esme: Esme) -> None:
    esme.bind("receiver")
    esme.client.state = consts.SMPP_CLIENT_STATE_BOUND_TRX  # make smpplib send it anyway
    assert esme.submit().status == consts.SMPP_ESME_RINVBNDSTS


def test_enquire_link_and_unbind_are_answered(smsc: SmscServer, esme: Esme) -> None:
    esme.bind()
    esme.client.send_pdu(_enquire_link(esme))
    assert esme.client.read_pdu().command == "enquire_link_resp"
    assert smsc.enquire_links == 1
    assert esme.client.unbind().command == "unbind_resp"
    assert smsc.unbinds == 1


def _enquire_link(esme: Esme) -> Any:
    from smpplib import smpp

    return smpp.make_pdu("enquire_link", client=esme.client)


def test_udh_parts_are_recorded_and_reassemble(smsc: SmscServer, esme: Esme) -> None:
    esme.bind("transmitter")
    chunks = [b"Kode OTP ", b"Anda 123456"]
    for seq, chunk in enumerate(chunks, start=1):
        udh = bytes((5, 0, 3, 42, 2, seq))
        assert esme.submit(esm_class=0x40, short_message=udh + chunk).status == 0
    records = smsc.wait_for_submits(2)
    assert [r.udh for r in records] == [(42, 2, 1), (42, 2, 2)]
    assert reassemble(list(reversed(records))) == "Kode OTP Anda 123456"


def test_ucs2_text_is_decoded() -> None:
    text = "رمز التحقق 123456 🙂"
    assert decode_short_message(text.encode("utf-16-be"), 8) == text
    assert decode_short_message(b"\x00_`\x1be", 0) == "@§¿€"


def test_receipt_comes_on_the_same_transceiver_session(smsc: SmscServer, esme: Esme) -> None:
    esme.bind()
    message_id = esme.submit("Kode OTP Anda 123456").message_id
    receipt = esme.client.read_pdu()
    assert receipt.command == "deliver_sm"
    assert receipt.esm_class == 0x04
    assert receipt.receipted_message_id == message_id
    assert receipt.message_state == consts.SMPP_MESSAGE_STATE_DELIVERED
    fields = RECEIPT.match(receipt.short_message.decode())
    assert fields is not None
    assert fields["id"] == message_id.decode()
    assert (fields["stat"], fields["dlvrd"], fields["err"], fields["text"]) == (
        "DELIVRD",
        "001",
        "000",
        "Kode OTP Anda 123456",
    )


def test_receipt_stat_per_destination(smsc: SmscServer, esme: Esme) -> None:
    smsc.set_receipt_stat(DEST, "UNDELIV")
    esme.bind()
    esme.submit()
    receipt = esme.client.read_pdu()
    assert "stat:UNDELIV" in receipt.short_message.decode()
    assert receipt.message_state == consts.SMPP_MESSAGE_STATE_UNDELIVERABLE


def test_receipt_for_a_transmitter_goes_to_a_receiver_of_the_same_system_id(smsc: SmscServer, esme: Esme) -> None:
    esme.bind("transmitter")
    message_id = esme.submit().message_id
    receiver = Esme(smsc.port)
    try:
        receiver.bind("receiver")  # binds after the receipt was due: the SMSC kept it
        receipt = receiver.client.read_pdu()
        assert receipt.receipted_message_id == message_id
        receiver.client._message_received(receipt)  # smpplib answers deliver_sm_resp
        ack = smsc.wait_until(lambda s: s.acks, timeout=3)
        assert ack[0].message_id == message_id.decode()
    finally:
        receiver.close()


def test_throttle_refuses_the_next_submits_then_recovers(smsc: SmscServer, esme: Esme) -> None:
    esme.bind("transmitter")
    smsc.throttle(2)
    assert [esme.submit().status for _ in range(3)] == [0x58, 0x58, 0]
    assert [r.accepted for r in smsc.submits] == [False, False, True]


def test_refuse_a_destination(smsc: SmscServer, esme: Esme) -> None:
    esme.bind("transmitter")
    smsc.script(refuse={DEST: consts.SMPP_ESME_RINVDSTADR, "6289999999": consts.SMPP_ESME_RSUBMITFAIL})
    assert esme.submit(destination=DEST).status == 0x0B
    assert esme.submit(destination="6289999999").status == 0x45
    assert esme.submit(destination="6281111111").status == 0
    smsc.refuse(DEST, None)
    assert esme.submit(destination=DEST).status == 0


def test_drop_after_answering(smsc: SmscServer, esme: Esme) -> None:
    esme.bind("transmitter")
    smsc.drop_after(2)
    assert esme.submit().status == 0
    assert esme.submit().status == 0  # answered, then the connection goes
    with pytest.raises(exceptions.ConnectionError):
        esme.client.read_pdu()
    assert all(r.accepted and r.answered for r in smsc.submits)


def test_drop_before_answering_loses_the_submit(smsc: SmscServer, esme: Esme) -> None:
    esme.bind("transmitter")
    smsc.drop_after(1, answer=False)
    with pytest.raises(exceptions.ConnectionError):
        esme.submit()
    [record] = smsc.submits
    assert not record.accepted and not record.answered


def test_script_receipt_for_an_unknown_id_and_malformed_ones_get_acks(smsc: SmscServer, esme: Esme) -> None:
    esme.bind()
    sequences = [
        smsc.send_receipt("ffffffffffff", "DELIVRD"),
        smsc.send_malformed_receipt(kind="text"),
        smsc.send_mo("+6281234567890", "halo"),
    ]
    for _ in sequences:
        pdu = esme.client.read_pdu()
        assert pdu.command == "deliver_sm"
        esme.client._message_received(pdu)
    acks = {ack.sequence: ack for ack in smsc.wait_until(lambda s: s.acks if len(s.acks) == 3 else None, 3)}
    assert set(acks) == set(sequences)
    assert acks[sequences[0]].message_id == "ffffffffffff"


def test_ping_clients_counts_enquire_link_resps(smsc: SmscServer, esme: Esme) -> None:
    esme.bind()
    assert smsc.ping_clients() == 1
    esme.client.read_once()  # smpplib answers enquire_link
    assert smsc.wait_until(lambda s: s.enquire_link_resps, 3) == 1


def test_bad_command_length_closes_the_connection(smsc: SmscServer) -> None:
    with socket.create_connection(("127.0.0.1", smsc.port), timeout=3) as raw:
        raw.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x15")
        assert raw.recv(16) == b""


def test_the_smsc_runs_from_the_command_line_outside_django() -> None:
    """``python -m devservers.smsc``: the development SMSC lives outside the shipped apps."""
    root = Path(__file__).resolve().parents[2]
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "devservers.smsc", "--port", "0", "--once-seconds", "0.2"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert re.search(r"SMSC listening on 127\.0\.0\.1:\d+", done.stdout)
    assert "SMSC stopped" in done.stdout


def test_receipts_first_mode_sends_the_receipt_before_the_submit_resp(smsc: SmscServer, esme: Esme) -> None:
    """Review 8.16: some SMSCs answer with the receipt before submit_sm_resp."""
    smsc.receipts_before_response()
    esme.bind()
    first = esme.submit()  # reads one PDU: the receipt
    assert first.command == "deliver_sm"
    resp = esme.client.read_pdu()
    assert resp.command == "submit_sm_resp" and resp.status == consts.SMPP_ESME_ROK
    assert first.receipted_message_id == resp.message_id
    assert re.match(RECEIPT, first.short_message.decode()).group("stat") == "DELIVRD"  # type: ignore[union-attr]


def test_a_hung_smsc_answers_nothing_but_records_what_it_reads(smsc: SmscServer, esme: Esme) -> None:
    """Review 8.17: the SMSC hangs: binds, submits and enquire_links go unanswered."""
    esme.bind()
    smsc.hang()
    esme.client.send_message(
        source_addr="OTPPORTAL", destination_addr=DEST, short_message=b"Kode OTP Anda 123456", registered_delivery=1
    )
    esme.client.send_pdu(_enquire_link(esme))
    [record] = smsc.wait_for_submits(1)
    assert (record.answered, record.accepted) == (False, False)
    smsc.wait_until(lambda s: s.ignored == 1, 3)
    with socket.create_connection(("127.0.0.1", smsc.port), timeout=0.5) as raw:  # connections are still accepted
        raw.sendall(_pdu_bytes("bind_transceiver", system_id="otp", password="secret"))
        with pytest.raises(TimeoutError):
            raw.recv(16)
    smsc.hang(False)
    assert esme.submit().status == consts.SMPP_ESME_ROK  # the next one is answered again


def test_a_hung_smsc_that_accepts_loses_only_its_answers(smsc: SmscServer, esme: Esme) -> None:
    """Issue 14, drill 5: the submit_sm_resp is lost, the message is not; its receipt comes
    once the SMSC answers again."""
    esme.bind()
    smsc.hang(accept=True)
    esme.client.send_message(
        source_addr="OTPPORTAL", destination_addr=DEST, short_message=b"Kode OTP Anda 123456", registered_delivery=1
    )
    [record] = smsc.wait_for_submits(1)
    assert (record.answered, record.accepted) == (False, True) and record.message_id
    with pytest.raises(TimeoutError):  # nothing comes: no answer, no receipt
        esme.client._socket.settimeout(0.5)  # noqa: SLF001 - smpplib exposes no read timeout
        esme.client.read_pdu()
    smsc.hang(False)
    esme.client._socket.settimeout(3)  # noqa: SLF001
    receipt = esme.client.read_pdu()
    assert receipt.command == "deliver_sm" and receipt.receipted_message_id.decode() == record.message_id


def _pdu_bytes(command: str, **fields: Any) -> bytes:
    from smpplib import smpp

    class _Seq:
        sequence = 1

        def next_sequence(self) -> int:
            return 1

    return bytes(smpp.make_pdu(command, client=_Seq(), **fields).generate())
