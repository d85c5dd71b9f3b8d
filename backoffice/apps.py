from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = _("Back office")

    def ready(self) -> None:
        from backoffice import audit, labels, roles

        audit.register_models()
        labels.apply()
        # After every migrate (and every test flush): the staff groups hold exactly
        # their role's permissions, including those of models added since.
        post_migrate.connect(roles.sync_after_migrate, sender=self, dispatch_uid="backoffice.roles.sync")
