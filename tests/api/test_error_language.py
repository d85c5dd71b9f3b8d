"""Review 8.19: one rule for the language of API errors.

The API speaks English unless ``Accept-Language`` asks for Indonesian (its
best match among ``id`` and ``en``, q-values honoured); ``message`` and the
texts in ``details`` follow it, data in ``details`` (balance, cap, price,
retry_after) and every ``code`` never change. Responses say
``Content-Language`` and ``Vary: Accept-Language``. The dashboard keeps its
own rule: Indonesian unless the user picked English, whatever the browser says.

The Indonesian texts asserted here are the catalogue's (``var/i18n/errors-i18n.json``
for ours, DRF's own for DRF's field messages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.utils import translation
from rest_framework.test import APIClient

from accounts import services as accounts
from accounts.models import Customer
from billing import services as billing
from billing.models import DepositLot
from messaging import services as messaging
from messaging.models import Message
from otpportal.errors import ServiceError
from otpportal.middleware import ApiLanguageMiddleware, api_language
from tests.conftest import Cast, api_client
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NUMBER = "081234567890"
OTP_TEXT = "Kode OTP Anda 482913"


@dataclass(frozen=True)
class Case:
    """One refusal: how to provoke it, and what it says in each language."""

    code: str
    status: int
    ask: Callable[[dict[str, str]], Any]  # headers -> response
    en: str
    id: str
    en_details: dict[str, Any] = field(default_factory=dict)
    id_details: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # details that are data: the same in both languages


def _post(client: APIClient, path: str, body: dict[str, Any], **extra: str) -> Callable[[dict[str, str]], Any]:
    return lambda headers: client.post(path, body, format="json", **extra, **headers)


def _get(client: APIClient, path: str) -> Callable[[dict[str, str]], Any]:
    return lambda headers: client.get(path, **headers)


def _cases(cast: Cast, settings: Any) -> dict[str, Case]:
    live, test = api_client(cast.acme_live_key), api_client(cast.acme_test_key)
    return {
        "invalid_request from DRF's field validation": Case(
            "invalid_request",
            400,
            _post(test, "/api/v1/verifications", {}),
            "Invalid request: to",
            "Permintaan tidak valid: to",
            {"to": ["This field is required."]},
            {"to": ["Bidang ini harus diisi."]},
        ),
        "invalid_request: a DRF text DRF's catalogue leaves untranslated": Case(
            "invalid_request",
            400,
            _post(test, "/api/v1/verifications", {"to": ["0812"]}),
            "Invalid request: to",
            "Permintaan tidak valid: to",
            {"to": ["Not a valid string."]},
            {"to": ["Bukan teks yang valid."]},
        ),
        "invalid_request: malformed JSON": Case(
            "invalid_request",
            400,
            lambda headers: test.post("/api/v1/verifications", "{", content_type="application/json", **headers),
            "The body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
            "Isi permintaan bukan JSON yang valid: Expecting property name enclosed in double quotes: line 1 column 2"
            " (char 1)",
        ),
        "invalid_request from a service": Case(
            "invalid_request",
            400,
            _post(test, "/api/v1/verifications", {"to": NUMBER, "fallback": ["sms"]}),
            "fallback may not name the primary channel 'sms'.",
            "fallback tidak boleh menyebut kanal utama 'sms'.",
            {"fallback": ["fallback may not name the primary channel 'sms'."]},
            {"fallback": ["fallback tidak boleh menyebut kanal utama 'sms'."]},
        ),
        "invalid_phone_number": Case(
            "invalid_phone_number",
            400,
            _post(test, "/api/v1/verifications", {"to": "12345"}),
            "Enter the number as 08..., 628... or +628... (other countries with a leading '+').",
            "Tulis nomor sebagai 08..., 628... atau +628... (negara lain diawali '+').",
            {"to": ["Enter the number as 08..., 628... or +628... (other countries with a leading '+')."]},
            {"to": ["Tulis nomor sebagai 08..., 628... atau +628... (negara lain diawali '+')."]},
        ),
        "not_otp_content": Case(
            "not_otp_content",
            400,
            _post(test, "/api/v1/messages", {"to": NUMBER, "text": "Hello there"}),
            "The text carries no 4–10 character code; this service sends verification codes only (R-CH-3).",
            "Teks tidak memuat kode 4–10 karakter; layanan ini hanya mengirim kode verifikasi (R-CH-3).",
            {"text": ["No 4-10 character code found."]},
            {"text": ["Tidak ditemukan kode 4-10 karakter."]},
            {"reason": "no_code"},
        ),
        "sender_id_not_active": Case(
            "sender_id_not_active",
            403,
            _post(live, "/api/v1/messages", {"to": NUMBER, "text": OTP_TEXT, "sender_id": "TOKOKU"}),
            "Sender ID 'TOKOKU' is not active for telkomsel.",
            "Sender ID 'TOKOKU' tidak aktif untuk telkomsel.",
            {"sender_id": ["Not active for telkomsel."]},
            {"sender_id": ["Tidak aktif untuk telkomsel."]},
        ),
        "not_found for an unknown path": Case(
            "not_found",
            404,
            _get(live, "/api/v1/nope"),
            "No endpoint at /api/v1/nope.",
            "Tidak ada endpoint di /api/v1/nope.",
        ),
        "not_found for a path with a stray slash": Case(
            "not_found",
            404,
            _get(live, "/api/v1/messages/"),
            "No endpoint at /api/v1/messages/. Did you mean /api/v1/messages?",
            "Tidak ada endpoint di /api/v1/messages/. Mungkin maksud Anda /api/v1/messages?",
            {"path": ["Did you mean /api/v1/messages?"]},
            {"path": ["Mungkin maksud Anda /api/v1/messages?"]},
        ),
        "not_found for an unknown id": Case(
            "not_found",
            404,
            _get(live, "/api/v1/verifications/ver_nope"),
            "No such verification.",
            "Verifikasi tidak ditemukan.",
        ),
        "method_not_allowed from DRF": Case(
            "method_not_allowed",
            405,
            lambda headers: live.delete("/api/v1/messages", **headers),
            'Method "DELETE" not allowed.',
            'Metode "DELETE" tidak diizinkan.',
        ),
        "method_not_allowed rewritten by ApiErrorMiddleware": Case(
            "method_not_allowed",
            405,
            lambda headers: Client().post("/api/v1/docs/", **headers),
            'Method "POST" not allowed.',
            'Metode "POST" tidak diizinkan.',
        ),
        "unauthenticated without a key": Case(
            "unauthenticated",
            401,
            _get(api_client(), "/api/v1/me"),
            "Authentication credentials were not provided.",
            "Data autentikasi tidak diberikan.",
        ),
        "unauthenticated with an unknown key": Case(
            "unauthenticated",
            401,
            _get(api_client("otp_live_" + "x" * 43), "/api/v1/me"),
            "Unknown or revoked API key.",
            "API key tidak dikenal atau sudah dicabut.",
        ),
    }


LANGUAGES = {
    "en": {},  # no Accept-Language: English
    "id": {"HTTP_ACCEPT_LANGUAGE": "id"},
}


def _error(response: Any, case: Case) -> dict[str, Any]:
    assert response.status_code == case.status, response.content[:400]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == case.code, body
    return body["error"]


def _assert_language_headers(response: Any, language: str) -> None:
    assert response["Content-Language"] == language
    assert "Accept-Language" in [v.strip() for v in response["Vary"].split(",")], response["Vary"]


def _assert_speaks(case: Case, cast: Cast) -> None:
    for language, headers in LANGUAGES.items():
        response = case.ask(headers)
        error = _error(response, case)
        message, texts = (case.en, case.en_details) if language == "en" else (case.id, case.id_details)
        assert error["message"] == message, (language, error)
        assert error["details"] == {**texts, **case.data}, (language, error)
        _assert_language_headers(response, language)
    assert case.en != case.id


@pytest.mark.parametrize(
    "name",
    [
        "invalid_request from DRF's field validation",
        "invalid_request: a DRF text DRF's catalogue leaves untranslated",
        "invalid_request: malformed JSON",
        "invalid_request from a service",
        "invalid_phone_number",
        "not_otp_content",
        "sender_id_not_active",
        "not_found for an unknown path",
        "not_found for a path with a stray slash",
        "not_found for an unknown id",
        "method_not_allowed from DRF",
        "method_not_allowed rewritten by ApiErrorMiddleware",
        "unauthenticated without a key",
        "unauthenticated with an unknown key",
    ],
)
def test_review_8_19_errors_are_english_by_default_and_indonesian_on_request(
    cast: Cast, settings: Any, name: str
) -> None:
    _assert_speaks(_cases(cast, settings)[name], cast)


def test_review_8_19_insufficient_balance_names_rupiah_the_same_way_in_both(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-1")
    DepositLot.objects.filter(customer=cast.acme).update(remaining=100)  # a nearly spent deposit
    case = Case(
        "insufficient_balance",
        402,
        _post(api_client(cast.acme_live_key), "/api/v1/messages", {"to": NUMBER, "text": OTP_TEXT}),
        "Your balance of Rp 100 cannot cover Rp 610.",
        "Saldo Anda sebesar Rp 100 tidak cukup untuk Rp 610.",
        data={"balance": 100, "price": 610},  # an SMS at tier 3 (a Rp 2.500.000 deposit)
    )
    _assert_speaks(case, cast)


def test_review_8_19_quota_exceeded_postpaid(cast: Cast, settings: Any) -> None:
    """The cap set up as in tests/billing/test_postpaid_guarantee_and_cap.py."""
    settings.POSTPAID_GUARANTEE_MIN = 325_000
    customer = CustomerFactory(slug="bank-besar", mode=Customer.Mode.POSTPAID)
    billing.guarantee_deposit(customer=customer, amount=325_000, reference="BCA-1")  # cap Rp 650.000
    for reference, units in (("a", 999), ("b", 1), ("c", 31)):  # 1.031 units at tier 2: Rp 649.530
        billing.charge(customer=customer, channel="sms", operator="telkomsel", units=units, reference=reference)
    key = accounts.api_key_create(customer=customer).secret
    case = Case(
        "quota_exceeded",
        402,
        _post(api_client(key), "/api/v1/messages", {"to": NUMBER, "text": OTP_TEXT}),
        "This month's usage would pass its cap of Rp 650.000.",
        "Pemakaian bulan ini akan melewati batasnya sebesar Rp 650.000.",
        data={"cap": 650_000, "used": 649_530, "price": 630},
    )
    _assert_speaks(case, cast)


def test_review_8_19_account_suspended(cast: Cast) -> None:
    accounts.customer_set_status(customer=cast.acme, status=Customer.Status.SUSPENDED, reason="unpaid")
    case = Case(
        "account_suspended",
        403,
        _post(api_client(cast.acme_test_key), "/api/v1/verifications", {"to": NUMBER}),
        "The account is suspended; sending is stopped until it is settled.",
        "Akun ditangguhkan; pengiriman dihentikan sampai masalahnya diselesaikan.",
        data={"status": "suspended"},
    )
    _assert_speaks(case, cast)


def test_review_8_19_idempotency_conflict(cast: Cast) -> None:
    client = api_client(cast.acme_test_key)
    key = {"HTTP_IDEMPOTENCY_KEY": "order-991"}
    assert client.post("/api/v1/verifications", {"to": NUMBER}, format="json", **key).status_code == 201
    case = Case(
        "idempotency_conflict",
        409,
        _post(client, "/api/v1/verifications", {"to": "081234567891"}, **key),
        "This Idempotency-Key was used with a different request.",
        "Idempotency-Key ini sudah dipakai untuk permintaan yang berbeda.",
        data={"Idempotency-Key": ["order-991"]},  # the key itself: data
    )
    _assert_speaks(case, cast)


def test_review_8_19_rate_limited_per_number(cast: Cast, settings: Any) -> None:
    settings.LIMIT_NUMBER_PER_HOUR = 1
    client = api_client(cast.acme_test_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        assert client.post("/api/v1/verifications", {"to": NUMBER}, format="json").status_code == 201
        case = Case(
            "rate_limited",
            429,
            _post(client, "/api/v1/verifications", {"to": NUMBER}),
            "Too many verifications for this number; at most 1 an hour.",
            "Terlalu banyak verifikasi untuk nomor ini; paling banyak 1 per jam.",
            data={"limit": "per_number", "to": "+6281234567890", "per_hour": 1, "retry_after": 3600},
        )
        _assert_speaks(case, cast)


def test_review_8_19_rate_limited_per_key_says_when_to_retry_in_the_request_language(cast: Cast, settings: Any) -> None:
    """DRF would append an untranslated "Expected available in N seconds."."""
    settings.LIMIT_KEY_RATE = 0.1
    settings.LIMIT_KEY_BURST = 1.0
    client = api_client(cast.acme_live_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        assert client.get("/api/v1/me").status_code == 200
        case = Case(
            "rate_limited",
            429,
            _get(client, "/api/v1/me"),
            "Too many requests for this API key. Retry in 10 s.",
            "Terlalu banyak permintaan untuk API key ini. Coba lagi dalam 10 detik.",
            data={"retry_after": 10},
        )
        _assert_speaks(case, cast)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("", "en"),
        ("en", "en"),
        ("id", "id"),
        ("id-ID", "id"),
        ("ID", "id"),
        ("id;q=0.9, en;q=0.8", "id"),
        ("en;q=0.8, id;q=0.9", "id"),
        ("en-US,en;q=0.9,id;q=0.8", "en"),
        ("id, en", "id"),
        ("en, id", "en"),
        ("fr", "en"),
        ("fr, id;q=0.5", "id"),
        ("*", "en"),
        ("id;q=0", "en"),
        ("not a header;;", "en"),
    ],
)
def test_review_8_19_the_api_language_is_the_best_match_of_accept_language(header: str, language: str) -> None:
    assert api_language(header) == language


@pytest.mark.parametrize("header", ["fr", "fr-FR, de;q=0.9", "*"])
def test_review_8_19_a_language_the_api_does_not_speak_falls_back_to_english(cast: Cast, header: str) -> None:
    response = api_client(cast.acme_live_key).get("/api/v1/verifications/ver_nope", HTTP_ACCEPT_LANGUAGE=header)
    assert response.json()["error"] == {"code": "not_found", "message": "No such verification.", "details": {}}
    _assert_language_headers(response, "en")


def test_review_8_19_q_values_pick_indonesian(cast: Cast) -> None:
    response = api_client(cast.acme_live_key).get(
        "/api/v1/verifications/ver_nope", HTTP_ACCEPT_LANGUAGE="fr;q=1.0, id;q=0.9, en;q=0.8"
    )
    assert response.json()["error"]["message"] == "Verifikasi tidak ditemukan."
    _assert_language_headers(response, "id")


def test_review_8_19_the_dashboard_language_cookie_does_not_change_the_api(cast: Cast) -> None:
    client = api_client(cast.acme_live_key)
    client.cookies["django_language"] = "id"
    response = client.get("/api/v1/verifications/ver_nope")
    assert response.json()["error"]["message"] == "No such verification."
    _assert_language_headers(response, "en")


def test_review_8_19_successful_api_answers_say_their_language_too(cast: Cast) -> None:
    response = api_client(cast.acme_live_key).get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="id")
    assert response.status_code == 200
    _assert_language_headers(response, "id")


def test_review_8_19_the_dashboard_stays_indonesian_for_an_english_browser(cast: Cast) -> None:
    """Not under /api/: ChosenLanguageMiddleware's rule, Accept-Language ignored."""
    page = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page.status_code == 200
    assert page["Content-Language"] == "id"
    assert "Accept-Language" not in page.get("Vary", "")
    chosen = Client()
    chosen.cookies["django_language"] = "en"
    assert chosen.get("/login/", HTTP_ACCEPT_LANGUAGE="id")["Content-Language"] == "en"


