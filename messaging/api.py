"""Integrator endpoints: verifications, messages, quote, sandbox, webhooks.

Thin edges (style.md #3): an input serializer checks the shape, one service
or selector does the work, an output serializer renders the contract.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import IDEMPOTENCY_PARAM, idempotent
from accounts.models import ApiKey
from billing import services as billing
from messaging import content, phones, selectors, services
from messaging.encoding import measure
from messaging.filters import ListFilter, MessageFilter, VerificationFilter
from messaging.models import Channel, Message, Verification, WebhookEndpoint
from messaging.providers import registry
from otpportal.errors import ServiceError
from otpportal.represent import represent, validated
from otpportal.schema import errors

# Refusals of a send (verifications and messages), besides every operation's (otpportal.schema).
SEND_ERRORS = ("invalid_phone_number", "insufficient_balance", "quota_exceeded", "account_suspended")
SEND_ERRORS += ("guarantee_required", "idempotency_conflict")

# --- serializers ----------------------------------------------------------


class ModeField(serializers.ChoiceField):
    """Review 8.21: ``live`` or ``test``, from the row's ``is_test`` (the key that sent it)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "is_test")
        kwargs.setdefault("help_text", "`test`: sent with a test key (sandbox, never charged); else `live`.")
        super().__init__(choices=ApiKey.Mode.choices, read_only=True, **kwargs)

    def to_representation(self, value: bool) -> str:
        return ApiKey.Mode.TEST if value else ApiKey.Mode.LIVE


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
    mode = ModeField()
    created_at = serializers.DateTimeField()


def verification_data(verification: Verification, message: Message | None) -> dict[str, Any]:
    # issue 11: the fields built once, not per call
    return represent(VerificationOut, verification_fields(verification, message))


def verification_fields(verification: Verification, message: Message | None) -> dict[str, Any]:
    """What ``VerificationOut`` renders: a verification with its latest message."""
    return {
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
        "is_test": verification.is_test,
        "created_at": verification.created_at,
    }


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
    mode = ModeField()

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
            "mode",
            "created_at",
            "updated_at",
            "sent_at",
            "delivered_at",
        ]


class QuoteIn(serializers.Serializer):
    to = serializers.CharField(max_length=40, help_text="Destination number: 08…, 628… or +628….")
    channel = serializers.ChoiceField(choices=Channel.choices, default="sms")
    text = serializers.CharField(
        max_length=1600,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The text to price; default: the standard verification text.",
    )


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
    return validated(serializer_class, data)  # issue 11: the serializer built once per thread


class Cursor(CursorPagination):
    ordering = "-id"  # ids are time-ordered: newest first, stable cursors
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


class KeyModeFilterBackend(DjangoFilterBackend):
    """django-filter for the API's lists: a refused value raises a DRF
    ValidationError (400 ``invalid_request`` naming the field, Review 8.26);
    without ``?mode=`` a list shows the calling key's mode only (Review 8.21)."""

    def get_filterset_kwargs(self, request: Request, queryset: QuerySet[Any], view: Any) -> dict[str, Any]:
        return {**super().get_filterset_kwargs(request, queryset, view), "default_mode": request.auth.mode}


# A cursor-paginated list filtered by ``filterset_class``; the schema documents
# both from the class attributes. ``queryset`` only names the model for the
# schema: the rows come from ``get_queryset`` (a selector scoped to the key's
# customer). (A comment, not a docstring: drf-spectacular would show it.)
class FilteredListApi(GenericAPIView):
    filter_backends = [KeyModeFilterBackend]
    filterset_class: type[ListFilter]
    pagination_class = Cursor

    def list_page(self) -> list[Any]:
        return self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []


# --- verifications -----------------------------------------------------------


