"""Integrator endpoints of billing: the balance (api-contract "Money")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Customer
from billing import selectors


class LotOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.IntegerField()
    remaining = serializers.IntegerField()
    tier = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class BalanceApi(APIView):
    @extend_schema(
        operation_id="balance",
        summary="Deposit balance (prepaid) or this month's usage (postpaid)",
        responses=inline_serializer(
            "Balance",
            fields={
                "mode": serializers.ChoiceField(choices=Customer.Mode.choices),
                "balance": serializers.IntegerField(required=False),
                "lots": LotOutSerializer(many=True, required=False),
                "guarantee": serializers.IntegerField(required=False),
                "cap": serializers.IntegerField(required=False),
                "month": inline_serializer(
                    "MonthUsage",
                    fields={
                        "units": serializers.IntegerField(),
                        "tier": serializers.IntegerField(),
                        "amount": serializers.IntegerField(),
                    },
                    required=False,
                ),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        customer = request.auth.customer
        if customer.mode == Customer.Mode.POSTPAID:
            month = selectors.postpaid_month(customer=customer)
            guarantee = 0  # R-POST-1 guarantee deposits arrive with the postpaid work
            return Response(
                {
                    "mode": "postpaid",
                    "guarantee": guarantee,
                    "cap": 2 * guarantee,
                    "month": {"units": month.units, "tier": month.tier, "amount": month.amount},
                }
            )
        lots = list(selectors.usable_lots(customer=customer))
        return Response(
            {
                "mode": "prepaid",
                "balance": sum(lot.remaining for lot in lots),
                "lots": LotOutSerializer(lots, many=True).data,
            }
        )