def test_review_8_19_the_api_language_holds_for_the_request_only() -> None:
    """The view runs in the request's language; the language active before
    it is active again afterwards; paths outside /api/ are left alone."""
    seen: list[str | None] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(translation.get_language())
        return HttpResponse("ok")

    middleware = ApiLanguageMiddleware(view)
    with translation.override("en"):
        response = middleware(RequestFactory().get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="id"))
        assert translation.get_language() == "en"
    with translation.override("id"):
        middleware(RequestFactory().get("/api/v1/me"))
        dashboard = middleware(RequestFactory().get("/billing/", HTTP_ACCEPT_LANGUAGE="en"))
        assert translation.get_language() == "id"
    assert seen == ["id", "en", "id"]
    assert response["Content-Language"] == "id" and "Accept-Language" in response["Vary"]
    assert "Content-Language" not in dashboard and "Vary" not in dashboard


def test_review_8_19_staff_commands_print_english_even_when_indonesian_is_active(cast: Cast) -> None:
    """A command re-raises a service's refusal; outside a request Django runs
    commands in LANGUAGE_CODE (Indonesian), so commands switch to English."""
    with translation.override("id"):
        with pytest.raises(ServiceError) as service_refusal:
            billing.lot_create(customer=cast.acme, amount=0, reference="BCA-0")
        with pytest.raises(CommandError) as refused:
            call_command("topup", "acme", "0", stdout=StringIO())
        assert translation.get_language() == "id"  # restored after the command
    assert service_refusal.value.message == "Jumlah harus lebih dari nol."  # the service follows the active language
    assert str(refused.value) == "amount must be positive."


