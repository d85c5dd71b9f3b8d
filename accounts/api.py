"""Integrator endpoints of the accounts app."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey, Customer
from otpportal.schema import errors


class CustomerOutSerializer(serializers.Serializer[Customer]):
    slug = serializers.CharField()
    name = serializers.CharField()
    mode = serializers.ChoiceField(choices=Customer.Mode.choices)
    status = serializers.ChoiceField(choices=Customer.Status.choices)


class KeyOutSerializer(serializers.Serializer[ApiKey]):
    prefix = serializers.CharField()
    mode = serializers.ChoiceField(choices=ApiKey.Mode.choices)


class MeApi(APIView):
    @extend_schema(
        operation_id="me",
        summary="Who am I",
        responses={
            200: inline_serializer("Me", fields={"customer": CustomerOutSerializer(), "key": KeyOutSerializer()}),
            **errors(),
        },
    )
    def get(self, request: Request) -> Response:
        api_key: ApiKey = request.auth
        customer = api_key.customer
        # The serializers above describe it (the schema); written out here, since building
        # them (a deep copy of their fields) was a measurable part of this request (issue 11).
        return Response(
            {
                "customer": {
                    "slug": customer.slug,
                    "name": customer.name,
                    "mode": customer.mode,
                    "status": customer.status,
                },
                "key": {"prefix": api_key.prefix, "mode": api_key.mode},
            }
        )
