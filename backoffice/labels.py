"""Names the admin shows for apps and for third-party models, in both
languages. Our own models are named in their ``Meta``; an app's name and a
library model whose name is not marked for translation are set here, at
start-up (no migration: these are not part of any model's state)."""

from __future__ import annotations

from django.apps import apps
from django.utils.translation import gettext_lazy as _

APP_NAMES = {
    "accounts": _("Customers and users"),
    "billing": _("Billing"),
    "senderids": _("Sender IDs"),
    "messaging": _("Messaging"),
    "auditlog": _("Audit log"),
    "otp_totp": _("Staff two-factor sign-in"),
    "django_celery_beat": _("Scheduled jobs"),
    "axes": _("Sign-in lock-outs"),
}

MODEL_NAMES = {
    # django-otp names its model in English only.
    "otp_totp.TOTPDevice": (_("authenticator app"), _("authenticator apps")),
    "auditlog.LogEntry": (_("audit entry"), _("audit log")),
}


def apply() -> None:
    for label, name in APP_NAMES.items():
        if label in apps.app_configs:
            apps.app_configs[label].verbose_name = name
    for label, (singular, plural) in MODEL_NAMES.items():
        app_label, _sep, model_name = label.partition(".")
        if app_label in apps.app_configs:
            meta = apps.get_model(label)._meta
            meta.verbose_name = singular
            meta.verbose_name_plural = plural
