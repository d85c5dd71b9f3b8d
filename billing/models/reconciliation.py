"""The result of each daily reconciliation (architecture "Money"), kept so
that staff see the latest one, and each difference, in the back office."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Reconciliation(models.Model):
    """One run of ``ledger_reconcile``: how many customers disagreed, and each
    difference (``billing.services.Mismatch`` as a dict: customer, book, the
    ledger's total, the balance shown, the lots that disagree)."""

    ran_at = models.DateTimeField(_("ran at"), default=timezone.now)
    mismatch_count = models.PositiveIntegerField(_("customers that do not reconcile"), default=0)
    mismatches = models.JSONField(_("differences"), default=list)

    class Meta:
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        ordering = ["-ran_at", "-id"]
        indexes = [models.Index(fields=["-ran_at"], name="reconciliation_latest")]

    def __str__(self) -> str:
        return f"{self.ran_at:%Y-%m-%d %H:%M}: {self.mismatch_count}"

    @property
    def ok(self) -> bool:
        return self.mismatch_count == 0
