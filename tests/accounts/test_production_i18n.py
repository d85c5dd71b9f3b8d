"""Review 8.24: a server set up the production way shows the dashboard in
Indonesian, never "Sign in" beside "Alamat email".

The compiled catalogues (``locale/*/LC_MESSAGES/django.mo``) are committed,
so a clone needs neither gettext nor ``compilemessages``. These tests pin the
three parts of that: git does not ignore the ``.mo`` files, every committed
``.mo`` says what its ``.po`` says, and a gunicorn server started from a copy
of exactly what git ships, with production settings, serves the login page in
Indonesian.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import polib
import pytest
import requests
from django.db import connection

from tests.shipped import ROOT, gitignore_patterns, is_ignored, shipped_files

CATALOGUES = sorted((ROOT / "locale").glob("*/LC_MESSAGES/django.po"))


def test_compiled_catalogues_are_not_git_ignored_review_8_24() -> None:
    """Review 8.24: `*.mo` was in .gitignore, so a clone had no compiled
    translations and showed an English dashboard."""
    assert CATALOGUES, "no locale/*/LC_MESSAGES/django.po found"
    patterns = gitignore_patterns()
    for po in CATALOGUES:
        mo = po.with_suffix(".mo")
        assert mo.is_file(), f"{mo.relative_to(ROOT)} is missing: run `make messages` and commit it"
        relative = PurePosixPath(mo.relative_to(ROOT).as_posix())
        assert not is_ignored(relative, patterns, is_dir=False), f".gitignore keeps {relative} out of git"
    shipped = {p.relative_to(ROOT).as_posix() for p in shipped_files()}
    assert "locale/id/LC_MESSAGES/django.mo" in shipped


# --- committed .mo == its .po -------------------------------------------------


def _messages(entries: list[polib.POEntry] | list[polib.MOEntry]) -> dict[tuple[str, str, str], object]:
    result: dict[tuple[str, str, str], object] = {}
    for entry in entries:
        key = (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")
        if entry.msgid_plural:
            result[key] = tuple(value for _, value in sorted(entry.msgstr_plural.items()))
        else:
            result[key] = entry.msgstr
    return result


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.parts[-3])
def test_each_committed_mo_matches_its_po_review_8_24(po_path: Path) -> None:
    """Review 8.24: the shipped ``.mo`` carries exactly the translated, non-fuzzy
    messages of its ``.po`` (what msgfmt compiles), compared as messages, not
    bytes. After editing a .po: `make messages` and commit the .mo."""
    po = polib.pofile(str(po_path))
    mo = polib.mofile(str(po_path.with_suffix(".mo")))
    expected = _messages(po.translated_entries())
    compiled = _messages(list(mo))
    stale = sorted(k[1] for k in expected.keys() & compiled.keys() if expected[k] != compiled[k])
    assert {
        "missing from the .mo": sorted(k[1] for k in expected.keys() - compiled.keys()),
        "only in the .mo": sorted(k[1] for k in compiled.keys() - expected.keys()),
        "translated differently": stale,
    } == {"missing from the .mo": [], "only in the .mo": [], "translated differently": []}, (
        f"{po_path.with_suffix('.mo').relative_to(ROOT)} is stale: run `make messages` and commit it"
    )
    assert mo.metadata.get("Plural-Forms") == po.metadata.get("Plural-Forms")


# --- a production server from a clone ----------------------------------------

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "otpportal.settings",
    "DEBUG": "false",
    "TESTING": "false",
    "SECRET_KEY": "production-like-secret-key-for-the-i18n-test-0f9e8d7c6b5a4f3e2d1c",
    "OTP_HMAC_KEY": "production-like-otp-hmac-key-for-the-i18n-test-1a2b3c4d5e6f7a8b9c",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback; TLS ends at the proxy in production
    "ALLOW_SANDBOX_IN_PRODUCTION": "true",  # no real provider here
    "LOG_LEVEL": "WARNING",
}
# Third-party static bundles the login page does not use. The production
# storage (WhiteNoise's compressed manifest) compresses every file with
# brotli and gzip, which takes a minute for these; the page's own assets are
# collected, hashed and compressed exactly as in production.
NOT_ON_THE_LOGIN_PAGE = ("admin", "rest_framework", "drf_spectacular_sidecar")


def _run(args: list[str], env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url(app: Path) -> str:
    """The suite's PostgreSQL test database (migrated by pytest-django), else
    the clone's own SQLite file, migrated here as an operator would."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{app / 'var' / 'db.sqlite3'}"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A copy of exactly the files git ships (nothing that .gitignore leaves out:
    no var/, no .env, no .venv)."""
    app = tmp_path / "otpportal-clone"
    for source in shipped_files():
        target = app / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return app


def test_login_page_is_indonesian_from_a_production_server_review_8_24(django_db_setup: None, clone: Path) -> None:
    """Review 8.24: gunicorn with DEBUG off, set up as README "Running in
    production" says (migrate, collectstatic, no compilemessages), serves
    /login/ in Indonesian to a browser that asks for English."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(clone)),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(clone),
        **PRODUCTION_ENV,
        "DATABASE_URL": _database_url(clone),
    }
    python = sys.executable
    if env["DATABASE_URL"].startswith("sqlite"):
        _run([python, "manage.py", "migrate", "--noinput", "-v", "0"], env, clone)
    ignore = [arg for name in NOT_ON_THE_LOGIN_PAGE for arg in ("-i", name)]
    _run([python, "manage.py", "collectstatic", "--noinput", "-v", "0", *ignore], env, clone)
    assert (clone / "var" / "static" / "staticfiles.json").is_file()

    port = _free_port()
    log = clone / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [python, "-m", "gunicorn", "otpportal.wsgi:application", "--chdir", str(clone)]
            + ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2", "--worker-class", "gthread"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        page = _get_when_up(f"http://127.0.0.1:{port}/login/", server, log)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)

    assert '<html lang="id">' in page
    for indonesian in ("Masuk", "Alamat email", "Kata sandi", "Lupa kata sandi?"):
        assert indonesian in page, f"{indonesian!r} missing from the login page"
    for english in ("Sign in", "Email address", "Forgot your password?"):
        assert english not in page, f"English {english!r} on the Indonesian login page"
    # Served by the production storage: hashed (manifest) static names.
    assert re.search(r'href="/static/css/app\.[0-9a-f]{12}\.css"', page), page[:600]


def _get_when_up(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> str:
    """GET ``url`` as a browser set to English would, once gunicorn answers."""
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text(errors='replace')}")
        try:
            response = requests.get(url, headers={"Accept-Language": "en-US,en;q=0.9"}, timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within {timeout} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
            continue
        assert response.status_code == 200, f"HTTP {response.status_code}\n{response.text[:2000]}\n{log.read_text()}"
        return response.text
