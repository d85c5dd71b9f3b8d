"""``Idempotency-Key`` on POSTs that create or charge (api-contract "Basics").

The key's row is inserted in the same transaction as the work it guards, so
two concurrent requests with one key cannot both charge: the second waits on
the unique index and then replays the first's response. Refusals (4xx) roll
the row back with everything else, so a corrected retry may reuse the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import IdempotencyRecord
from otpportal.errors import ServiceError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 64

# The header as the OpenAPI schema shows it on every POST that creates or charges.
IDEMPOTENCY_PARAM = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="≤ 64 chars; the same key and body within 24 h replays the first response.",
)


def _fingerprint(request: Request) -> str:
    """The request's identity: method, path, the parsed fields and, for a
    multipart upload, each file's content (not only its name)."""
    try:
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    digest = hashlib.sha256(f"{request.method} {request.path}\n{body}".encode())
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            digest.update(f"\n{name}:".encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    @wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ServiceError(
                "invalid_request",
                _("%(header)s must be 1 to %(max)s characters.") % {"header": HEADER, "max": MAX_KEY_LENGTH},
                details={HEADER: [_("1 to %(max)s characters.") % {"max": MAX_KEY_LENGTH}]},
            )
        customer = request.auth.customer
        fingerprint = _fingerprint(request)
        now = timezone.now()
        with transaction.atomic():
            fresh = {"method": request.method, "path": request.path[:200], "request_hash": fingerprint}
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(customer=customer, key=key, created_at=now, **fresh)
            except IntegrityError:
                record = IdempotencyRecord.objects.select_for_update().get(customer=customer, key=key)
                if record.created_at < now - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS):
                    for field, value in {**fresh, "created_at": now, "status_code": None, "response": None}.items():
                        setattr(record, field, value)  # the key has expired: it starts over
                    record.save()
                else:
                    if record.request_hash != fingerprint:
                        raise ServiceError(
                            "idempotency_conflict",
                            _("This Idempotency-Key was used with a different request."),
                            details={HEADER: [key]},
                        ) from None
                    replay = Response(record.response, status=record.status_code)
                    replay["Idempotent-Replayed"] = "true"
                    return replay
            response = handler(view, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                record.status_code = response.status_code
                record.response = response.data
                record.save(update_fields=["status_code", "response"])
            return response

    return wrapper


def records_purge(*, older_than_hours: int | None = None) -> int:
    hours = older_than_hours or settings.IDEMPOTENCY_TTL_HOURS
    deleted, _by_model = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - timedelta(hours=hours)
    ).delete()
    return deleted
