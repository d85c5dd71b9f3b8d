"""Deployment checks run by ``manage.py check`` (and so by ``migrate``).

Review 8.10: the providers default to ``sandbox``, which accepts every
message and delivers none. A production site (DEBUG off, not the tests) with
a channel that live keys use still on the sandbox would charge customers
for codes that never arrive, so it refuses to start unless
``ALLOW_SANDBOX_IN_PRODUCTION`` says that is meant (a staging site).
Registered in ``messaging.apps.MessagingConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

# Channel -> the setting naming its provider (live keys; test keys always use the sandbox).
PROVIDER_SETTINGS = {
    "sms": "PROVIDER_SMS",
    "wa": "PROVIDER_WA",
    "wa_official": "PROVIDER_WA_OFFICIAL",
}


def sandbox_in_production(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG or settings.TESTING or settings.ALLOW_SANDBOX_IN_PRODUCTION:
        return []
    return [
        Error(
            f"{name} is 'sandbox' in production: live {channel} messages would be charged and never sent.",
            hint=(
                f"Set {name} to a real provider (smpp, wa_gateway, wa_cloud), or "
                "ALLOW_SANDBOX_IN_PRODUCTION=true for a staging site."
            ),
            id="otpportal.E001",
        )
        for channel, name in PROVIDER_SETTINGS.items()
        if getattr(settings, name) == "sandbox"
    ]