def test_review_8_19_what_workers_store_stays_english_whatever_language_is_active(cast: Cast, settings: Any) -> None:
    """Texts written to the database by the dispatch and webhook workers are
    fixed English, never the language of the request or thread that ran them."""
    settings.SANDBOX_FAIL_NUMBERS = ["+6281234567890"]
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    client = api_client(cast.acme_test_key)
    indonesian = {"HTTP_ACCEPT_LANGUAGE": "id"}
    sent = client.post("/api/v1/messages", {"to": NUMBER, "text": OTP_TEXT}, format="json", **indonesian)
    hook = client.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}, format="json", **indonesian)
    assert (sent.status_code, hook.status_code) == (201, 201)
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False  # the delivery is refused (Review 8.7)
    delivery = messaging.test_event_send(customer=cast.acme, endpoint_id=hook.json()["id"])
    with translation.override("id"):
        messaging.message_dispatch(message_id=sent.json()["id"])
        messaging.delivery_attempt(delivery_id=delivery.pk)
    message = Message.objects.get(pk=sent.json()["id"])
    assert message.error_message == "The sandbox refuses this number (SANDBOX_FAIL_NUMBERS)."
    delivery.refresh_from_db()
    assert (
        delivery.last_error == "Refused: the URL's address is private, loopback or reserved, or the URL is not allowed"
    )
