"""Webhooks the WhatsApp providers call: delivery reports in, nothing else.

Routes (in the project's urls.py)::

    /webhooks/wa-cloud     wa_cloud_webhook    Meta: GET hub.challenge handshake, POST signed statuses
    /webhooks/wa-gateway   wa_gateway_webhook  our gateway contract: POST signed status callbacks

A POST is checked against its HMAC signature over the raw body before
anything is parsed (403, nothing applied, on a missing or bad signature),
then each ``DeliveryReport`` goes to ``messaging.services.delivery_record``,
which de-duplicates and applies statuses in order. A valid, signed POST gets
a quick 200 even when it carries unknown ids or only inbound user messages
(R-CH-2: ignored), so the upstream stops redelivering it. If recording
raises (the database is down) the answer is 500, so the upstream redelivers
later; redelivery is safe because ``delivery_record`` de-duplicates.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messaging.providers import wa_cloud, wa_gateway
from messaging.providers.base import DeliveryReport

logger = logging.getLogger(__name__)


def _record(report: DeliveryReport) -> object:
    """Hand one report to the service layer (imported late: views load before services are ready)."""
    from messaging import services

    return services.delivery_record(report)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wa_cloud_webhook(request: HttpRequest) -> HttpResponse:
    config = wa_cloud.WaCloudConfig.from_settings()
    if request.method == "GET":
        return _hub_challenge(request, config.verify_token)
    if not wa_cloud.verify_signature(request.body, request.headers.get(wa_cloud.SIGNATURE_HEADER), config.app_secret):
        logger.warning("wa_cloud webhook: missing or bad signature, %d bytes refused", len(request.body))
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    payload = _json_body(request)
    if not isinstance(payload, dict):
        return HttpResponse("body must be a JSON object", status=400, content_type="text/plain")
    return _apply("wa_cloud", wa_cloud.parse_callback, payload)


@csrf_exempt
@require_http_methods(["POST"])
def wa_gateway_webhook(request: HttpRequest) -> HttpResponse:
    config = wa_gateway.WaGatewayConfig.from_settings()
    header = request.headers.get(wa_gateway.SIGNATURE_HEADER)
    if not wa_gateway.verify_signature(request.body, header, config.callback_secret):
        logger.warning("wa_gateway webhook: missing or bad signature, %d bytes refused", len(request.body))
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    payload = _json_body(request)
    if not isinstance(payload, dict | list):
        return HttpResponse("body must be a JSON object or array", status=400, content_type="text/plain")
    return _apply("wa_gateway", wa_gateway.parse_callback, payload)


def _hub_challenge(request: HttpRequest, verify_token: str) -> HttpResponse:
    """Meta's subscription handshake: echo hub.challenge when hub.verify_token is ours."""
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    if (
        mode == "subscribe"
        and verify_token
        and challenge
        and hmac.compare_digest(token.encode(), verify_token.encode())
    ):
        return HttpResponse(challenge, content_type="text/plain")
    logger.warning("wa_cloud webhook: verification handshake refused (mode %r)", mode)
    return HttpResponse("forbidden", status=403, content_type="text/plain")


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        logger.warning("webhook %s: signed body is not JSON", request.path)
        return None


def _apply(provider: str, parse: Callable[[Any], list[DeliveryReport]], payload: Any) -> HttpResponse:
    reports = parse(payload)
    failed = 0
    for report in reports:
        try:
            _record(report)
        except Exception:
            failed += 1
            logger.exception("%s webhook: recording %s failed", provider, report.provider_message_id)
    if failed:
        return JsonResponse({"received": len(reports), "failed": failed}, status=500)
    return JsonResponse({"received": len(reports)})
