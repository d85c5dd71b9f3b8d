"""Message texts: per-locale verification templates and the OTP-only guard
(R-CH-3, R-CH-5)."""

from __future__ import annotations

import re
import string

from django.conf import settings
from django.utils.translation import gettext as _

from messaging.encoding import measure
from otpportal.errors import ServiceError

DEFAULT_TEMPLATES = {
    "id": "{brand}: Kode OTP Anda {code}. Berlaku {minutes} menit. JANGAN berikan kode ini kepada siapa pun.",
    "en": "{brand}: Your verification code is {code}. Valid for {minutes} minutes. Do NOT share it with anyone.",
}
ALLOWED_PLACEHOLDERS = {"code", "brand", "minutes"}
MASK = "••••"

_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{4,10}(?![0-9A-Za-z])")
_LINK = re.compile(
    r"(https?://|www\.|\b[a-z0-9-]+\.(?:com|id|co|net|org|ly|me|io|xyz|link|app|site|info|biz|top|shop|gg|to)\b)",
    re.IGNORECASE,
)


def render_verification_text(
    *, template: str | None, locale: str, brand: str, code: str, ttl_seconds: int, app_hash: str = "", channel: str
) -> str:
    body = template or DEFAULT_TEMPLATES.get(locale, DEFAULT_TEMPLATES["id"])
    text = body.format(code=code, brand=brand, minutes=max(1, ttl_seconds // 60))
    if app_hash and channel == "sms":
        text = f"<#> {text}\n{app_hash}"  # R-CH-5: Android SMS Retriever wants the hash last
    return text


def mask_code(text: str, code: str) -> str:
    return text.replace(code, MASK) if code else text


def mask_codes(text: str) -> str:
    """The customer's own text (POST /messages) as stored for reading: every token that
    could be its code (what ``has_code`` looks for: 4–10 characters with a digit) masked,
    since we cannot tell which one it is. Issue 14: no code in clear at rest."""
    return _TOKEN.sub(lambda m: MASK if any(ch.isdigit() for ch in m.group()) else m.group(), text)


def validate_template(body: str) -> str:
    """A customer's own template: ``{code}`` exactly once, only known
    placeholders, no links, at most OTP_GUARD_MAX_SMS SMS when rendered."""
    body = (body or "").strip()
    try:
        fields = [f for _text, f, _spec, _conversion in string.Formatter().parse(body) if f is not None]
    except ValueError:
        raise ServiceError(
            "invalid_request", _("Unbalanced braces in the template."), details={"body": [_("Bad braces.")]}
        ) from None
    if fields.count("code") != 1:
        raise ServiceError(
            "invalid_request",
            _("The template must contain {code} exactly once."),
            details={"body": [_("{code} once.")]},
        )
    unknown = sorted(set(fields) - ALLOWED_PLACEHOLDERS)
    if unknown:
        raise ServiceError(
            "invalid_request",
            _("Unknown placeholder(s): %(names)s. Use {code}, {brand}, {minutes}.") % {"names": ", ".join(unknown)},
            details={"body": [_("Unknown placeholder.")]},
        )
    if _LINK.search(body):
        raise ServiceError(
            "not_otp_content", _("Templates may not contain links (R-CH-3)."), details={"body": [_("No links.")]}
        )
    sample = body.format(code="1234567890", brand="B" * 20, minutes=60)
    if measure(sample, "sms").units > settings.OTP_GUARD_MAX_SMS:
        raise ServiceError(
            "invalid_request",
            _("The template is longer than %(max)s SMS.") % {"max": settings.OTP_GUARD_MAX_SMS},
            details={"body": [_("Too long.")]},
        )
    return body


def has_code(text: str) -> bool:
    """A 4–10 character token with at least one digit (``482913``, ``A7K2Q9``)."""
    return any(any(ch.isdigit() for ch in token) for token in _TOKEN.findall(text))


def guard_otp_content(text: str, channel: str) -> None:
    """R-CH-3: refuse text that is plainly not an OTP; explain why in details."""
    if not text or not text.strip():
        raise ServiceError("invalid_request", _("text is required."), details={"text": [_("Required.")]})
    if not has_code(text):
        raise ServiceError(
            "not_otp_content",
            _("The text carries no 4–10 character code; this service sends verification codes only (R-CH-3)."),
            details={"text": [_("No 4-10 character code found.")], "reason": "no_code"},
        )
    if settings.OTP_GUARD_BLOCK_LINKS and _LINK.search(text):
        raise ServiceError(
            "not_otp_content",
            _("Links are not allowed in OTP messages (R-CH-3)."),
            details={"text": [_("Contains a link.")], "reason": "link"},
        )
    lowered = text.lower()
    hits = [w for w in settings.OTP_GUARD_PROMO_WORDS if re.search(rf"\b{re.escape(w)}\b", lowered)]
    if hits:
        raise ServiceError(
            "not_otp_content",
            _("Promotional wording is not allowed in OTP messages (R-CH-3)."),
            details={
                "text": [_("Promotional word(s): %(words)s.") % {"words": ", ".join(hits)}],
                "reason": "promotion",
            },
        )
    units = measure(text, channel).units if channel == "sms" else measure(text, "sms").units
    if units > settings.OTP_GUARD_MAX_SMS:
        raise ServiceError(
            "not_otp_content",
            _("The text is %(units)s SMS long; OTP messages are at most %(max)s (R-CH-3).")
            % {"units": units, "max": settings.OTP_GUARD_MAX_SMS},
            details={
                "text": [_("%(units)s SMS, at most %(max)s.") % {"units": units, "max": settings.OTP_GUARD_MAX_SMS}],
                "reason": "too_long",
            },
        )
