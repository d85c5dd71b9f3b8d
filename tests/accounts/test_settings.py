"""Production settings: refuse to start without secrets; `check --deploy` clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_django(args: list[str], env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "TESTING", "DATABASE_URL"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_secret_key() -> None:
    result = run_django(["check"], {"DEBUG": "false", "TESTING": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_starts_with_a_development_secret() -> None:
    result = run_django(["check"], {"DEBUG": "true", "TESTING": "false"})
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = run_django(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {
            "DEBUG": "false",
            "TESTING": "false",
            "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-9f8e7d6c5b4a",
            "ALLOWED_HOSTS": "otp.example.com",
        },
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
