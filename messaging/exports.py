"""CSV exports of the dashboard's message and verification lists.

The list's own filters (``messaging.filters``) pick the rows; the rows are
read from a server-side cursor in chunks and written line by line into a
``StreamingHttpResponse``, so an export of a million messages never sits in
memory. Values are the API's (codes, E.164 numbers, ISO 8601 times in
Asia/Jakarta); free text is kept from being read as a spreadsheet formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from messaging import selectors

JAKARTA = ZoneInfo("Asia/Jakarta")
FREE_TEXT = frozenset({"reference", "sender_id"})


class _Echo:
    """A file-like object whose ``write`` returns the line (Django's streaming CSV pattern)."""

    def write(self, value: str) -> str:
        return value


def cell(name: str, value: Any) -> Any:
    """One CSV cell: times in Jakarta ISO 8601, booleans as true/false, free text defused."""
    if value is None:
        return ""
    if name == "mode":  # the is_test column, as the API's "mode"
        return "test" if value else "live"
    if isinstance(value, datetime):
        return value.astimezone(JAKARTA).isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in FREE_TEXT and isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return f"'{value}"
    return value


def lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(name, value) for name, value in zip(header, row, strict=True)])


def csv_response(queryset: QuerySet[Any], fields: Sequence[str], *, kind: str, slug: str) -> StreamingHttpResponse:
    """The filtered rows as a streamed CSV download named ``<kind>-<customer>-<date>.csv``."""
    header = ["mode" if name == "is_test" else name for name in fields]
    rows = selectors.export_rows(queryset, fields)
    response = StreamingHttpResponse(lines(header, rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(JAKARTA).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{kind}-{slug}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
