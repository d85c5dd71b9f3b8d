"""Integrator endpoints: verifications, messages, quote, sandbox, webhooks.

Thin edges (style.md #3): an input serializer checks the shape, one service
or selector does the work, an output serializer renders the contract.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import services as billing
from messaging import content, phones, selectors, services
from messaging.encoding import measure
from messaging.idempotency import idempotent
from messaging.models import Channel, Message, Verification, WebhookEndpoint
from messaging.providers import registry
from otpportal.errors import ServiceError

IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="≤ 64 chars; the same key and body within 24 h replays the first response.",
)


# --- serializers ----------------------------------------------------------


class VerificationStartIn(serializers.Serializer):
    to = serializers.CharField(max_length=40)
    channel = serializers.ChoiceField(choices=Channel.choices, default="sms")
    fallback = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices), required=False, max_length=2
    )
    code_length = serializers.IntegerField(min_value=4, max_value=10, default=6)
    ttl = serializers.IntegerField(min_value=60, max_value=3600, default=300)
    locale = serializers.ChoiceField(choices=["id", "en"], default="id")
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    app_hash = serializers.CharField(min_length=11, max_length=11, required=False, allow_blank=True, default="")


class VerificationOut(serializers.Serializer):
    id = serializers.CharField()
    to = serializers.CharField()
    channel = serializers.CharField()
    operator = serializers.CharField()
    status = serializers.ChoiceField(choices=Verification.Status.choices)
    expires_at = serializers.DateTimeField()
    attempts_left = serializers.IntegerField()
    sends = serializers.IntegerField()
    units = serializers.IntegerField()
    price = serializers.IntegerField()
    message_id = serializers.CharField()
    reference = serializers.CharField()
    fallback = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


def verification_data(verification: Verification, message: Message | None) -> dict[str, Any]:
    data = {
        "id": verification.id,
        "to": verification.to,
        "channel": verification.channel,
        "operator": verification.operator,
        "status": verification.status,
        "expires_at": verification.expires_at,
        "attempts_left": verification.attempts_left,
        "sends": verification.sends,
        "units": message.units if message else 0,
        "price": message.price if message else 0,
        "message_id": message.id if message else "",
        "reference": verification.reference,
        "fallback": verification.fallback,
        "created_at": verification.created_at,
    }
    return VerificationOut(data).data


class CheckIn(serializers.Serializer):
    code = serializers.CharField(max_length=10)


class CheckByNumberIn(CheckIn):
    to = serializers.CharField(max_length=40)


class CheckOut(serializers.Serializer):
    id = serializers.CharField()
    valid = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Verification.Status.choices)
    attempts_left = serializers.IntegerField()


class ResendIn(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)


class MessageIn(serializers.Serializer):
    to = serializers.CharField(max_length=40)
    channel = serializers.ChoiceField(choices=Channel.choices, default="sms")
    text = serializers.CharField(max_length=1600, trim_whitespace=False)
    sender_id = serializers.CharField(max_length=11, required=False, allow_blank=True, default="")
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class MessageOut(serializers.ModelSerializer):
    verification_id = serializers.CharField(allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "to",
            "channel",
            "operator",
            "status",
            "units",
            "price",
            "sender_id",
            "encoding",
            "verification_id",
            "reference",
            "error_code",
            "created_at",
            "updated_at",
            "sent_at",
            "delivered_at",
        ]


class QuoteOut(serializers.Serializer):
    operator = serializers.CharField()
    encoding = serializers.CharField()
    units = serializers.IntegerField()
    unit_price = serializers.IntegerField()
    price = serializers.IntegerField()
    tier = serializers.IntegerField()


class SandboxOut(serializers.Serializer):
    id = serializers.CharField(source="message_id")
    to = serializers.CharField()
    channel = serializers.CharField()
    sender_id = serializers.CharField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class WebhookIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEndpoint.Event.choices), required=False)


class WebhookOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "created_at"]


class WebhookCreatedOut(WebhookOut):
    class Meta(WebhookOut.Meta):
        fields = [*WebhookOut.Meta.fields, "secret"]


def _parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class Cursor(CursorPagination):
    ordering = "-id"  # ids are time-ordered: newest first, stable cursors
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


# --- verifications -----------------------------------------------------------


class VerificationsApi(APIView):
    @extend_schema(
        operation_id="verifications_create",
        request=VerificationStartIn,
        responses={201: VerificationOut},
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _parse(VerificationStartIn, request.data)
        verification, message = services.verification_start(api_key=request.auth, **data)
        return Response(verification_data(verification, message), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="verifications_list",
        responses=VerificationOut(many=True),
        parameters=[OpenApiParameter("status", str), OpenApiParameter("to", str)],
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.verifications(customer=request.auth.customer, **_filters(request, ("status", "to")))
        paginator = Cursor()
        page = paginator.paginate_queryset(queryset, request, view=self)
        latest = selectors.latest_messages(verifications=page)
        return paginator.get_paginated_response([verification_data(v, latest.get(v.id)) for v in page])


def _filters(request: Request, names: tuple[str, ...]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name in names:
        value = request.query_params.get(name)
        if value in (None, ""):
            continue
        if name == "to":
            value = phones.parse(value, require_operator=False).e164
        elif name in ("created_after", "created_before"):
            field = serializers.DateTimeField()
            try:
                value = field.to_internal_value(value)
            except serializers.ValidationError:
                raise ServiceError(
                    "invalid_request", f"{name} must be an ISO 8601 time.", details={name: ["ISO 8601 expected."]}
                ) from None
        elif name == "status" and value not in {*Message.Status.values, *Verification.Status.values}:
            raise ServiceError("invalid_request", f"Unknown status {value!r}.", details={name: ["Unknown."]})
        elif name == "channel" and value not in Channel.values:
            raise ServiceError("invalid_request", f"Unknown channel {value!r}.", details={name: ["Unknown."]})
        result[name] = value
    return result


class VerificationDetailApi(APIView):
    @extend_schema(operation_id="verifications_retrieve", responses=VerificationOut)
    def get(self, request: Request, verification_id: str) -> Response:
        verification = selectors.verification(customer=request.auth.customer, verification_id=verification_id)
        return Response(verification_data(verification, selectors.latest_message(verification=verification)))


class VerificationCheckApi(APIView):
    @extend_schema(operation_id="verifications_check", request=CheckIn, responses=CheckOut)
    def post(self, request: Request, verification_id: str) -> Response:
        data = _parse(CheckIn, request.data)
        verification, valid = services.verification_check(
            customer=request.auth.customer, verification_id=verification_id, code=data["code"]
        )
        return Response(_check_data(verification, valid))


class VerificationCheckByNumberApi(APIView):
    @extend_schema(operation_id="verifications_check_by_number", request=CheckByNumberIn, responses=CheckOut)
    def post(self, request: Request) -> Response:
        data = _parse(CheckByNumberIn, request.data)
        verification, valid = services.verification_check(
            customer=request.auth.customer, to=data["to"], code=data["code"]
        )
        return Response(_check_data(verification, valid))


def _check_data(verification: Verification, valid: bool) -> dict[str, Any]:
    return CheckOut(
        {
            "id": verification.id,
            "valid": valid,
            "status": verification.status,
            "attempts_left": verification.attempts_left,
        }
    ).data


class VerificationResendApi(APIView):
    @extend_schema(
        operation_id="verifications_resend", request=ResendIn, responses=VerificationOut, parameters=[IDEMPOTENCY_PARAM]
    )
    @idempotent
    def post(self, request: Request, verification_id: str) -> Response:
        data = _parse(ResendIn, request.data or {})
        verification, message = services.verification_resend(
            api_key=request.auth, verification_id=verification_id, channel=data.get("channel")
        )
        return Response(verification_data(verification, message))


class VerificationCancelApi(APIView):
    @extend_schema(operation_id="verifications_cancel", request=None, responses=VerificationOut)
    def post(self, request: Request, verification_id: str) -> Response:
        verification = services.verification_cancel(customer=request.auth.customer, verification_id=verification_id)
        return Response(verification_data(verification, selectors.latest_message(verification=verification)))


# --- messages ------------------------------------------------------------------


class MessagesApi(APIView):
    @extend_schema(
        operation_id="messages_create", request=MessageIn, responses={201: MessageOut}, parameters=[IDEMPOTENCY_PARAM]
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _parse(MessageIn, request.data)
        message = services.message_send(api_key=request.auth, **data)
        return Response(MessageOut(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="messages_list",
        responses=MessageOut(many=True),
        parameters=[OpenApiParameter(n, str) for n in ("status", "channel", "to", "created_after", "created_before")]
        + [OpenApiParameter("cursor", str), OpenApiParameter("limit", int)],
    )
    def get(self, request: Request) -> Response:
        queryset: QuerySet[Message] = selectors.messages(
            customer=request.auth.customer,
            **_filters(request, ("status", "channel", "to", "created_after", "created_before")),
        )
        paginator = Cursor()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(MessageOut(page, many=True).data)


class MessageDetailApi(APIView):
    @extend_schema(operation_id="messages_retrieve", responses=MessageOut)
    def get(self, request: Request, message_id: str) -> Response:
        return Response(MessageOut(selectors.message(customer=request.auth.customer, message_id=message_id)).data)


# --- pricing, sandbox, webhooks --------------------------------------------------------


class QuoteApi(APIView):
    @extend_schema(
        operation_id="pricing_quote",
        parameters=[
            OpenApiParameter("to", str, required=True),
            OpenApiParameter("channel", str),
            OpenApiParameter("text", str),
        ],
        responses=QuoteOut,
    )
    def get(self, request: Request) -> Response:
        customer = request.auth.customer
        channel = request.query_params.get("channel") or "sms"
        if channel not in Channel.values:
            raise ServiceError("invalid_request", f"Unknown channel {channel!r}.", details={"channel": ["Unknown."]})
        to = request.query_params.get("to")
        if not to:
            raise ServiceError("invalid_phone_number", "to is required.", details={"to": ["Required."]})
        phone = phones.parse(to, require_operator=channel == Channel.SMS)
        text = request.query_params.get("text")
        if text is None:
            text = content.render_verification_text(
                template=None,
                locale="id",
                brand=customer.display_brand,
                code="123456",
                ttl_seconds=300,
                channel=channel,
            )
        if len(text) > 1600:
            raise ServiceError(
                "invalid_request", "text is longer than 1600 characters.", details={"text": ["Too long."]}
            )
        measured = measure(text, channel)
        operator = phone.operator.value if phone.operator else ""
        q = billing.quote(customer=customer, channel=channel, operator=operator, units=max(1, measured.units))
        return Response(
            QuoteOut(
                {
                    "operator": operator,
                    "encoding": measured.encoding,
                    "units": q.units,
                    "unit_price": q.unit_price,
                    "price": q.price,
                    "tier": q.tier,
                }
            ).data
        )


class SandboxMessagesApi(APIView):
    @extend_schema(
        operation_id="sandbox_messages", parameters=[OpenApiParameter("to", str)], responses=SandboxOut(many=True)
    )
    def get(self, request: Request) -> Response:
        if not request.auth.is_test and not registry.sandbox_is_live():
            raise ServiceError("permission_denied", "Live keys read the sandbox only where it is the provider.")
        to = request.query_params.get("to")
        e164 = phones.parse(to, require_operator=False).e164 if to else None
        rows = selectors.sandbox_messages(customer=request.auth.customer, to=e164)
        return Response(SandboxOut(rows, many=True).data)


class WebhooksApi(APIView):
    @extend_schema(operation_id="webhooks_list", responses=WebhookOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(WebhookOut(selectors.webhook_endpoints(customer=request.auth.customer), many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookIn,
        responses={201: WebhookCreatedOut},
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _parse(WebhookIn, request.data)
        endpoint = services.endpoint_create(customer=request.auth.customer, url=data["url"], events=data.get("events"))
        return Response(WebhookCreatedOut(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(operation_id="webhooks_delete", responses={204: None})
    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.endpoint_delete(customer=request.auth.customer, endpoint_id=endpoint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
