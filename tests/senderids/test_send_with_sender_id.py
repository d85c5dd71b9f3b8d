"""R-CH-4 end to end: a send through the API and the dispatch pipeline to the
local SMSC (``devservers.smsc``) carries, as its submit_sm source address,
the customer's sender ID active for the destination's operator, else the
platform default; asking for one not active there is ``403
sender_id_not_active``; a suspension is seen by the very next send."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devservers.smsc import SmscServer
from messaging import services as messaging
from senderids import services
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error, post
from tests.senderids.helpers import activate, apply, registration

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list", "fresh_providers", "without_redis"),
]

TELKOMSEL = "0812-3456-7890"
XL = "0817-1234-5678"
THREE = "0896-1234-5678"


@pytest.fixture
def smsc(settings) -> Iterator[SmscServer]:  # type: ignore[no-untyped-def]
    with SmscServer(receipt_delay=0.05) as server:
        server.enable_receipts(False)  # only the submits matter here (and SQLite has one writer at a time)
        settings.SMPP_ACCOUNTS = [f"smpp://otp:secret@127.0.0.1:{server.port}/?name=main&tps=200"]
        settings.PROVIDER_SMS = "smpp"
        settings.PLATFORM_SENDER_ID = "OTPPORTAL"
        yield server


@pytest.fixture
def tokoku_on_telkomsel_and_three(eligible: Cast) -> Cast:
    """TOKOKU active on Telkomsel (premium route) and Three; applied for on XL but not active there."""
    result = apply(eligible, name="TokoKu", operators=["telkomsel", "xl", "three"])
    activate(registration(result, "telkomsel"), eligible.staff)
    activate(registration(result, "three"), eligible.staff)
    return eligible


def send(cast: Cast, to: str, **data: str) -> str:
    response = post(
        api_client(cast.acme_live_key), "/api/v1/messages", {"to": to, "text": "Kode OTP Anda 482913", **data}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert messaging.message_dispatch(message_id=body["id"]) == "sent"
    return str(body["sender_id"])


def test_each_operator_gets_the_sender_active_for_it_r_ch_4(
    tokoku_on_telkomsel_and_three: Cast, smsc: SmscServer
) -> None:
    cast = tokoku_on_telkomsel_and_three
    assert send(cast, TELKOMSEL) == "TokoKu"
    assert send(cast, XL) == "OTPPORTAL"  # submitted on XL, not active
    assert send(cast, THREE) == "TokoKu"
    submits = smsc.wait_for_submits(3)
    expected = [(TELKOMSEL, "TokoKu"), (XL, "OTPPORTAL"), (THREE, "TokoKu")]
    assert [s.source_addr for s in submits] == [sender for _, sender in expected]
    for submit, (number, _) in zip(submits, expected, strict=True):
        assert submit.destination_addr.endswith(number.replace("-", "")[1:])
    assert all((s.source_addr_ton, s.source_addr_npi) == (5, 0) for s in submits)  # alphanumeric senders


def test_a_verification_goes_out_under_the_active_sender_r_ch_4(
    tokoku_on_telkomsel_and_three: Cast, smsc: SmscServer
) -> None:
    response = post(api_client(tokoku_on_telkomsel_and_three.acme_live_key), "/api/v1/verifications", {"to": TELKOMSEL})
    assert response.status_code == 201, response.content
    messaging.message_dispatch(message_id=response.json()["message_id"])
    [submit] = smsc.wait_for_submits(1)
    assert submit.source_addr == "TokoKu"


def test_asking_for_a_sender_not_active_for_the_operator_is_refused_r_ch_4(
    tokoku_on_telkomsel_and_three: Cast, smsc: SmscServer
) -> None:
    client = api_client(tokoku_on_telkomsel_and_three.acme_live_key)
    refused = post(client, "/api/v1/messages", {"to": XL, "text": "Kode OTP Anda 482913", "sender_id": "TOKOKU"})
    assert_error(refused, 403, "sender_id_not_active", field="sender_id")
    assert (
        send(tokoku_on_telkomsel_and_three, TELKOMSEL, sender_id="tokoku") == "TokoKu"
    )  # any case; registered spelling
    assert smsc.wait_for_submits(1)[0].source_addr == "TokoKu"


def test_a_suspended_sender_stops_at_the_next_send(tokoku_on_telkomsel_and_three: Cast, smsc: SmscServer) -> None:
    cast = tokoku_on_telkomsel_and_three
    assert send(cast, TELKOMSEL) == "TokoKu"
    row = cast.acme.sender_ids.get().registrations.get(operator="telkomsel")
    services.registration_move(registration=row, new="suspended", note="quarter", actor=cast.staff)
    assert send(cast, TELKOMSEL) == "OTPPORTAL"
    assert [s.source_addr for s in smsc.wait_for_submits(2)] == ["TokoKu", "OTPPORTAL"]


def test_another_customers_sender_is_never_used(tokoku_on_telkomsel_and_three: Cast, smsc: SmscServer) -> None:
    from billing import services as billing

    billing.lot_create(customer=tokoku_on_telkomsel_and_three.globex, amount=100_000, reference="G")
    client = api_client(tokoku_on_telkomsel_and_three.globex_live_key)
    refused = post(client, "/api/v1/messages", {"to": TELKOMSEL, "text": "Kode OTP Anda 482913", "sender_id": "TokoKu"})
    assert_error(refused, 403, "sender_id_not_active")
    response = post(client, "/api/v1/messages", {"to": TELKOMSEL, "text": "Kode OTP Anda 482913"})
    assert response.json()["sender_id"] == "OTPPORTAL"
