"""Which provider serves which channel (and, for SMS, which operator).

Configuration (README "Providers"): PROVIDER_SMS, PROVIDER_WA,
PROVIDER_WA_OFFICIAL name a provider (sandbox | smpp | wa_gateway |
wa_cloud); SMS_ROUTES maps operators to SMPP accounts
("telkomsel=main,default=main"). Test keys always get the sandbox.
Instances are built once per process (providers keep connections).

Providers never import the services: a provider that receives delivery
reports on its own connection (an SMPP transceiver bind) gets the handler
from its caller, ``provider_for(..., on_report=...)``.
"""

from __future__ import annotations

import threading

from django.conf import settings

from messaging.providers.base import Provider, ReportCallback

_lock = threading.Lock()
_instances: dict[str, Provider] = {}


def _build(name: str) -> Provider:
    if name == "sandbox":
        from messaging.providers.sandbox import SandboxProvider

        return SandboxProvider()
    if name == "wa_cloud":
        from messaging.providers.wa_cloud import WaCloudProvider

        return WaCloudProvider()
    if name == "wa_gateway":
        from messaging.providers.wa_gateway import WaGatewayProvider

        return WaGatewayProvider()
    raise LookupError(f"Unknown provider {name!r}.")


def _sms_route(operator: str) -> str:
    routes = dict(item.split("=", 1) for item in settings.SMS_ROUTES if "=" in item)
    account = routes.get(operator) or routes.get("default")
    return f"smpp:{account or ''}"  # empty: the first account in SMPP_ACCOUNTS


def provider_name_for(*, channel: str, operator: str = "", is_test: bool = False) -> str:
    if is_test:
        return "sandbox"
    configured = {
        "sms": settings.PROVIDER_SMS,
        "wa": settings.PROVIDER_WA,
        "wa_official": settings.PROVIDER_WA_OFFICIAL,
    }[channel]
    if configured == "smpp":
        return _sms_route(operator)
    return configured


def provider_for(
    *, channel: str, operator: str = "", is_test: bool = False, on_report: ReportCallback | None = None
) -> Provider:
    """The provider serving ``channel`` (and ``operator``). ``on_report`` receives the delivery
    reports that arrive on the provider's own connection (an SMPP transceiver bind)."""
    name = provider_name_for(channel=channel, operator=operator, is_test=is_test)
    if name.startswith("smpp:") and name not in _instances:
        from messaging.providers.smpp import get_provider

        # one bind per account per process, fork-safe
        return get_provider(name.split(":", 1)[1] or None, on_report=on_report)
    provider = _instances.get(name)
    if provider is None:
        with _lock:
            provider = _instances.get(name)
            if provider is None:
                provider = _instances[name] = _build(name)
    return provider


def sandbox_is_live() -> bool:
    """Live keys may read the sandbox only where every channel is the sandbox."""
    return {settings.PROVIDER_SMS, settings.PROVIDER_WA, settings.PROVIDER_WA_OFFICIAL} == {"sandbox"}


def reset() -> None:
    with _lock:
        for provider in _instances.values():
            close = getattr(provider, "close", None)
            if close:
                close()
        _instances.clear()


def register(name: str, provider: Provider) -> None:
    """Install a provider instance under a name (a gateway added in code, or
    a scripted provider in tests); PROVIDER_* settings may then name it."""
    with _lock:
        _instances[name] = provider
