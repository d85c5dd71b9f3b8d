"""Indonesian is the default language: every extracted string has an
Indonesian translation, and the compiled catalogue is in use."""

from __future__ import annotations

from pathlib import Path

import polib
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]


def test_every_string_has_an_indonesian_translation() -> None:
    po = polib.pofile(str(ROOT / "locale" / "id" / "LC_MESSAGES" / "django.po"))
    missing = [e.msgid for e in po if not e.obsolete and not (e.msgstr or any(e.msgstr_plural.values()))]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags and not e.obsolete]
    assert len(po) > 300
    assert missing == [] and fuzzy == []


def test_the_catalogue_is_compiled_and_used() -> None:
    with translation.override("id"):
        assert translation.gettext("Sign in") == "Masuk"
    with translation.override("en"):
        assert translation.gettext("Sign in") == "Sign in"
