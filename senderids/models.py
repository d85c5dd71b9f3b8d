"""Custom sender IDs ("masking"): a customer's application for one sender
name (R-SID-2), one registration per operator (R-SID-1, R-SID-4) with its
own state machine and append-only history (style.md #4), and the records
that keep the quarterly traffic rules idempotent (R-SID-6, R-SID-7).

Every write goes through ``senderids.services``; these classes only hold
the tables, their constraints and the table of allowed moves.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from billing.models import Operator
from otpportal.ids import new_id

FORM_FOLDER = "private/sender-id-forms"  # under MEDIA_ROOT; never served by a public URL (see README)


def _sender_id_pk() -> str:
    return new_id("sid")


def form_path(instance: SenderId, filename: str) -> str:
    """A name of ours for the signed form: the customer's file name is never
    used (it may carry a path); the extension is the one its content proved."""
    return f"{FORM_FOLDER}/{instance.customer_id}/{uuid.uuid4().hex}.{instance.form_kind}"


class SenderId(models.Model):
    """One application: a sender name, the brand it stands for and the signed
    appointment form ("Form Penunjukan", R-SID-2). Its per-operator state
    lives in ``Registration``."""

    class FormKind(models.TextChoices):
        PDF = "pdf", "PDF"
        JPG = "jpg", "JPEG"
        PNG = "png", "PNG"

    id = models.CharField(_("ID"), primary_key=True, max_length=32, default=_sender_id_pk, editable=False)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="sender_ids"
    )
    name = models.CharField(_("sender name"), max_length=11)
    name_key = models.CharField(
        _("name as compared"), max_length=11, editable=False
    )  # upper case: names compare case-insensitively
    brand = models.CharField(_("brand"), max_length=100)
    form = models.FileField(_("signed appointment form"), upload_to=form_path, max_length=200)
    form_kind = models.CharField(_("form type"), max_length=3, choices=FormKind.choices)
    form_original_name = models.CharField(_("uploaded file name"), max_length=120, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("applied by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("applied at"), default=timezone.now)

    class Meta:
        verbose_name = _("sender ID application")
        verbose_name_plural = _("sender ID applications")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="sid_customer_time"),
            models.Index(fields=["name_key"], name="sid_name_key"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer})"


class Registration(models.Model):
    """R-SID-4: the application's registration with one operator (Telkomsel:
    one per route), each with its own status.

    ``customer`` and ``name`` repeat the application's so that the send
    path's lookup (R-CH-4) is one indexed query on this table alone.
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        IN_REVIEW = "in_review", _("In review")
        ACTIVE = "active", _("Active")
        REJECTED = "rejected", _("Rejected")
        SUSPENDED = "suspended", _("Suspended")

    class Route(models.TextChoices):
        """Telkomsel's two routes (R-SID-7); the other operators have one (blank)."""

        NONE = "", _("—")
        PREMIUM = "premium", _("premium route (OTP)")
        REGULAR = "regular", _("regular route (notifications)")

    # style.md #4: the only moves; ``services.registration_move`` refuses the rest.
    MOVES: ClassVar[dict[str, frozenset[str]]] = {
        "submitted": frozenset({"in_review"}),
        "in_review": frozenset({"active", "rejected"}),
        "active": frozenset({"suspended"}),
        "suspended": frozenset({"active"}),  # reactivation (R-SID-6); refused for Telkomsel (R-SID-7)
        "rejected": frozenset(),
    }

    application = models.ForeignKey(
        SenderId, verbose_name=_("application"), on_delete=models.PROTECT, related_name="registrations"
    )
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("sender name"), max_length=11)
    name_key = models.CharField(_("name as compared"), max_length=11, editable=False)
    operator = models.CharField(_("operator"), max_length=12, choices=Operator.choices)
    route = models.CharField(_("route"), max_length=8, choices=Route.choices, blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    expected_from = models.DateField(_("expected from"))  # R-SID-4: 7 working days after submission
    expected_by = models.DateField(_("expected by"))  # R-SID-4: 30 working days after submission
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)
    activated_at = models.DateTimeField(_("first activated at"), null=True, blank=True)
    reactivation_requested_at = models.DateTimeField(_("reactivation requested at"), null=True, blank=True)
    reactivation_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reactivation requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("sender ID registration")
        verbose_name_plural = _("sender ID registrations")
        ordering = ["application_id", "operator", "route"]
        indexes = [
            # R-CH-4: the send path's lookup (customer, operator) among active rows only.
            models.Index(
                fields=["customer", "operator", "activated_at", "id"],
                condition=Q(status="active"),
                name="sidreg_active_lookup",
            ),
            models.Index(fields=["status", "operator"], name="sidreg_status_operator"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["application", "operator", "route"], name="sidreg_one_per_operator_route"),
            # One customer holds a name on an operator's route once while it is live.
            models.UniqueConstraint(
                fields=["customer", "name_key", "operator", "route"],
                condition=Q(status__in=["submitted", "in_review", "active"])
                | (Q(status="suspended") & ~Q(operator="telkomsel")),
                name="sidreg_live_once",
            ),
            # A name is active on an operator's route for one customer only.
            models.UniqueConstraint(
                fields=["name_key", "operator", "route"], condition=Q(status="active"), name="sidreg_active_name_once"
            ),
            models.CheckConstraint(
                condition=(Q(operator="telkomsel") & ~Q(route="")) | (~Q(operator="telkomsel") & Q(route="")),
                name="sidreg_route_telkomsel_only",
            ),
            models.CheckConstraint(condition=Q(expected_by__gte=models.F("expected_from")), name="sidreg_window"),
        ]

    def __str__(self) -> str:
        route = f" {self.route}" if self.route else ""
        return f"{self.name} @ {self.get_operator_display()}{route}: {self.status}"

    @property
    def operator_label(self) -> str:
        label = str(self.get_operator_display())
        return f"{label}, {self.get_route_display()}" if self.route else label


