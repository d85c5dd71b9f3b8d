"""Staff back-office for prepaid billing: price lists (R-PL), deposit lots
and bank transfers (R-PRE-1), the append-only ledger (both books), charges,
customers' top-up requests and billing accounts (low-balance thresholds; the
way to terminate a customer, R-POST-7).

Every write goes through one ``billing.services`` use case. The add and edit
forms run it while they validate (``ServiceForm``), so a refusal is shown as
a form error and nothing is written; ``save_model`` only adopts the row the
use case wrote.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from billing import services
from billing.admin.shared import ServiceForm, ServiceFormAdmin, bank_reference_field, parse_rupiah_text, rupiah
from billing.forms import service_error_text
from billing.models import BillingAccount, Charge, DepositLot, LedgerEntry, Price, PriceList, PriceTier, TopUpRequest
from billing.pricing import CSV_COLUMNS, jakarta_date
from otpportal.admin_mixins import ReadOnlyAdmin, ReadOnlyInline
from otpportal.audit import staff_change
from otpportal.errors import ServiceError

# --- Price lists (R-PL) ------------------------------------------------------


class PriceListImportForm(ServiceForm):
    csv_file = forms.FileField(
        label=_("CSV file"),
        help_text=format_lazy(
            _(
                "Columns: {columns}. One row per tier, channel and operator, for all six tiers (R-PL-2). "
                "The whole file is checked first; a file with any error writes nothing."
            ),
            columns=", ".join(CSV_COLUMNS),
        ),
    )
    effective_from = forms.DateField(
        label=_("Effective from (override)"),
        required=False,
        help_text=_(
            "Leave empty to use the date in the CSV. It must be after today: a new list takes effect on its date "
            "and never reprices what was already charged (R-PL-1)."
        ),
    )
    name = forms.CharField(label=_("Name"), max_length=100, required=False)

    class Meta:
        model = PriceList
        fields = ["name"]

    def clean_csv_file(self) -> str:
        """Read the upload as text with rows of the header's width (the use
        case validates the content)."""
        upload = self.cleaned_data["csv_file"]
        self.filename = upload.name or ""
        try:
            text: str = upload.read().decode("utf-8-sig")
            rows = list(csv.reader(io.StringIO(text)))
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file is not UTF-8 text; save it as CSV UTF-8.")) from None
        except csv.Error as error:
            raise forms.ValidationError(_("The file is not a readable CSV: %(error)s") % {"error": error}) from None
        width = len(rows[0]) if rows else 0
        for line, row in enumerate(rows[1:], start=2):
            if row and len(row) != width:
                raise forms.ValidationError(
                    _("Line %(line)d has %(found)d columns; the header has %(expected)d.")
                    % {"line": line, "found": len(row), "expected": width}
                )
        return text

    def perform(self, data: dict[str, Any]) -> PriceList:
        return services.price_list_import(
            data=data["csv_file"],
            effective_from=data.get("effective_from"),
            name=data.get("name", ""),
            filename=self.filename,
            uploaded_by=self.user,
        )


class PriceTierInline(ReadOnlyInline):
    model = PriceTier
    fields = ["tier", "prepaid_min", "prepaid_max", "postpaid_min", "postpaid_max"]
    readonly_fields = fields
    verbose_name = _("tier")
    verbose_name_plural = _("tiers (R-PL-2)")


class PriceInline(PriceTierInline):
    model = Price
    fields = ["tier", "channel", "operator", "unit_price"]
    readonly_fields = fields
    verbose_name = _("price")
    verbose_name_plural = _("prices (Rp per unit)")


@admin.register(PriceList)
class PriceListAdmin(ServiceFormAdmin):
    """R-PL-1: lists are loaded from CSV and never edited; a list in force
    can be neither changed nor deleted, a future one may be deleted."""

    list_display = ["effective_from", "name", "in_force", "price_count", "source_filename", "uploaded_by", "created_at"]
    search_fields = ["name", "source_filename"]
    date_hierarchy = "effective_from"
    inlines = [PriceTierInline, PriceInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PriceList]:
        return super().get_queryset(request).select_related("uploaded_by").annotate(price_count=Count("prices"))

    @admin.display(boolean=True, description=_("in force"))
    def in_force(self, obj: PriceList) -> bool:
        return obj.is_in_force(jakarta_date(timezone.now()))

    @admin.display(description=_("number of prices"), ordering="price_count")
    def price_count(self, obj: PriceList) -> int:
        return getattr(obj, "price_count", 0)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = PriceListImportForm
            kwargs["fields"] = ["name"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [(None, {"fields": ["csv_file", "effective_from", "name"]})]
        return [(None, {"fields": ["effective_from", "name", "source_filename", "uploaded_by", "created_at"]})]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[type[admin.TabularInline]]:
        return list(self.inlines) if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # R-PL-1: a loaded list is never edited; load a new one

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_in_force(jakarta_date(timezone.now())):
            return False  # R-PL-1
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletion goes through the use case, one list at a time
        return actions

    def delete_model(self, request: HttpRequest, obj: PriceList) -> None:
        with staff_change(action="delete_price_list", actor=request.user):
            services.price_list_delete(price_list=obj)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceError as error:
            self.message_user(request, service_error_text(error), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:billing_pricelist_change", args=[object_id]))


# --- Deposit lots (R-PRE-1) -------------------------------------------------


class LotCreateForm(ServiceForm):
    """Record a bank transfer: it becomes a deposit lot (R-PRE-1)."""

    amount = forms.CharField(
        label=_("Amount (Rp)"),
        max_length=30,
        help_text=_("Whole rupiah, e.g. 2500000 or 2.500.000. The amount sets the lot's tier (R-PRE-1, R-PL-2)."),
    )
    reference = bank_reference_field()

    class Meta:
        model = DepositLot
        fields = ["customer"]

    def clean_amount(self) -> str:
        """Accept the Indonesian way of writing rupiah (Rp 2.500.000); the use
        case decides what a valid amount is."""
        return parse_rupiah_text(self.cleaned_data["amount"])

    def perform(self, data: dict[str, Any]) -> DepositLot:
        return services.lot_create(
            customer=data["customer"], amount=data["amount"], reference=data["reference"], created_by=self.user
        )


@admin.register(DepositLot)
class DepositLotAdmin(ServiceFormAdmin):
    list_display = [
        "id",
        "customer",
        "amount_display",
        "remaining_display",
        "tier",
        "reference",
        "created_at",
        "expires_at",
        "closed_at",
    ]
    list_filter = ["tier", ("closed_at", admin.EmptyFieldListFilter), "created_at", "expires_at"]
    search_fields = ["reference", "customer__name", "customer__slug"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["customer"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: DepositLot) -> str:
        return rupiah(obj.amount)

    @admin.display(description=_("remaining"), ordering="remaining")
    def remaining_display(self, obj: DepositLot) -> str:
        return rupiah(obj.remaining)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = LotCreateForm
            kwargs["fields"] = ["customer"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [(_("Record a bank transfer"), {"fields": ["customer", "amount", "reference"]})]
        return super().get_fieldsets(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the ledger is the record; lots change only through it

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Ledger and charges (read-only) -----------------------------------------


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """The append-only record of customers' money, in two books (prepaid
    deposits and postpaid guarantees): nothing here is editable."""

    list_display = [
        "created_at",
        "customer",
        "book",
        "kind",
        "amount_display",
        "lot",
        "charge",
        "invoice",
        "reference",
        "memo",
    ]
    # Filter by customer from its page (``?customer__id__exact=``) or search: a list of every
    # customer in the sidebar would not scale.
    list_filter = ["book", "kind", "created_at"]
    search_fields = ["reference", "memo", "invoice__number", "customer__name", "customer__slug"]
    date_hierarchy = "created_at"
    list_select_related = ["customer", "lot", "charge", "invoice"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: LedgerEntry) -> str:
        return rupiah(obj.amount)


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "customer",
        "mode",
        "channel",
        "operator",
        "units",
        "tier",
        "unit_price",
        "amount_display",
        "created_at",
        "reversed_at",
    ]
    list_filter = ["mode", "channel", "operator", "tier", ("reversed_at", admin.EmptyFieldListFilter)]
    search_fields = ["reference", "customer__name", "customer__slug", "phone"]
    date_hierarchy = "created_at"
    list_select_related = ["customer"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: Charge) -> str:
        return rupiah(obj.amount)


# --- Top-up requests ----------------------------------------------------------


class TopUpReviewForm(forms.ModelForm):
    class Meta:
        model = TopUpRequest
        fields = ["review_note"]
        widgets = {"review_note": forms.Textarea(attrs={"rows": 3, "cols": 60})}
        help_texts = {"review_note": _("Shown to the customer. Required to reject.")}


@admin.register(TopUpRequest)
class TopUpRequestAdmin(admin.ModelAdmin):
    """Staff check the transfer proof, then approve (a deposit lot is
    created, R-PRE-1) or reject with a note; the customer is emailed."""

    form = TopUpReviewForm
    change_form_template = "billing/admin/topuprequest_change_form.html"
    list_display = ["id", "customer", "amount_display", "transfer_reference", "status", "created_at", "reviewed_by"]
    list_filter = ["status", "created_at"]
    search_fields = ["customer__name", "customer__slug", "transfer_reference"]
    list_select_related = ["customer", "reviewed_by"]
    date_hierarchy = "created_at"
    fields = [
        "customer",
        "amount_display",
        "transfer_reference",
        "proof_link",
        "status",
        "requested_by",
        "created_at",
        "reviewed_by",
        "reviewed_at",
        "lot",
        "review_note",
    ]
    readonly_fields = [f for f in fields if f != "review_note"]
    actions = ["approve_selected"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: TopUpRequest) -> str:
        return rupiah(obj.amount)

    @admin.display(description=_("transfer proof"))
    def proof_link(self, obj: TopUpRequest) -> str:
        if not obj.pk or not obj.proof:
            return "—"
        url = reverse("admin:billing_topuprequest_proof", args=[obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, os.path.basename(obj.proof.name))

    def get_urls(self) -> list[URLPattern]:
        proof = path(
            "<int:object_id>/proof/",
            self.admin_site.admin_view(self.proof_view),
            name="billing_topuprequest_proof",
        )
        return [proof, *super().get_urls()]

    def proof_view(self, request: HttpRequest, object_id: int) -> FileResponse:
        """The proof, to staff only (never from a public media URL)."""
        obj = self.get_object(request, str(object_id))
        if obj is None or not obj.proof:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        name = os.path.basename(obj.proof.name)
        inline = name.lower().endswith((".png", ".jpg", ".jpeg"))
        response = FileResponse(obj.proof.open("rb"), as_attachment=not inline, filename=name)
        response["Content-Security-Policy"] = "sandbox"
        return response

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers send requests from the dashboard

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != TopUpRequest.Status.PENDING:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: TopUpRequest, form: forms.ModelForm, change: bool) -> None:
        """Nothing is saved directly: the decision buttons call the use cases
        (see ``response_change``) and they record the note."""

    def response_change(self, request: HttpRequest, obj: TopUpRequest) -> HttpResponse:
        note = obj.review_note or ""
        try:
            if "_approve" in request.POST:
                with staff_change(action="approve_topup", reason=note, actor=request.user, watch=obj):
                    services.topup_request_approve(request=obj, reviewed_by=request.user, note=note)  # type: ignore[arg-type]
                self.message_user(
                    request,
                    _("Approved: a deposit of %(amount)s was credited to %(customer)s.")
                    % {"amount": rupiah(obj.amount), "customer": obj.customer},
                    messages.SUCCESS,
                )
            elif "_reject" in request.POST:
                with staff_change(action="reject_topup", reason=note, actor=request.user, watch=obj):
                    services.topup_request_reject(request=obj, reviewed_by=request.user, note=note)  # type: ignore[arg-type]
                self.message_user(request, _("Rejected; the customer is told why."), messages.SUCCESS)
            else:
                self.message_user(request, _("Choose Approve or Reject."), messages.WARNING)
                return HttpResponseRedirect(request.path)
        except ServiceError as error:
            self.message_user(request, service_error_text(error), messages.ERROR)
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(reverse("admin:billing_topuprequest_changelist"))

    @admin.action(description=_("Approve selected top-up requests"), permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[TopUpRequest]) -> None:
        approved = 0
        for topup in queryset.select_related("customer"):
            try:
                with staff_change(action="approve_topup", actor=request.user, watch=topup):
                    services.topup_request_approve(request=topup, reviewed_by=request.user)  # type: ignore[arg-type]
            except ServiceError as error:
                self.message_user(request, f"#{topup.pk}: {service_error_text(error)}", messages.ERROR)
            else:
                approved += 1
        if approved:
            self.message_user(request, _("Approved %(n)d request(s).") % {"n": approved}, messages.SUCCESS)


# --- Billing accounts ---------------------------------------------------------


class ThresholdAdminForm(ServiceForm):
    error_fields: ClassVar[dict[str, str]] = {"threshold": "low_balance_threshold"}

    class Meta:
        model = BillingAccount
        fields = ["low_balance_threshold"]

    def perform(self, data: dict[str, Any]) -> BillingAccount:
        return services.low_balance_threshold_set(
            customer=self.instance.customer, threshold=data["low_balance_threshold"]
        )


@admin.register(BillingAccount)
class BillingAccountAdmin(ServiceFormAdmin):
    form = ThresholdAdminForm
    list_display = ["customer", "threshold_display", "low_balance_notified", "suspended_for_nonpayment_at"]
    list_filter = ["low_balance_notified", ("suspended_for_nonpayment_at", admin.EmptyFieldListFilter)]
    search_fields = ["customer__name", "customer__slug"]
    list_select_related = ["customer"]
    fields = ["customer", "low_balance_threshold", "low_balance_notified", "suspended_for_nonpayment_at", "terminate"]
    readonly_fields = ["customer", "low_balance_notified", "suspended_for_nonpayment_at", "terminate"]
    actions = ["terminate_selected"]

    @admin.display(description=_("end the contract"))
    def terminate(self, obj: BillingAccount) -> str:
        """R-POST-7: termination is billing's (it settles the guarantee); the
        page lives with the guarantee deposits."""
        if not obj.pk or obj.customer.status == Customer.Status.TERMINATED:
            return "—"
        url = reverse("admin:billing_guarantee_terminate", args=[obj.customer_id])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Terminate this customer…"))

    def has_terminate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_guarantee")

    @admin.action(description=_("Terminate the selected customer…"), permissions=["terminate"])
    def terminate_selected(self, request: HttpRequest, queryset: QuerySet[BillingAccount]) -> HttpResponse | None:
        """One customer at a time: the next page shows what termination does and asks for a reason."""
        accounts = list(queryset[:2])
        if len(accounts) != 1:
            self.message_user(request, _("Select exactly one customer to terminate."), messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:billing_guarantee_terminate", args=[accounts[0].customer_id]))

    @admin.display(description=_("low-balance alert threshold"), ordering="low_balance_threshold")
    def threshold_display(self, obj: BillingAccount) -> str:
        return rupiah(obj.low_balance_threshold)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created with the customer's first deposit

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
