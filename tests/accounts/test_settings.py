"""Production settings: refuse to start without secrets; `check --deploy` clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_django(args: list[str], env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    unset = {"SECRET_KEY", "OTP_HMAC_KEY", "DEBUG", "TESTING", "DATABASE_URL", "ALLOW_SANDBOX_IN_PRODUCTION"}
    env = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith("PROVIDER_")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_secret_key() -> None:
    result = run_django(["check"], {"DEBUG": "false", "TESTING": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


PRODUCTION = {
    "DEBUG": "false",
    "TESTING": "false",
    "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-9f8e7d6c5b4a",
    "OTP_HMAC_KEY": "production-like-otp-hmac-key-of-its-own-0a1b2c3d4e5f6a7b8c9d",
    "ALLOWED_HOSTS": "otp.example.com",
    "PROVIDER_SMS": "smpp",
    "PROVIDER_WA": "wa_gateway",
    "PROVIDER_WA_OFFICIAL": "wa_cloud",
}


def test_production_refuses_to_start_without_otp_hmac_key() -> None:
    """Review 8.11: no silent fall-back to SECRET_KEY in production."""
    env = {k: v for k, v in PRODUCTION.items() if k != "OTP_HMAC_KEY"}
    result = run_django(["check"], env)
    assert result.returncode != 0
    assert "OTP_HMAC_KEY is not set" in result.stderr


def test_production_refuses_to_start_with_a_sandbox_provider() -> None:
    """Review 8.10: `manage.py check` (and so `migrate`) fails; the check is registered."""
    result = run_django(["check"], {**PRODUCTION, "PROVIDER_WA": "sandbox"})
    assert result.returncode != 0
    assert "otpportal.E001" in result.stderr and "PROVIDER_WA " in result.stderr
    assert "PROVIDER_SMS" not in result.stderr


def test_debug_starts_with_a_development_secret() -> None:
    result = run_django(["check"], {"DEBUG": "true", "TESTING": "false"})
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = run_django(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
