"""Which provider serves which channel (and, for SMS, which operator).

Configuration (README "Providers"): PROVIDER_SMS, PROVIDER_WA,
PROVIDER_WA_OFFICIAL name a provider (sandbox | smpp | wa_gateway |
wa_cloud); SMS_ROUTES maps operators to SMPP accounts
("telkomsel=main,default=main"). Test keys always get the sandbox.
Instances are built once per process (providers keep connections).
"""

from __future__ import annotations

import threading

from django.conf import settings

from messaging.providers.base import Provider

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
    if name.startswith("smpp:"):
        from messaging.providers.smpp import SmppAccount, SmppProvider

        wanted = name.split(":", 1)[1]
        for url in settings.SMPP_ACCOUNTS:
            account = SmppAccount.from_url(url)
            if account.name == wanted:
                from messaging.limits import default_bucket

                return SmppProvider(account, on_report=_record_report, bucket=default_bucket())
        raise LookupError(f"No SMPP account named {wanted!r} in SMPP_ACCOUNTS.")
    raise LookupError(f"Unknown provider {name!r}.")


def _record_report(report):  # type: ignore[no-untyped-def]
    from messaging.services import delivery_record

    try:
        delivery_record(report)
    except Exception:  # noqa: BLE001 - never kill the SMPP reader thread
        import logging

        logging.getLogger(__name__).exception("recording %s failed", report)


def _sms_route(operator: str) -> str:
    routes = dict(item.split("=", 1) for item in settings.SMS_ROUTES if "=" in item)
    account = routes.get(operator) or routes.get("default")
    if account is None:
        first = settings.SMPP_ACCOUNTS[0] if settings.SMPP_ACCOUNTS else ""
        from messaging.providers.smpp import SmppAccount

        account = SmppAccount.from_url(first).name if first else ""
    return f"smpp:{account}"


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


def provider_for(*, channel: str, operator: str = "", is_test: bool = False) -> Provider:
    name = provider_name_for(channel=channel, operator=operator, is_test=is_test)
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
