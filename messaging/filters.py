"""The filters of the message and verification lists (Review 8.26): one
django-filter ``FilterSet`` per list, used by the API (``DjangoFilterBackend``,
so the OpenAPI schema documents every parameter) and by the dashboard page
of the same list (its filter form).

The parameter names are the contract's (``status``, ``channel``, ``to``,
``created_after``, ``created_before``), plus ``mode`` (Review 8.21). A bad
value is a form error: a 400 ``invalid_request`` naming the field in the API,
the page's form error on the dashboard; never ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from accounts.models import ApiKey
from messaging import phones
from messaging.forms import _number_filter
from messaging.models import Channel, Message, Verification

MODE_ALL = "all"
MODE_CHOICES = [(MODE_ALL, _("Live and test")), *ApiKey.Mode.choices]
FILTER_FIELDS = ["status", "channel", "to", "created_after", "created_before", "mode"]


class PhoneNumberField(forms.CharField):
    """A number typed as 08…, 628… or +628…, cleaned to the E.164 the rows store (R-OP-2)."""

    def clean(self, value: Any) -> str:
        return _number_filter(super().clean(value))


class PhoneNumberFilter(django_filters.CharFilter):
    field_class = PhoneNumberField


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, in UTC: the database refuses offsets past ±15:59
    (``+23:56`` is valid ISO 8601), and a time near year 1 or 9999 may not
    exist in UTC at all; both are a form error, not a database error."""

    def clean(self, value: Any) -> datetime | None:
        moment = super().clean(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)  # type: ignore[no-any-return]
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


def _created(lookup_expr: str, label: Any, help_text: str) -> UtcDateTimeFilter:
    return UtcDateTimeFilter(
        field_name="created_at",
        lookup_expr=lookup_expr,
        label=label,
        help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class ListFilter(django_filters.FilterSet):
    """The filters both lists share. ``mode`` left out means ``default_mode``:
    the calling key's mode in the API (Review 8.21), ``all`` on the dashboard."""

    channel = django_filters.ChoiceFilter(
        label=_("Channel"), choices=Channel.choices, empty_label=_("All channels"), help_text="Channel."
    )
    to = PhoneNumberFilter(
        label=_("Number"), max_length=32, help_text="Destination number: 08…, 628… or +628… (stored as E.164)."
    )
    created_after = _created("gte", _("Created from"), "Created at or after this time (ISO 8601).")
    created_before = _created("lt", _("Created before"), "Created before this time (ISO 8601).")
    mode = django_filters.ChoiceFilter(
        label=_("Mode"),
        choices=MODE_CHOICES,
        empty_label=None,
        method="filter_mode",
        help_text=(
            "`live` (live keys' traffic), `test` (test keys', never charged) or `all`. "
            "Default: the mode of the calling key."
        ),
    )

    def __init__(
        self,
        data: Any = None,
        queryset: QuerySet[Any] | None = None,
        *,
        request: Any = None,
        prefix: str | None = None,
        default_mode: str = MODE_ALL,
    ) -> None:
        if data is not None and not data.get("mode"):
            data = data.copy()
            data["mode"] = default_mode
        super().__init__(data, queryset, request=request, prefix=prefix)

    def get_form_class(self) -> type[forms.Form]:
        """The help texts document the API (the OpenAPI schema reads them from
        the filters); the dashboard's form, in the user's language, shows labels only."""
        form_class = super().get_form_class()
        for field in form_class.base_fields.values():
            field.help_text = ""
        return form_class

    def filter_mode(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        if value == MODE_ALL:
            return queryset
        return queryset.filter(is_test=value == ApiKey.Mode.TEST)

    def result(self) -> QuerySet[Any]:
        """The filtered rows, or none when a value is refused (never the unfiltered list)."""
        return self.qs if self.is_valid() else self.queryset.none()


class MessageFilter(ListFilter):
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Message.Status.choices, empty_label=_("All statuses"), help_text="Message status."
    )

    class Meta:
        model = Message
        fields = FILTER_FIELDS


class VerificationFilter(ListFilter):
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=Verification.Status.choices,
        empty_label=_("All statuses"),
        help_text="Verification status.",
    )

    class Meta:
        model = Verification
        fields = FILTER_FIELDS


# --- The dashboard's lists: the API's filters, plus operator and a search box ------------------

OPERATOR_CHOICES = [(operator.value, operator.label) for operator in phones.Operator]
DASHBOARD_ORDER = ["q", "to", "status", "channel", "operator", "mode", "created_after", "created_before"]


def _operator_filter() -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(label=_("Operator"), choices=OPERATOR_CHOICES, empty_label=_("All operators"))


def _search_filter() -> django_filters.CharFilter:
    return django_filters.CharFilter(
        label=_("ID or reference"),
        max_length=100,
        method="filter_search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "msg_…, ver_…"}),
    )


class DashboardListFilter:
    """What the dashboard's two lists add to the API's FilterSets: the form's
    field order, and the search: an id (``msg_…``, ``ver_…``, each an indexed
    lookup) or else the customer's own reference, matched exactly."""

    def _ordered(self, form: forms.Form) -> forms.Form:
        form.order_fields(DASHBOARD_ORDER)
        return form

    def search(self, queryset: QuerySet[Any], value: str, *, own_prefix: str, other: tuple[str, str]) -> QuerySet[Any]:
        value = value.strip()
        if not value:
            return queryset
        if value.startswith(own_prefix):
            return queryset.filter(pk=value)
        prefix, lookup = other
        if value.startswith(prefix):
            return queryset.filter(**{lookup: value})
        return queryset.filter(reference=value)


class MessageListFilter(DashboardListFilter, MessageFilter):
    operator = _operator_filter()
    q = _search_filter()

    @property
    def form(self) -> forms.Form:
        return self._ordered(super().form)

    def filter_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return self.search(queryset, value, own_prefix="msg_", other=("ver_", "verification_id"))


class VerificationListFilter(DashboardListFilter, VerificationFilter):
    operator = _operator_filter()
    q = _search_filter()

    @property
    def form(self) -> forms.Form:
        return self._ordered(super().form)

    def filter_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return self.search(queryset, value, own_prefix="ver_", other=("msg_", "messages__id"))
