"""The PDF engine of ``billing.documents``: WeasyPrint, with no network access.

Kept apart so that only the processes that render (the workers, a staff download) load
WeasyPrint; ``billing.documents`` imports this module when it first renders.

Rendering never reaches the network: the templates use no remote resources, fonts are the
installed DejaVu (Debian ``fonts-dejavu-core``), and the URL fetcher refuses anything but
``data:`` URLs and files inside this app, and fails the render when asked for anything else.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher

_APP_DIR = Path(__file__).resolve().parent


class LocalOnlyFetcher(URLFetcher):
    """WeasyPrint's fetcher, limited to ``data:`` URLs and files inside the
    billing app: a document never loads anything over the network, and a
    template that asks for a remote URL fails loudly instead of silently
    rendering without it."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file" and parts.netloc in ("", "localhost"):
            path = Path(url2pathname(parts.path)).resolve()
            if path.is_relative_to(_APP_DIR):
                return super().fetch(url, headers)
        raise FatalURLFetchingError(f"PDF documents load no resources from outside the app: {url!r}")


_fonts = threading.local()


def _font_config() -> FontConfiguration:
    """One font configuration per thread, reused across renders (building it
    is a measurable part of each render when month end renders thousands)."""
    config = getattr(_fonts, "config", None)
    if config is None:
        config = _fonts.config = FontConfiguration()
    return config


def html_to_pdf(html: str) -> bytes:
    """Render an HTML document to PDF bytes, with no network access."""
    document = HTML(string=html, base_url=_APP_DIR.as_uri() + "/", url_fetcher=LocalOnlyFetcher())
    return document.write_pdf(font_config=_font_config())
