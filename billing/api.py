"""Integrator endpoints of billing: the balance (api-contract "Money")."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Customer
from billing import exports, selectors, services
from billing.documents import document_filename
from billing.models import Invoice
from otpportal.errors import ServiceError
from otpportal.schema import errors


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
        responses={
            200: inline_serializer(
                "Balance",
                fields={
                    "mode": serializers.ChoiceField(choices=Customer.Mode.choices),
                    "balance": serializers.IntegerField(required=False),
                    "lots": LotOutSerializer(many=True, required=False),
                    "guarantee": serializers.IntegerField(required=False),
                    "cap": serializers.IntegerField(required=False),
                    "cap_left": serializers.IntegerField(
                        required=False, help_text="What the month may still use before the cap (postpaid)."
                    ),
                    "month": inline_serializer(
                        "MonthUsage",
                        fields={
                            "month": serializers.CharField(help_text="YYYY-MM, Asia/Jakarta"),
                            "units": serializers.IntegerField(),
                            "tier": serializers.IntegerField(),
                            "amount": serializers.IntegerField(),
                        },
                        required=False,
                    ),
                },
            ),
            **errors(),
        },
    )
    def get(self, request: Request) -> Response:
        customer = request.auth.customer
        if customer.mode == Customer.Mode.POSTPAID:
            position = selectors.postpaid_position(customer=customer)
            month = position.month
            return Response(
                {
                    "mode": "postpaid",
                    "guarantee": position.guarantee,  # R-POST-1
                    "cap": position.cap,  # R-POST-2: 2 × the guarantee unless staff raised it
                    "cap_left": position.cap_left,
                    "month": {
                        "month": month.month.strftime("%Y-%m"),
                        "units": month.units,
                        "tier": month.tier,
                        "amount": month.amount,
                    },
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


# --- Invoices (api-contract "Money"; R-POST-3 … R-POST-8) -----------------------------


class _FileRenderer(BaseRenderer):
    """Lets a client ask for the file type itself (``Accept: application/pdf``)."""

    charset = None
    format = "file"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        if isinstance(data, dict):  # an error in the contract's shape, asked for with Accept: application/pdf
            return JSONRenderer().render(data)
        return data


class PdfRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class CsvRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class InvoiceCursor(CursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


class InvoiceLineOut(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    channel = serializers.CharField(allow_blank=True)
    operator = serializers.CharField(allow_blank=True)
    units = serializers.IntegerField()
    unit_price = serializers.IntegerField()
    amount = serializers.IntegerField()


class InvoiceOut(serializers.Serializer):
    number = serializers.CharField(help_text="e.g. INV/2026/000123; in URLs also INV-2026-000123")
    kind = serializers.ChoiceField(choices=Invoice.Kind.choices)
    status = serializers.ChoiceField(choices=Invoice.Status.choices)
    month = serializers.SerializerMethodField(help_text="The month billed, YYYY-MM")
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    tier = serializers.IntegerField(allow_null=True)
    units = serializers.IntegerField()
    subtotal = serializers.IntegerField()
    dpp = serializers.IntegerField(help_text="VAT base: 11/12 of the subtotal")
    ppn = serializers.IntegerField(help_text="VAT: 12 % of the DPP")
    total = serializers.IntegerField()
    paid = serializers.IntegerField(source="paid_amount")
    outstanding = serializers.IntegerField()
    credit_note_for = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    csv_url = serializers.SerializerMethodField()

    def get_month(self, obj: Invoice) -> str:
        return obj.period.strftime("%Y-%m")

    def get_credit_note_for(self, obj: Invoice) -> str | None:
        return obj.credit_note_for.number if obj.credit_note_for_id else None

    def _url(self, obj: Invoice, suffix: str) -> str:
        return f"/api/v1/invoices/{obj.number.replace('/', '-')}/{suffix}"

    def get_pdf_url(self, obj: Invoice) -> str:
        return self._url(obj, "pdf")

    def get_csv_url(self, obj: Invoice) -> str | None:
        return self._url(obj, "csv") if obj.kind == Invoice.Kind.INVOICE else None


class InvoiceDetailOut(InvoiceOut):
    lines = InvoiceLineOut(many=True)


class InvoicesApi(GenericAPIView):
    pagination_class = InvoiceCursor
    queryset = Invoice.objects.none()  # names the model for the schema; rows come from the selector

    @extend_schema(operation_id="invoices_list", responses={200: InvoiceOut(many=True), **errors("not_found")})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.invoices(customer=request.auth.customer)) or []
        return self.get_paginated_response(InvoiceOut(page, many=True).data)


class InvoiceDetailApi(APIView):
    @extend_schema(operation_id="invoices_retrieve", responses={200: InvoiceDetailOut, **errors("not_found")})
    def get(self, request: Request, number: str) -> Response:
        row = selectors.invoice(customer=request.auth.customer, number=number)
        return Response(InvoiceDetailOut(row).data)


class InvoicePdfApi(APIView):
    renderer_classes = [JSONRenderer, PdfRenderer]  # JSON for errors, the PDF itself otherwise

    @extend_schema(
        operation_id="invoices_pdf",
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **errors("not_found")},
        description="The invoice (or credit note) as issued: rendered once, never changed afterwards.",
    )
    def get(self, request: Request, number: str) -> HttpResponse:
        row = services.invoice_pdf_store(invoice=selectors.invoice(customer=request.auth.customer, number=number))
        response = FileResponse(row.pdf.open("rb"), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{document_filename(row.number, "pdf")}"'
        return response


class InvoiceCsvApi(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="invoices_csv",
        responses={(200, "text/csv"): OpenApiTypes.BINARY, **errors("not_found")},
        description="Every message billed on the invoice, streamed; its amounts add up to the usage lines.",
    )
    def get(self, request: Request, number: str) -> HttpResponse:
        row = selectors.invoice(customer=request.auth.customer, number=number)
        if row.kind != Invoice.Kind.INVOICE:
            raise ServiceError("not_found", _("A credit note has no CSV; see the invoice it cancels."))
        response = StreamingHttpResponse(exports.invoice_csv_chunks(row), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{exports.invoice_csv_filename(row)}"'
        return response
