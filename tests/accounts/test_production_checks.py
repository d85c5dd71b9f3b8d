"""Review 8.10: production refuses to start with a channel on the sandbox
provider (system check otpportal.E001) unless ALLOW_SANDBOX_IN_PRODUCTION."""

from __future__ import annotations

from otpportal.checks import sandbox_in_production


def production(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    settings.TESTING = False
    settings.ALLOW_SANDBOX_IN_PRODUCTION = False
    settings.PROVIDER_SMS = "smpp"
    settings.PROVIDER_WA = "wa_gateway"
    settings.PROVIDER_WA_OFFICIAL = "wa_cloud"


def test_real_providers_pass(settings) -> None:  # type: ignore[no-untyped-def]
    production(settings)
    assert sandbox_in_production() == []


def test_each_channel_on_the_sandbox_is_an_error_in_production(settings) -> None:  # type: ignore[no-untyped-def]
    production(settings)
    settings.PROVIDER_SMS = "sandbox"
    settings.PROVIDER_WA_OFFICIAL = "sandbox"
    errors = sandbox_in_production()
    assert [e.id for e in errors] == ["otpportal.E001", "otpportal.E001"]
    assert all(e.is_serious() for e in errors)
    assert "PROVIDER_SMS" in errors[0].msg and "PROVIDER_WA_OFFICIAL" in errors[1].msg
    assert "ALLOW_SANDBOX_IN_PRODUCTION" in (errors[0].hint or "")


def test_the_defaults_are_refused_in_production(settings) -> None:  # type: ignore[no-untyped-def]
    production(settings)
    settings.PROVIDER_SMS = settings.PROVIDER_WA = settings.PROVIDER_WA_OFFICIAL = "sandbox"
    assert len(sandbox_in_production()) == 3


def test_allowed_explicitly_or_in_debug_and_tests(settings) -> None:  # type: ignore[no-untyped-def]
    production(settings)
    settings.PROVIDER_SMS = "sandbox"
    settings.ALLOW_SANDBOX_IN_PRODUCTION = True  # a staging site
    assert sandbox_in_production() == []
    settings.ALLOW_SANDBOX_IN_PRODUCTION = False
    settings.DEBUG = True
    assert sandbox_in_production() == []
    settings.DEBUG = False
    settings.TESTING = True
    assert sandbox_in_production() == []