class VerificationsApi(FilteredListApi):
    queryset = Verification.objects.none()
    filterset_class = VerificationFilter

    def get_queryset(self) -> QuerySet[Verification]:
        return selectors.verifications(customer=self.request.auth.customer)

    @extend_schema(
        operation_id="verifications_create",
        request=VerificationStartIn,
        responses={201: VerificationOut, **errors(*SEND_ERRORS, body=True)},
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _parse(VerificationStartIn, request.data)
        verification, message = services.verification_start(api_key=request.auth, **data)
        return Response(verification_data(verification, message), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="verifications_list", responses={200: VerificationOut(many=True), **errors("not_found")}
    )
    def get(self, request: Request) -> Response:
        page = self.list_page()
        latest = selectors.latest_messages(verifications=page)
        return self.get_paginated_response([verification_data(v, latest.get(v.id)) for v in page])


class VerificationDetailApi(APIView):
    @extend_schema(operation_id="verifications_retrieve", responses={200: VerificationOut, **errors("not_found")})
    def get(self, request: Request, verification_id: str) -> Response:
        verification = selectors.verification(customer=request.auth.customer, verification_id=verification_id)
        return Response(verification_data(verification, selectors.latest_message(verification=verification)))


class VerificationCheckApi(APIView):
    @extend_schema(
        operation_id="verifications_check", request=CheckIn, responses={200: CheckOut, **errors("not_found", body=True)}
    )
    def post(self, request: Request, verification_id: str) -> Response:
        data = _parse(CheckIn, request.data)
        verification, valid = services.verification_check(
            customer=request.auth.customer, verification_id=verification_id, code=data["code"]
        )
        return Response(_check_data(verification, valid))


class VerificationCheckByNumberApi(APIView):
    @extend_schema(
        operation_id="verifications_check_by_number",
        request=CheckByNumberIn,
        responses={200: CheckOut, **errors("invalid_phone_number", "not_found", body=True)},
    )
    def post(self, request: Request) -> Response:
        data = _parse(CheckByNumberIn, request.data)
        verification, valid = services.verification_check(
            customer=request.auth.customer, to=data["to"], code=data["code"]
        )
        return Response(_check_data(verification, valid))


def _check_data(verification: Verification, valid: bool) -> dict[str, Any]:
    return represent(
        CheckOut,
        {
            "id": verification.id,
            "valid": valid,
            "status": verification.status,
            "attempts_left": verification.attempts_left,
        },
    )


class VerificationResendApi(APIView):
    @extend_schema(
        operation_id="verifications_resend",
        request=ResendIn,
        responses={
            200: VerificationOut,
            **errors(*SEND_ERRORS, "not_found", "resend_too_soon", "max_sends_reached", body=True),
        },
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request, verification_id: str) -> Response:
        data = _parse(ResendIn, request.data or {})
        verification, message = services.verification_resend(
            api_key=request.auth, verification_id=verification_id, channel=data.get("channel")
        )
        return Response(verification_data(verification, message))


class VerificationCancelApi(APIView):
    @extend_schema(
        operation_id="verifications_cancel", request=None, responses={200: VerificationOut, **errors("not_found")}
    )
    def post(self, request: Request, verification_id: str) -> Response:
        verification = services.verification_cancel(customer=request.auth.customer, verification_id=verification_id)
        return Response(verification_data(verification, selectors.latest_message(verification=verification)))


# --- messages ------------------------------------------------------------------


class MessagesApi(FilteredListApi):
    queryset = Message.objects.none()
    filterset_class = MessageFilter

    def get_queryset(self) -> QuerySet[Message]:
        return selectors.messages(customer=self.request.auth.customer)

    @extend_schema(
        operation_id="messages_create",
        request=MessageIn,
        responses={201: MessageOut, **errors(*SEND_ERRORS, "not_otp_content", "sender_id_not_active", body=True)},
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _parse(MessageIn, request.data)
        message = services.message_send(api_key=request.auth, **data)
        return Response(represent(MessageOut, message), status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="messages_list", responses={200: MessageOut(many=True), **errors("not_found")})
    def get(self, request: Request) -> Response:
        return self.get_paginated_response(MessageOut(self.list_page(), many=True).data)


class MessageDetailApi(APIView):
    @extend_schema(operation_id="messages_retrieve", responses={200: MessageOut, **errors("not_found")})
    def get(self, request: Request, message_id: str) -> Response:
        return Response(MessageOut(selectors.message(customer=request.auth.customer, message_id=message_id)).data)


# --- pricing, sandbox, webhooks --------------------------------------------------------


class QuoteApi(APIView):
    @extend_schema(
        operation_id="pricing_quote", parameters=[QuoteIn], responses={200: QuoteOut, **errors("invalid_phone_number")}
    )
    def get(self, request: Request) -> Response:
        customer = request.auth.customer
        # Review 8.20: a missing `to` is invalid_request naming the field; a `to`
        # that is there but not a number is invalid_phone_number (phones.parse).
        params = {name: value for name, value in request.query_params.items() if value or name == "text"}
        data = _parse(QuoteIn, params)
        channel = data["channel"]
        phone = phones.parse(data["to"], require_operator=channel == Channel.SMS)
        text = data.get("text")
        if text is None:
            text = content.render_verification_text(
                template=None,
                locale="id",
                brand=customer.display_brand,
                code="123456",
                ttl_seconds=300,
                channel=channel,
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
        operation_id="sandbox_messages",
        parameters=[OpenApiParameter("to", str)],
        responses={200: SandboxOut(many=True), **errors("invalid_phone_number", "permission_denied")},
    )
    def get(self, request: Request) -> Response:
        if not request.auth.is_test and not registry.sandbox_is_live():
            raise ServiceError("permission_denied", _("Live keys read the sandbox only where it is the provider."))
        to = request.query_params.get("to")
        e164 = phones.parse(to, require_operator=False).e164 if to else None
        rows = selectors.sandbox_messages(customer=request.auth.customer, to=e164)
        return Response(SandboxOut(rows, many=True).data)


class WebhooksApi(APIView):
    @extend_schema(operation_id="webhooks_list", responses={200: WebhookOut(many=True), **errors()})
    def get(self, request: Request) -> Response:
        return Response(WebhookOut(selectors.webhook_endpoints(customer=request.auth.customer), many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookIn,
        responses={201: WebhookCreatedOut, **errors("idempotency_conflict", body=True)},
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _parse(WebhookIn, request.data)
        endpoint = services.endpoint_create(
            customer=request.auth.customer, url=data["url"], events=data.get("events"), api_key=request.auth
        )
        return Response(WebhookCreatedOut(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(operation_id="webhooks_delete", responses={204: None, **errors("not_found")})
    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.endpoint_delete(customer=request.auth.customer, endpoint_id=endpoint_id, api_key=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