def live_q() -> Q:
    """Registrations that hold their (customer, name, operator, route), so that
    a second application for it is refused: the ``sidreg_live_once``
    constraint's condition, for queries. A rejected registration holds
    nothing, nor does a suspended Telkomsel route (R-SID-7: it is over, a new
    registration is needed)."""
    return Q(status__in=["submitted", "in_review", "active"]) | (Q(status="suspended") & ~Q(operator="telkomsel"))


class RegistrationStatusChange(models.Model):
    """Append-only history of a registration's status (style.md #4):
    old, new, the note (reason), who moved it (``None``: the platform's own
    rules) and when."""

    registration = models.ForeignKey(
        Registration, verbose_name=_("registration"), on_delete=models.PROTECT, related_name="history"
    )
    old = models.CharField(_("old status"), max_length=10, blank=True)
    new = models.CharField(_("new status"), max_length=10)
    reason = models.CharField(_("note"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("registration status change")
        verbose_name_plural = _("registration status changes")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["registration", "created_at"], name="sidhist_reg_time")]

    def __str__(self) -> str:
        return f"{self.registration_id}: {self.old or '∅'} → {self.new}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Status history is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Status history is append-only.")

    @property
    def old_label(self) -> str:
        return str(Registration.Status(self.old).label) if self.old else ""

    @property
    def new_label(self) -> str:
        return str(Registration.Status(self.new).label)


class TrafficReview(models.Model):
    """What the quarterly traffic rules did to a registration in a quarter
    (R-SID-6, R-SID-7): warned before its end, or suspended after it. One of
    each per registration and quarter, so a rerun changes nothing."""

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning")
        SUSPENSION = "suspension", _("Suspension")

    registration = models.ForeignKey(
        Registration, verbose_name=_("registration"), on_delete=models.PROTECT, related_name="traffic_reviews"
    )
    quarter = models.DateField(_("quarter"), help_text=_("The quarter's first day."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    units = models.PositiveIntegerField(_("SMS counted"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("quarterly traffic review")
        verbose_name_plural = _("quarterly traffic reviews")
        ordering = ["-quarter", "registration"]
        constraints = [
            models.UniqueConstraint(fields=["registration", "quarter", "kind"], name="sidtraffic_once"),
        ]

    def __str__(self) -> str:
        return f"{self.registration} {self.quarter:%Y-%m}: {self.kind} ({self.units})"
