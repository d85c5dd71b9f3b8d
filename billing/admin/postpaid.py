"""Staff back-office for postpaid money (R-POST-1, R-POST-2, R-POST-7):
guarantee deposits and caps, terminating a customer and the guarantee refund
it creates, and the read-only lists (fees to invoice, monthly usage, prepaid
statements). Invoices, payments and paper copies are in ``invoices``.

Every change calls the ``billing.services`` use case the rest of the product
calls; nothing is written by hand. Money, ledger rows and history are never
editable here: the change pages are read-only, and each operation is its own
page (``form_page``) whose form runs the use case while it validates, so a
refusal shows as a form error and writes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from billing import selectors, services
from billing.admin.shared import (
    Done,
    RupiahField,
    ServiceActionForm,
    ServiceForm,
    ServiceFormAdmin,
    ToolsMixin,
    bank_reference_field,
    change_url,
    jakarta_today,
    operation_page,
    require_permission,
    rupiah,
    tool_links,
)
from billing.models import (
    CapChange,
    Guarantee,
    GuaranteeRefund,
    MonthlyUsage,
    PendingFee,
    Statement,
)
from billing.pricing import jakarta_date, table_in_force
from billing.usage import month_bounds, month_value
from otpportal.admin_mixins import ReadOnlyAdmin, ReadOnlyInline

# --- Guarantee deposits and caps (R-POST-1, R-POST-2) ----------------------------------


class GuaranteeDepositForm(ServiceForm):
    """Record a guarantee deposit received by bank transfer (R-POST-1)."""

    amount = RupiahField(label=_("Amount (Rp)"))
    reference = bank_reference_field()

    class Meta:
        model = Guarantee
        fields = ["customer"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].help_text = _(
            "Whole rupiah, e.g. 10000000 or 10.000.000. The guarantee held afterwards must be at least "
            "%(minimum)s (R-POST-1)."
        ) % {"minimum": rupiah(settings.POSTPAID_GUARANTEE_MIN)}

    def validate_unique(self) -> None:
        """A second deposit tops up the same guarantee: the use case decides."""

    def perform(self, data: dict[str, Any]) -> Guarantee:
        return services.guarantee_deposit(
            customer=data["customer"], amount=data["amount"], reference=data["reference"], created_by=self.user
        )


class CapForm(ServiceActionForm):
    percent = forms.IntegerField(
        label=_("New cap (percent of the guarantee)"),
        help_text=_("200 means the month may use 2 × the guarantee held (R-POST-2)."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why the cap changes, e.g. the customer's request. Kept with the change."),
    )

    def perform(self, data: dict[str, Any]) -> Guarantee:
        return services.cap_set(
            customer=self.target.customer, percent=data["percent"], reason=data["reason"], changed_by=self.user
        )


class TerminateForm(ServiceActionForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept with the refund and the final invoice."),
    )
    confirm = forms.BooleanField(
        label=_("I understand that sending stops at once and that this cannot be undone."),
        required=True,
    )

    def perform(self, data: dict[str, Any]) -> GuaranteeRefund | None:
        return services.customer_terminate(customer=self.target, reason=data["reason"], actor=self.user)


class CustomerChoiceForm(forms.Form):
    """Which customer to terminate (the admin's customer search)."""

    def __init__(self, *args: Any, admin_site: admin.AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"] = forms.ModelChoiceField(
            label=_("Customer"),
            queryset=Customer.objects.exclude(status=Customer.Status.TERMINATED),
            widget=AutocompleteSelect(Guarantee._meta.get_field("customer"), admin_site),
        )


class CapChangeInline(ReadOnlyInline):
    model = CapChange
    fields = ["created_at", "old_percent", "new_percent", "reason", "changed_by"]
    readonly_fields = fields
    verbose_name = _("cap change")
    verbose_name_plural = _("cap changes (R-POST-2)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CapChange]:
        return super().get_queryset(request).select_related("changed_by")


@admin.register(Guarantee)
class GuaranteeAdmin(ToolsMixin, ServiceFormAdmin):
    """R-POST-1 / R-POST-2: record deposits (the add form) and change a cap
    (its own page, with a reason); a guarantee is never edited by hand."""

    list_display = ["customer", "held_display", "cap_percent", "cap_display", "activated_at", "customer_status"]
    list_filter = [("activated_at", admin.EmptyFieldListFilter), "customer__status"]
    search_fields = ["customer__name", "customer__slug", "customer__legal_name"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    inlines = [CapChangeInline]
    readonly_fields = [
        "customer",
        "customer_status",
        "held_display",
        "cap_percent",
        "cap_display",
        "activated_at",
        "created_at",
    ]

    @admin.display(description=_("guarantee held"), ordering="held")
    def held_display(self, obj: Guarantee) -> str:
        return rupiah(obj.held)

    @admin.display(description=_("monthly cap"))
    def cap_display(self, obj: Guarantee) -> str:
        return rupiah(obj.cap)

    @admin.display(description=_("customer status"), ordering="customer__status")
    def customer_status(self, obj: Guarantee) -> str:
        return obj.customer.get_status_display()

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = GuaranteeDepositForm
            kwargs["fields"] = ["customer"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [(_("Record a guarantee deposit"), {"fields": ["customer", "amount", "reference"]})]
        return [(None, {"fields": self.readonly_fields})]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[type[admin.TabularInline]]:
        return list(self.inlines) if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the guarantee moves only through deposits, deductions and refunds (the ledger)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def object_tools(self, request: HttpRequest, obj: Guarantee) -> list[dict[str, str]]:
        live = obj.customer.status != Customer.Status.TERMINATED
        return tool_links(
            (_("Record a deposit"), reverse("admin:billing_guarantee_add") + f"?customer={obj.customer_id}")
            if live
            else None,
            (_("Change the cap"), reverse("admin:billing_guarantee_cap", args=[obj.pk])) if live else None,
            (_("Ledger"), reverse("admin:billing_ledgerentry_changelist") + f"?customer__id__exact={obj.customer_id}"),
            (_("Terminate the customer"), reverse("admin:billing_guarantee_terminate", args=[obj.customer_id]))
            if live
            else None,
        )

    def list_tools(self, request: HttpRequest) -> list[dict[str, str]]:
        return tool_links((_("Terminate a customer"), reverse("admin:billing_guarantee_terminate_choose")))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/cap/", view(self.cap_view), name="billing_guarantee_cap"),
            path("terminate/", view(self.terminate_choose_view), name="billing_guarantee_terminate_choose"),
            path("terminate/<int:customer_id>/", view(self.terminate_view), name="billing_guarantee_terminate"),
            *super().get_urls(),
        ]

    def cap_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """R-POST-2: staff change one customer's cap, saying why."""
        require_permission(request, "change_guarantee")
        guarantee = self.get_object(request, str(object_id))
        if guarantee is None:
            raise Http404

        def done(form: CapForm) -> Done:
            row = form.result
            text = _("The cap of %(customer)s is now %(percent)s%% of the guarantee: %(cap)s a month.") % {
                "customer": guarantee.customer,
                "percent": row.cap_percent,
                "cap": rupiah(row.cap),
            }
            log = f"cap {row.cap_percent}%: {form.cleaned_data['reason']}"
            return Done(text, change_url(guarantee), log=log, logged=guarantee)

        return operation_page(
            self,
            request,
            form_class=CapForm,
            target=guarantee,
            done=done,
            initial={"percent": guarantee.cap_percent},
            title=_("Change the cap of %(customer)s") % {"customer": guarantee.customer},
            submit=_("Change the cap"),
            obj=guarantee,
            facts=[
                (_("guarantee held"), rupiah(guarantee.held)),
                (_("cap now"), f"{guarantee.cap_percent}% = {rupiah(guarantee.cap)}"),
            ],
        )

    def terminate_choose_view(self, request: HttpRequest) -> HttpResponse:
        require_permission(request, "change_guarantee")
        form = CustomerChoiceForm(request.GET or None, admin_site=self.admin_site)
        if form.is_bound and form.is_valid():
            return HttpResponseRedirect(
                reverse("admin:billing_guarantee_terminate", args=[form.cleaned_data["customer"].pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Terminate a customer"),
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "billing/admin/choose_customer.html", context)

    def terminate_view(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        """R-POST-7: end a customer's contract through ``customer_terminate``,
        then show the refund it created."""
        require_permission(request, "change_guarantee")
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise Http404

        def done(form: TerminateForm) -> Done:
            refund = form.result
            log = f"terminated: {form.cleaned_data['reason']}"
            if refund is None:  # prepaid: deposits are not refunded (R-PRE-4)
                text = _("%(customer)s is terminated. Prepaid deposits are not refunded.") % {"customer": customer}
                return Done(text, reverse("admin:accounts_customer_change", args=[customer.pk]), log, customer)
            text = _("%(customer)s is terminated. A refund of %(amount)s is due by %(date)s.") % {
                "customer": customer,
                "amount": rupiah(refund.amount),
                "date": f"{refund.due_date:%Y-%m-%d}",
            }
            return Done(text, change_url(refund), log, customer)

        return operation_page(
            self,
            request,
            form_class=TerminateForm,
            target=customer,
            done=done,
            title=_("Terminate %(customer)s") % {"customer": customer},
            submit=_("Terminate the customer"),
            intro=self._terminate_intro(customer),
            facts=self._terminate_facts(customer),
            danger=True,
        )

    def _terminate_intro(self, customer: Customer) -> str:
        if customer.mode != Customer.Mode.POSTPAID:
            return str(_("Sending stops at once. A prepaid deposit is not refunded (R-PRE-4)."))
        return str(
            _(
                "Sending stops at once. The month so far is invoiced now; every unpaid invoice is paid from the "
                "guarantee as far as it goes; what is left of the guarantee becomes a refund due within "
                "%(days)s working days (R-POST-7)."
            )
            % {"days": settings.GUARANTEE_REFUND_WORKING_DAYS}
        )

    def _terminate_facts(self, customer: Customer) -> list[tuple[Any, Any]]:
        facts: list[tuple[Any, Any]] = [
            (_("customer"), customer),
            (_("mode"), customer.get_mode_display()),
            (_("status"), customer.get_status_display()),
        ]
        if customer.mode == Customer.Mode.POSTPAID:
            guarantee = selectors.guarantee(customer=customer)
            owed = selectors.open_invoices(customer=customer)
            month = selectors.postpaid_month(customer=customer)
            facts += [
                (_("guarantee held"), rupiah(guarantee.held if guarantee else 0)),
                (_("unpaid invoices"), f"{owed.count} · {rupiah(owed.outstanding)}"),
                (_("this month so far (before VAT)"), f"{month.units} · {rupiah(month.amount)}"),
            ]
        return facts


# --- Guarantee refunds (R-POST-7) ---------------------------------------------------------


class PastDueFilter(admin.SimpleListFilter):
    title = _("past due")
    parameter_name = "past_due"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", _("Past due (to transfer, date passed)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[GuaranteeRefund]) -> QuerySet[GuaranteeRefund]:
        if self.value() == "yes":
            return queryset.filter(status=GuaranteeRefund.Status.DUE, due_date__lt=jakarta_today())
        return queryset


class TransferredForm(ServiceActionForm):
    bank_reference = forms.CharField(
        label=_("Bank reference"), max_length=100, help_text=_("The reference of the refund's bank transfer.")
    )

    def perform(self, data: dict[str, Any]) -> GuaranteeRefund:
        return services.refund_mark_transferred(
            refund=self.target, bank_reference=data["bank_reference"], transferred_by=self.user
        )


@admin.register(GuaranteeRefund)
class GuaranteeRefundAdmin(ToolsMixin, ReadOnlyAdmin):
    list_display = [
        "customer",
        "amount_display",
        "due_date",
        "status",
        "past_due",
        "transferred_at",
        "bank_reference",
    ]
    list_filter = ["status", PastDueFilter]
    search_fields = ["customer__name", "customer__slug", "bank_reference"]
    list_select_related = ["customer"]
    actions = ["mark_transferred"]
    readonly_fields = [
        "customer",
        "amount_display",
        "due_date",
        "status",
        "past_due",
        "reason",
        "created_by",
        "created_at",
        "transferred_at",
        "bank_reference",
        "transferred_by",
    ]
    fields = readonly_fields

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: GuaranteeRefund) -> str:
        return rupiah(obj.amount)

    @admin.display(description=_("past due"), boolean=True)
    def past_due(self, obj: GuaranteeRefund) -> bool:
        return obj.status == GuaranteeRefund.Status.DUE and obj.due_date < jakarta_today()

    def get_queryset(self, request: HttpRequest) -> QuerySet[GuaranteeRefund]:
        return super().get_queryset(request).select_related("customer", "created_by", "transferred_by")

    def object_tools(self, request: HttpRequest, obj: GuaranteeRefund) -> list[dict[str, str]]:
        if obj.status != GuaranteeRefund.Status.DUE:
            return []
        return tool_links((_("Mark transferred…"), reverse("admin:billing_guaranteerefund_transferred", args=[obj.pk])))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/transferred/", view(self.transferred_view), name="billing_guaranteerefund_transferred"
            ),
            *super().get_urls(),
        ]

    def transferred_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """R-POST-7: staff record the refund's bank transfer."""
        require_permission(request, "change_guaranteerefund")
        refund = self.get_object(request, str(object_id))
        if refund is None:
            raise Http404

        def done(form: TransferredForm) -> Done:
            text = _("The refund of %(amount)s to %(customer)s is marked as transferred.") % {
                "amount": rupiah(refund.amount),
                "customer": refund.customer,
            }
            return Done(text, change_url(refund), f"transferred: {form.result.bank_reference}", refund)

        return operation_page(
            self,
            request,
            form_class=TransferredForm,
            target=refund,
            done=done,
            title=_("Mark the refund to %(customer)s as transferred") % {"customer": refund.customer},
            submit=_("Mark transferred"),
            obj=refund,
            facts=[
                (_("customer"), refund.customer),
                (_("amount"), rupiah(refund.amount)),
                (_("transfer by"), f"{refund.due_date:%Y-%m-%d}"),
            ],
        )

    def has_transfer_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_guaranteerefund")

    @admin.action(description=_("Mark the selected refund as transferred…"), permissions=["transfer"])
    def mark_transferred(self, request: HttpRequest, queryset: QuerySet[GuaranteeRefund]) -> HttpResponse | None:
        """Each transfer has its own bank reference: one refund at a time."""
        refunds = list(queryset[:2])
        if len(refunds) != 1:
            self.message_user(
                request, _("Select exactly one refund: each transfer has its own bank reference."), messages.WARNING
            )
            return None
        return HttpResponseRedirect(reverse("admin:billing_guaranteerefund_transferred", args=[refunds[0].pk]))


# --- Read-only lists ------------------------------------------------------------------------


@admin.register(PendingFee)
class PendingFeeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "customer", "kind", "description", "amount_display", "month", "invoice"]
    list_filter = ["kind", ("invoice", admin.EmptyFieldListFilter), "month"]
    search_fields = ["reference", "description", "customer__name", "customer__slug", "invoice__number"]
    list_select_related = ["customer", "invoice"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: PendingFee) -> str:
        return rupiah(obj.amount)


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(ReadOnlyAdmin):
    """R-POST-2: the running counter the cap is checked against."""

    list_display = ["customer", "month_display", "units", "tier", "value_display", "warned_80_at"]
    list_filter = ["month"]
    search_fields = ["customer__name", "customer__slug"]
    list_select_related = ["customer"]
    fields = ["customer", "month_display", "units", "tier", "value_display", "units_by_route", "warned_80_at"]
    readonly_fields = fields

    @admin.display(description=_("month"), ordering="month")
    def month_display(self, obj: MonthlyUsage) -> str:
        return f"{obj.month:%Y-%m}"

    @admin.display(description=_("tier reached"))
    def tier(self, obj: MonthlyUsage) -> int:
        return table_in_force(_month_day(obj)).postpaid_tier(obj.units)

    @admin.display(description=_("value before VAT"))
    def value_display(self, obj: MonthlyUsage) -> str:
        table = table_in_force(_month_day(obj))
        return rupiah(month_value(table, obj.units_by_route, table.postpaid_tier(obj.units)))


def _month_day(usage: MonthlyUsage) -> date:
    """The day whose price list values a month: its last day (today while it runs)."""
    _, end = month_bounds(usage.month)
    return min(jakarta_today(), jakarta_date(end - timedelta(seconds=1)))


@admin.register(Statement)
class StatementAdmin(ToolsMixin, ReadOnlyAdmin):
    """Prepaid customers' monthly statements (not invoices: no VAT)."""

    list_display = [
        "customer",
        "month_display",
        "opening_display",
        "top_ups_display",
        "usage_display",
        "closing_display",
        "emailed_at",
    ]
    list_filter = ["period"]
    search_fields = ["customer__name", "customer__slug"]
    list_select_related = ["customer"]
    exclude = ["lines", "pdf"]

    @admin.display(description=_("month"), ordering="period")
    def month_display(self, obj: Statement) -> str:
        return f"{obj.period:%Y-%m}"

    @admin.display(description=_("opening balance"))
    def opening_display(self, obj: Statement) -> str:
        return rupiah(obj.opening_balance)

    @admin.display(description=_("top-ups"))
    def top_ups_display(self, obj: Statement) -> str:
        return rupiah(obj.top_ups)

    @admin.display(description=_("usage"))
    def usage_display(self, obj: Statement) -> str:
        return rupiah(obj.usage)

    @admin.display(description=_("closing balance"))
    def closing_display(self, obj: Statement) -> str:
        return rupiah(obj.closing_balance)

    def object_tools(self, request: HttpRequest, obj: Statement) -> list[dict[str, str]]:
        return tool_links((_("Download PDF"), reverse("admin:billing_statement_pdf", args=[obj.pk])))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [path("<int:object_id>/pdf/", view(self.pdf_view), name="billing_statement_pdf"), *super().get_urls()]

    def pdf_view(self, request: HttpRequest, object_id: int) -> FileResponse:
        statement = self.get_object(request, str(object_id))
        if statement is None or not self.has_view_permission(request, statement):
            raise Http404
        statement = services.statement_pdf_store(statement=statement)
        return FileResponse(
            statement.pdf.open("rb"),
            as_attachment=True,
            filename=f"statement-{statement.customer.slug}-{statement.period:%Y-%m}.pdf",
            content_type="application/pdf",
        )


__all__ = [
    "GuaranteeAdmin",
    "GuaranteeRefundAdmin",
    "MonthlyUsageAdmin",
    "PendingFeeAdmin",
    "StatementAdmin",
]
