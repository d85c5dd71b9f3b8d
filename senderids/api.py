"""Integrator endpoints of sender IDs (api-contract "Sender IDs"):
``GET|POST /api/v1/sender-ids``, ``GET /api/v1/sender-ids/{id}`` (status
per operator, with history and the expected dates).

Thin edges (style.md #3): an input serializer checks the shape, one service
or selector does the work, ``sender_id_data`` renders the contract.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import IDEMPOTENCY_PARAM, idempotent
from billing.models import Operator
from otpportal.errors import ServiceError
from otpportal.schema import errors
from senderids import selectors, services
from senderids.models import Registration, RegistrationStatusChange, SenderId

# --- serializers ----------------------------------------------------------------


class SenderIdApplyIn(serializers.Serializer):
    name = serializers.CharField(max_length=40, help_text="3–11 letters, digits or spaces; not only digits.")
    brand = serializers.CharField(max_length=200, help_text="The brand, business or product the name stands for.")
    operators = serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=10,
        help_text="Repeat the field (or separate with commas): telkomsel, xl, indosat, three, smartfren.",
    )
    form = serializers.FileField(
        allow_empty_file=True, help_text="The signed appointment form: PDF, JPEG or PNG, at most 5 MB."
    )
    accept_fees = serializers.BooleanField(
        default=False, help_text="Required (true) when the application has a fee (Smartfren: Rp 100.000)."
    )


class FeeOut(serializers.Serializer):
    operator = serializers.ChoiceField(choices=Operator.choices)
    # A CharField, not an enum: another enum field named "kind" would rename billing's invoice kinds in the schema.
    kind = serializers.CharField(help_text="`registration` (Smartfren) or `reactivation` (Three).")
    amount = serializers.IntegerField(help_text="Whole rupiah.")
    billed_to = serializers.ChoiceField(
        choices=[("deposit", "deposit"), ("invoice", "invoice")], required=False, help_text="Where the fee went."
    )


class HistoryOut(serializers.Serializer):
    old = serializers.CharField(help_text="Empty for the first row.")
    new = serializers.ChoiceField(choices=Registration.Status.choices)
    note = serializers.CharField()
    at = serializers.DateTimeField()


class RegistrationOut(serializers.Serializer):
    operator = serializers.ChoiceField(choices=Operator.choices)
    route = serializers.CharField(help_text='Telkomsel: "premium" (OTP); blank for the other operators.')
    status = serializers.ChoiceField(choices=Registration.Status.choices)
    submitted_at = serializers.DateTimeField()
    expected_from = serializers.DateField(help_text="7 working days after submission.")
    expected_by = serializers.DateField(help_text="30 working days after submission.")
    status_changed_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    reactivation_requested_at = serializers.DateTimeField(allow_null=True)
    history = HistoryOut(many=True, required=False, help_text="Only in GET /sender-ids/{id}.")


class SenderIdOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    brand = serializers.CharField()
    form_type = serializers.ChoiceField(choices=SenderId.FormKind.choices)
    created_at = serializers.DateTimeField()
    registrations = RegistrationOut(many=True)
    fees = FeeOut(many=True, required=False, help_text="Only in the POST answer: the fees billed.")


def _history(change: RegistrationStatusChange) -> dict[str, Any]:
    return {"old": change.old, "new": change.new, "note": change.reason, "at": change.created_at}


def registration_data(row: Registration, *, history: bool) -> dict[str, Any]:
    data = {
        "operator": row.operator,
        "route": row.route,
        "status": row.status,
        "submitted_at": row.submitted_at,
        "expected_from": row.expected_from,
        "expected_by": row.expected_by,
        "status_changed_at": row.status_changed_at,
        "activated_at": row.activated_at,
        "reactivation_requested_at": row.reactivation_requested_at,
    }
    if history:
        data["history"] = [_history(change) for change in row.history.all()]
    return data


def sender_id_data(row: SenderId, *, history: bool = False) -> dict[str, Any]:
    return {
        "id": row.pk,
        "name": row.name,
        "brand": row.brand,
        "form_type": row.form_kind,
        "created_at": row.created_at,
        "registrations": [registration_data(r, history=history) for r in row.registrations.all()],
    }


# --- views ----------------------------------------------------------------------


class SenderIdsApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(operation_id="sender_ids_list", responses={200: SenderIdOut(many=True), **errors()})
    def get(self, request: Request) -> Response:
        rows = selectors.sender_ids(customer=request.auth.customer)
        return Response(SenderIdOut([sender_id_data(row) for row in rows], many=True).data)

    @extend_schema(
        operation_id="sender_ids_create",
        summary="Apply for a custom sender ID (multipart, with the signed form)",
        request={"multipart/form-data": SenderIdApplyIn},
        responses={
            201: SenderIdOut,
            **errors(
                "invalid_file",
                "fees_not_accepted",
                "permission_denied",
                "account_suspended",
                "deposit_required",
                "sender_id_taken",
                "sender_id_exists",
                "invalid_transition",
                "idempotency_conflict",
                body=True,
            ),
        },
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        if request.auth.is_test:
            raise ServiceError("permission_denied", _("Apply for a sender ID with a live key: its fees are real."))
        data = request.data
        operators = data.getlist("operators") if hasattr(data, "getlist") else data.get("operators")
        serializer = SenderIdApplyIn(data={**{k: data.get(k) for k in data}, "operators": operators or []})
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        result = services.sender_id_apply(
            customer=request.auth.customer,
            name=values["name"],
            brand=values["brand"],
            operators=values["operators"],
            form=values["form"],
            accept_fees=values["accept_fees"],
            applied_by=None,
            api_key=request.auth,
        )
        body = sender_id_data(result.sender_id, history=True)
        body["fees"] = result.fees
        return Response(SenderIdOut(body).data, status=status.HTTP_201_CREATED)


class SenderIdDetailApi(APIView):
    @extend_schema(operation_id="sender_ids_retrieve", responses={200: SenderIdOut, **errors("not_found")})
    def get(self, request: Request, sender_id: str) -> Response:
        row = selectors.sender_id(customer=request.auth.customer, sender_id=sender_id)
        return Response(SenderIdOut(sender_id_data(row, history=True)).data)
