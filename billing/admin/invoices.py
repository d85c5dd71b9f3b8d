"""Staff back-office for invoices (R-POST-3 … R-POST-8): the list with its
filters (status, kind, paper copy, overdue) and the posting queue, read-only
documents with their lines, payments and history, and the operations, each
through its use case: record a payment, void (a credit note), re-issue,
download the PDF and CSV, print a posting batch and record its posting.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from billing import documents, exports, services
from billing.admin.shared import (
    Done,
    RupiahField,
    ServiceActionForm,
    ToolsMixin,
    admin_link,
    change_url,
    form_page,
    jakarta_today,
    operation_page,
    require_permission,
    rupiah,
    tool_links,
)
from billing.models import Invoice, InvoiceLine, InvoiceStatusChange, Payment
from otpportal.admin_mixins import ReadOnlyAdmin, ReadOnlyInline

# --- Invoices (R-POST-3 … R-POST-8) ------------------------------------------------------


class PaperCopyFilter(admin.SimpleListFilter):
    """R-POST-4: the posting queue is every issued document whose paper copy
    has not gone out yet (a paid invoice still gets its paper copy; a void one
    does not)."""

    title = _("paper copy")
    parameter_name = "paper"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [
            ("queue", _("Posting queue (to post)")),
            ("posted", _("Posted")),
            ("not_posted", _("Not posted")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
        if self.value() == "queue":
            return queryset.filter(posted_at__isnull=True).exclude(status=Invoice.Status.VOID)
        if self.value() == "posted":
            return queryset.filter(posted_at__isnull=False)
        if self.value() == "not_posted":
            return queryset.filter(posted_at__isnull=True)
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    """R-POST-5: an invoice still issued (owed) after its due date (Asia/Jakarta)."""

    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", _("Overdue (issued, due date passed)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
        if self.value() == "yes":
            return queryset.filter(
                kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED, due_date__lt=jakarta_today()
            )
        return queryset


class PaymentForm(ServiceActionForm):
    amount = RupiahField(label=_("Amount (Rp)"), help_text=_("Whole rupiah, e.g. 699300 or 699.300."))
    reference = forms.CharField(label=_("Bank reference"), max_length=100)
    paid_on = forms.DateField(label=_("Paid on"), widget=AdminDateWidget, help_text=_("The day the money arrived."))

    def perform(self, data: dict[str, Any]) -> Payment:
        return services.payment_record(
            invoice=self.target,
            amount=data["amount"],
            reference=data["reference"],
            paid_on=data["paid_on"],
            recorded_by=self.user,
        )


class VoidForm(ServiceActionForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept in the invoice's history."),
    )

    def perform(self, data: dict[str, Any]) -> Invoice:
        return services.invoice_void(invoice=self.target, reason=data["reason"], actor=self.user)


class ReissueForm(ServiceActionForm):
    def perform(self, data: dict[str, Any]) -> Invoice:
        return services.invoice_reissue(invoice=self.target, actor=self.user)


class PostingForm(ServiceActionForm):
    courier = forms.CharField(label=_("Courier"), max_length=60)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=80)

    def perform(self, data: dict[str, Any]) -> int:
        return services.invoices_mark_posted(
            invoices=self.target,
            courier=data["courier"],
            tracking_number=data["tracking_number"],
            posted_by=self.user,
        )


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["position", "kind", "description", "units", "unit_price", "amount"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["paid_on", "method", "amount", "reference", "recorded_by", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Payment]:
        return super().get_queryset(request).select_related("recorded_by")


class InvoiceStatusChangeInline(ReadOnlyInline):
    model = InvoiceStatusChange
    fields = ["created_at", "old", "new", "reason", "actor"]
    readonly_fields = fields
    verbose_name = _("status change")
    verbose_name_plural = _("history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvoiceStatusChange]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Invoice)
class InvoiceAdmin(ToolsMixin, admin.ModelAdmin):
    """Invoices and credit notes: read-only; payments, voids, re-issues and
    paper copies each go through their use case."""

    list_display = [
        "number",
        "customer",
        "kind",
        "month",
        "issue_date",
        "due_date",
        "total_display",
        "outstanding_display",
        "status",
        "posted",
    ]
    list_filter = ["status", "kind", PaperCopyFilter, OverdueFilter]
    search_fields = ["number", "customer__name", "customer__slug", "customer__legal_name"]
    list_select_related = ["customer"]
    inlines = [InvoiceLineInline, PaymentInline, InvoiceStatusChangeInline]
    actions = ["print_batch", "record_posting"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "kind",
                    "customer",
                    "status",
                    "month",
                    "period_end",
                    "issue_date",
                    "due_date",
                    "tier",
                    "units",
                    "credit_note_for_link",
                    "credit_note_link",
                ]
            },
        ),
        (
            _("Amounts"),
            {
                "fields": [
                    "subtotal_display",
                    "dpp_display",
                    "ppn_display",
                    "total_display",
                    "paid_display",
                    "outstanding_display",
                ]
            },
        ),
        (_("Billed to"), {"fields": ["bill_to_display"]}),
        (
            _("Documents and paper copy (R-POST-4)"),
            {"fields": ["pdf_sha256", "emailed_at", "posted_at", "courier", "tracking_number", "posted_by"]},
        ),
    ]
    readonly_fields = [field for _name, options in fieldsets for field in options["fields"]]  # all of them

    @admin.display(description=_("month"), ordering="period")
    def month(self, obj: Invoice) -> str:
        return f"{obj.period:%Y-%m}"

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj: Invoice) -> str:
        return rupiah(obj.total)

    @admin.display(description=_("outstanding"))
    def outstanding_display(self, obj: Invoice) -> str:
        return rupiah(obj.outstanding)

    @admin.display(description=_("subtotal"))
    def subtotal_display(self, obj: Invoice) -> str:
        return rupiah(obj.subtotal)

    @admin.display(description=_("VAT base (DPP)"))
    def dpp_display(self, obj: Invoice) -> str:
        return rupiah(obj.dpp)

    @admin.display(description=_("VAT (PPN)"))
    def ppn_display(self, obj: Invoice) -> str:
        return rupiah(obj.ppn)

    @admin.display(description=_("paid"))
    def paid_display(self, obj: Invoice) -> str:
        return rupiah(obj.paid_amount)

    @admin.display(description=_("posted"), boolean=True, ordering="posted_at")
    def posted(self, obj: Invoice) -> bool:
        return obj.posted_at is not None

    @admin.display(description=_("cancels invoice"))
    def credit_note_for_link(self, obj: Invoice) -> str:
        return admin_link(obj.credit_note_for) if obj.credit_note_for_id else "—"

    @admin.display(description=_("credit note"))
    def credit_note_link(self, obj: Invoice) -> str:
        note = Invoice.objects.filter(credit_note_for=obj).first() if obj.status == Invoice.Status.VOID else None
        return admin_link(note)

    @admin.display(description=_("billed to"))
    def bill_to_display(self, obj: Invoice) -> str:
        labels = {"legal_name": _("legal name"), "npwp": "NPWP", "address": _("address"), "email": _("email")}
        return format_html_join(
            "",
            "<div><strong>{}</strong>: {}</div>",
            ((label, (obj.bill_to or {}).get(key, "")) for key, label in labels.items()),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invoice]:
        return super().get_queryset(request).select_related("customer", "credit_note_for", "posted_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued by the month-end run, termination or a re-issue

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an issued document never changes; its status moves through the use cases

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def list_tools(self, request: HttpRequest) -> list[dict[str, str]]:
        queue = reverse("admin:billing_invoice_changelist") + "?paper=queue"
        return tool_links((_("Posting queue"), queue))

    def object_tools(self, request: HttpRequest, obj: Invoice) -> list[dict[str, str]]:
        is_invoice = obj.kind == Invoice.Kind.INVOICE
        open_ = is_invoice and obj.status == Invoice.Status.ISSUED
        may_pay = request.user.has_perm("billing.add_payment")
        may_change = request.user.has_perm("billing.change_invoice")
        return tool_links(
            (_("Download PDF"), reverse("admin:billing_invoice_pdf", args=[obj.pk])),
            (_("Download CSV"), reverse("admin:billing_invoice_csv", args=[obj.pk])) if is_invoice else None,
            (_("Record a payment"), reverse("admin:billing_invoice_pay", args=[obj.pk])) if open_ and may_pay else None,
            (_("Void…"), reverse("admin:billing_invoice_void", args=[obj.pk]))
            if open_ and may_change and not obj.paid_amount
            else None,
            (_("Re-issue…"), reverse("admin:billing_invoice_reissue", args=[obj.pk]))
            if may_change and is_invoice and obj.status == Invoice.Status.VOID
            else None,
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/pdf/", view(self.pdf_view), name="billing_invoice_pdf"),
            path("<int:object_id>/csv/", view(self.csv_view), name="billing_invoice_csv"),
            path("<int:object_id>/pay/", view(self.pay_view), name="billing_invoice_pay"),
            path("<int:object_id>/void/", view(self.void_view), name="billing_invoice_void"),
            path("<int:object_id>/reissue/", view(self.reissue_view), name="billing_invoice_reissue"),
            *super().get_urls(),
        ]

    def _invoice(self, request: HttpRequest, object_id: int) -> Invoice:
        obj = self.get_object(request, str(object_id))
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404
        return obj

    def _facts(self, invoice: Invoice) -> list[tuple[Any, Any]]:
        return [
            (_("customer"), invoice.customer),
            (_("month"), f"{invoice.period:%Y-%m}"),
            (_("due date"), f"{invoice.due_date:%Y-%m-%d}"),
            (_("total"), rupiah(invoice.total)),
            (_("paid"), rupiah(invoice.paid_amount)),
            (_("outstanding"), rupiah(invoice.outstanding)),
        ]

    def pdf_view(self, request: HttpRequest, object_id: int) -> FileResponse:
        """The PDF as issued (rendered once and stored, R-POST-4)."""
        invoice = services.invoice_pdf_store(invoice=self._invoice(request, object_id))
        return FileResponse(
            invoice.pdf.open("rb"),
            as_attachment=True,
            filename=documents.document_filename(invoice.number, "pdf"),
            content_type="application/pdf",
        )

    def csv_view(self, request: HttpRequest, object_id: int) -> StreamingHttpResponse:
        """Every message the invoice billed, streamed (R-POST-4)."""
        invoice = self._invoice(request, object_id)
        if invoice.kind != Invoice.Kind.INVOICE:
            raise Http404
        response = StreamingHttpResponse(exports.invoice_csv_chunks(invoice), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{exports.invoice_csv_filename(invoice)}"'
        return response

    def pay_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """R-POST-5: record a bank transfer against the invoice."""
        require_permission(request, "add_payment")
        invoice = self._invoice(request, object_id)

        def done(form: PaymentForm) -> Done:
            invoice.refresh_from_db()
            text = _("Recorded %(amount)s on %(number)s; still owed: %(outstanding)s.") % {
                "amount": rupiah(form.result.amount),
                "number": invoice.number,
                "outstanding": rupiah(invoice.outstanding),
            }
            log = f"payment {form.result.reference}: {form.result.amount}"
            return Done(text, change_url(invoice), log, invoice)

        return operation_page(
            self,
            request,
            form_class=PaymentForm,
            target=invoice,
            done=done,
            initial={"paid_on": jakarta_today()},
            title=_("Record a payment on %(number)s") % {"number": invoice.number},
            submit=_("Record the payment"),
            obj=invoice,
            facts=self._facts(invoice),
        )

    def void_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Void an unpaid invoice; the credit note it gets is shown next."""
        require_permission(request, "change_invoice")
        invoice = self._invoice(request, object_id)

        def done(form: VoidForm) -> Done:
            note = form.result
            text = _("%(number)s is void; credit note %(note)s cancels it.") % {
                "number": invoice.number,
                "note": note.number,
            }
            return Done(text, change_url(note), f"void: {form.cleaned_data['reason']} ({note.number})", invoice)

        return operation_page(
            self,
            request,
            form_class=VoidForm,
            target=invoice,
            done=done,
            title=_("Void %(number)s") % {"number": invoice.number},
            submit=_("Void the invoice"),
            obj=invoice,
            intro=_(
                "The invoice keeps its number and gets a credit note with a number of its own that cancels it. "
                "The customer is emailed the credit note."
            ),
            facts=self._facts(invoice),
            danger=True,
        )

    def reissue_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Issue a new invoice (new number) for the month of a void one."""
        require_permission(request, "change_invoice")
        invoice = self._invoice(request, object_id)

        def done(form: ReissueForm) -> Done:
            new = form.result
            text = _("%(new)s is issued for %(month)s in place of %(number)s.") % {
                "new": new.number,
                "month": f"{invoice.period:%Y-%m}",
                "number": invoice.number,
            }
            return Done(text, change_url(new), f"re-issued as {new.number}", invoice)

        return operation_page(
            self,
            request,
            form_class=ReissueForm,
            target=invoice,
            done=done,
            title=_("Re-issue %(number)s") % {"number": invoice.number},
            submit=_("Issue a new invoice"),
            obj=invoice,
            intro=_(
                "A new invoice with a new number is issued for the same month, from the month's usage and fees, "
                "and emailed to the customer."
            ),
            facts=self._facts(invoice),
        )

    @admin.action(description=_("Print a posting batch (address labels, then each document)"), permissions=["post"])
    def print_batch(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse:
        """R-POST-4: one PDF to print: the labels, then every selected
        document as issued (each stored first, so the paper copy is the
        emailed one)."""
        invoices = [
            services.invoice_pdf_store(invoice=invoice) for invoice in queryset.order_by("issue_date", "number")
        ]
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return HttpResponse(
            documents.posting_batch_pdf(invoices),
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="posting-batch-{stamp}.pdf"'},
        )

    def has_post_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_invoice")

    @admin.action(description=_("Record posting of the paper copies…"), permissions=["post"])
    def record_posting(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        """R-POST-4: staff record the courier and tracking number of the batch."""
        invoices = list(queryset.select_related("customer").order_by("issue_date", "number"))
        form = PostingForm(request.POST if "apply" in request.POST else None, user=request.user, target=invoices)
        if form.is_bound and form.is_valid():
            self.message_user(
                request,
                _("Recorded posting of %(n)d paper copies (%(skipped)d were already posted).")
                % {"n": form.result, "skipped": len(invoices) - form.result},
                messages.SUCCESS,
            )
            return None
        return form_page(
            self,
            request,
            title=_("Record posting of the paper copies"),
            form=form,
            submit=_("Record posting"),
            objects=invoices,
            action="record_posting",
        )


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["paid_on", "invoice", "customer", "method", "amount_display", "reference", "recorded_by"]
    list_filter = ["method"]
    search_fields = ["reference", "invoice__number", "invoice__customer__name", "invoice__customer__slug"]
    list_select_related = ["invoice__customer", "recorded_by"]
    date_hierarchy = "paid_on"

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: Payment) -> str:
        return rupiah(obj.amount)

    @admin.display(description=_("customer"), ordering="invoice__customer__name")
    def customer(self, obj: Payment) -> Customer:
        return obj.invoice.customer


__all__ = ["InvoiceAdmin", "PaymentAdmin"]
