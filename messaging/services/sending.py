"""Starting verifications and sending messages (architecture flow 1).

Everything that can refuse a request is checked before anything is charged;
the charge and the message row are written in one transaction; the dispatch
task is enqueued after commit (style.md #6).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ApiKey, Customer
from billing import services as billing
from messaging import content, guards, phones
from messaging.crypto import code_hmac, make_code, seal
from messaging.encoding import measure
from messaging.models import Channel, Message, MessageStatusChange, MessageTemplate, Verification
from messaging.queueing import enqueue_dispatch
from messaging.services.events import verification_event
from otpportal.errors import ServiceError
from otpportal.hotcache import TtlCache
from otpportal.rowsql import Scalar
from senderids import selectors as senderid_selectors

CHANNELS = tuple(Channel.values)
LOCALES = ("id", "en")
_APP_HASH = re.compile(r"^[A-Za-z0-9+/]{11}$")


def _bad(field: str, message: str, code: str = "invalid_request") -> ServiceError:
    """A refusal naming one field; ``message`` is already translated (Review 8.19)."""
    return ServiceError(code, message, details={field: [message]})


def ensure_can_send(customer: Customer) -> None:
    if customer.status != Customer.Status.ACTIVE:
        if customer.status == Customer.Status.TERMINATED:
            message = _("The account is terminated; sending is stopped until it is settled.")
        else:
            message = _("The account is suspended; sending is stopped until it is settled.")
        raise ServiceError("account_suspended", message, details={"status": customer.status})


def validate_channel(channel: object, field: str = "channel") -> str:
    if channel not in CHANNELS:
        raise _bad(
            field,
            _("Unknown channel '%(channel)s'; use one of %(channels)s.")
            % {"channel": channel, "channels": ", ".join(CHANNELS)},
        )
    return str(channel)


def validate_fallback(fallback: object, primary: str) -> list[str]:
    if fallback in (None, ""):
        return []
    if not isinstance(fallback, list | tuple):
        raise _bad("fallback", _("fallback must be a list of channels."))
    result: list[str] = []
    for item in fallback:
        channel = validate_channel(item, "fallback")
        if channel == primary:
            raise _bad("fallback", _("fallback may not name the primary channel '%(channel)s'.") % {"channel": primary})
        if channel in result:
            raise _bad("fallback", _("fallback names '%(channel)s' twice.") % {"channel": channel})
        result.append(channel)
    return result


def _int_in(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(
            field,
            _("%(field)s must be a whole number from %(low)s to %(high)s.")
            % {"field": field, "low": low, "high": high},
        )
    return value


def _text_field(value: object, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise _bad(
            field, _("%(field)s must be a string of at most %(max)s characters.") % {"field": field, "max": max_length}
        )
    return value


@dataclass(frozen=True)
class Outgoing:
    """What one send needs, parsed and validated."""

    to: str
    operator: str
    channel: str
    text: str
    code: str
    body: str  # the stored, masked text
    sender_id: str


def _sender_for(customer: Customer, operator: str, channel: str, requested: str) -> str:
    """R-CH-4: the customer's active sender ID for this operator, else the
    platform default. Asking for one that is not active is refused."""
    if channel != Channel.SMS:
        return ""
    if requested:
        if requested == settings.PLATFORM_SENDER_ID:
            return requested
        active = senderid_selectors.active_sender_id(customer=customer, operator=operator, requested=requested)
        if active is None:
            if operator:
                message = _("Sender ID '%(sender_id)s' is not active for %(operator)s.")
                detail = _("Not active for %(operator)s.") % {"operator": operator}
            else:
                message = _("Sender ID '%(sender_id)s' is not active for this operator.")
                detail = _("Not active for this operator.")
            raise ServiceError(
                "sender_id_not_active",
                message % {"sender_id": requested, "operator": operator},
                details={"sender_id": [detail]},
            )
        return active
    active = _senders.get(
        (customer.pk, operator), lambda: senderid_selectors.active_sender_id(customer=customer, operator=operator)
    )
    return active or settings.PLATFORM_SENDER_ID


def _in_one_statement(customer: Customer, api_key: ApiKey) -> bool:
    """Issue 11: a live prepaid send on PostgreSQL is charged and written by one statement
    (``billing.charge_prepaid_with``): it needs no transaction of its own."""
    return not api_key.is_test and customer.mode == Customer.Mode.PREPAID and billing.charges_in_one_statement()


def _send_transaction(customer: Customer, api_key: ApiKey) -> AbstractContextManager[object]:
    return nullcontext() if _in_one_statement(customer, api_key) else transaction.atomic()


def _insert_message(
    *,
    customer: Customer,
    api_key: ApiKey,
    out: Outgoing,
    verification: Verification | None,
    fallback: list[str],
    reference: str,
    now: datetime,
    fallback_of: Message | None = None,
    insert_verification: bool = False,
) -> Message:
    """Charge and write one message, and ``verification`` too when ``insert_verification``
    (a new one). Inside the transaction of ``_send_transaction``: none is needed when the
    charge, the message, its first status and the verification are one statement."""
    measured = measure(out.text, out.channel)
    message = Message(
        customer=customer,
        verification=verification,
        fallback_of=fallback_of,
        is_test=api_key.is_test,
        to=out.to,
        operator=out.operator,
        channel=out.channel,
        sender_id=out.sender_id,
        encoding=measured.encoding,
        units=measured.units,
        body=out.body,
        sealed=seal(out.text, out.code),
        fallback=fallback,
        reference=reference,
        created_at=now,
        updated_at=now,
    )
    history = MessageStatusChange(
        message=message, old="", new=Message.Status.QUEUED, reason="accepted", actor="api", created_at=now
    )
    if _in_one_statement(customer, api_key):
        message.charged = True
        written = [billing.ChargedRow(message, {"price": "amount"}), billing.ChargedRow(history, {})]
        if insert_verification:
            written.insert(0, billing.ChargedRow(verification, {}))
        billing.charge_prepaid_with(
            customer=customer,
            channel=out.channel,
            operator=out.operator,
            units=measured.units,
            reference=message.id,  # a message id made just now: no earlier charge can hold it
            phone=out.to,
            now=now,
            rows=written,
        )
    else:
        if insert_verification and verification is not None:
            verification.save(force_insert=True)
        if api_key.is_test:
            # Test keys are never charged; the price says what it would cost.
            message.price = billing.quote(
                customer=customer, channel=out.channel, operator=out.operator, units=measured.units, now=now
            ).price
        else:
            charge = billing.charge(
                customer=customer,
                channel=out.channel,
                operator=out.operator,
                units=measured.units,
                reference=message.id,
                new_reference=True,  # a message id made just now: no earlier charge can hold it
                phone=out.to,
                now=now,
            )
            message.price = charge.amount
            message.charged = True
        message.save(force_insert=True)
        history.save(force_insert=True)
    batchable = message.channel == "sms" and not message.is_test
    transaction.on_commit(lambda: enqueue_dispatch(message.id, first=True, batchable=batchable))
    return message


# Issue 11: read once per HOT_CACHE_SECONDS per process, not on every send.
_templates: TtlCache[str | None] = TtlCache("message templates")
_senders: TtlCache[str | None] = TtlCache("active sender IDs")


# The customer's template body for a locale, by SQL compiled once (otpportal.rowsql: on a
# hot-cache miss the ORM's compiling cost more than the query).
_template_body = Scalar(
    lambda customer_id, locale: (
        MessageTemplate.objects.filter(customer_id=customer_id, locale=locale)
        .order_by("pk")
        .values_list("body", flat=True)
    ),
    customer_id=-7_310_000_000_000_002,
    locale="~locale~",
)


def _template_for(customer: Customer, locale: str) -> str | None:
    return _templates.get((customer.pk, locale), lambda: _template_body.get(customer_id=customer.pk, locale=locale))


def _verification_outgoing(
    verification: Verification, customer: Customer, channel: str, code: str, phone_operator: str
) -> Outgoing:
    text = content.render_verification_text(
        template=_template_for(customer, verification.locale),
        locale=verification.locale,
        brand=customer.display_brand,
        code=code,
        ttl_seconds=verification.ttl,
        app_hash=verification.app_hash,
        channel=channel,
    )
    return Outgoing(
        to=verification.to,
        operator=phone_operator,
        channel=channel,
        text=text,
        code=code,
        body=content.mask_code(text, code),
        sender_id=_sender_for(customer, phone_operator, channel, ""),
    )


def verification_start(
    *,
    api_key: ApiKey,
    to: object,
    channel: object = "sms",
    fallback: object = None,
    code_length: object = 6,
    ttl: object = 300,
    locale: object = "id",
    reference: object = "",
    app_hash: object = "",
    now: datetime | None = None,
) -> tuple[Verification, Message]:
    """POST /api/v1/verifications."""
    customer = api_key.customer
    now = now or timezone.now()
    channel = validate_channel(channel or "sms")
    fallback_channels = validate_fallback(fallback, channel)
    code_length = _int_in(code_length, "code_length", 4, 10)
    ttl = _int_in(ttl, "ttl", 60, 3600)
    if locale not in LOCALES:
        raise _bad("locale", _("locale must be 'id' or 'en'."))
    reference = _text_field(reference, "reference", 100)
    app_hash = _text_field(app_hash, "app_hash", 11)
    if app_hash and not _APP_HASH.match(app_hash):
        raise _bad("app_hash", _("app_hash must be the 11-character SMS Retriever hash."))
    if not isinstance(to, str):
        raise ServiceError("invalid_phone_number", _("to must be a phone number."), details={"to": [_("Required.")]})
    needs_operator = Channel.SMS in (channel, *fallback_channels)
    phone = phones.parse(to, require_operator=needs_operator)
    ensure_can_send(customer)
    operator = phone.operator.value if phone.operator else ""

    verification = Verification(
        customer=customer,
        api_key=api_key,
        is_test=api_key.is_test,
        to=phone.e164,
        operator=operator,
        channel=channel,
        fallback=fallback_channels,
        locale=locale,
        code_length=code_length,
        ttl=ttl,
        app_hash=app_hash,
        reference=reference,
        sends=1,
        last_sent_at=now,
        expires_at=now + timedelta(seconds=ttl),
        created_at=now,
        updated_at=now,
    )
    if not api_key.is_test:
        guards.pumping_check(
            customer=customer,
            e164=phone.e164,
            now=now,
            verification_id=verification.id,
            enforce=channel == Channel.SMS,
        )
    guards.number_limit(customer=customer, e164=phone.e164)
    code = make_code(code_length)
    verification.code_hmacs = [code_hmac(verification.id, code)]
    out = _verification_outgoing(verification, customer, channel, code, operator)
    with _send_transaction(customer, api_key):
        message = _insert_message(
            customer=customer,
            api_key=api_key,
            out=out,
            verification=verification,
            fallback=fallback_channels,
            reference=reference,
            now=now,
            insert_verification=True,
        )
    return verification, message


def verification_resend(
    *, api_key: ApiKey, verification_id: str, channel: object = None, now: datetime | None = None
) -> tuple[Verification, Message]:
    """POST /api/v1/verifications/{id}/resend: a new code (the earlier ones
    stay valid until expiry), charged like a send, 30 s cool-down, 5 sends."""
    customer = api_key.customer
    now = now or timezone.now()
    with transaction.atomic():
        verification = Verification.objects.select_for_update().filter(customer=customer, pk=verification_id).first()
        if verification is None:
            raise ServiceError("not_found", _("No such verification."))
        new_channel = validate_channel(channel) if channel not in (None, "") else verification.channel
        if verification.status == Verification.Status.PENDING and verification.expires_at <= now:
            _set_verification_status(verification, Verification.Status.EXPIRED, now)
            verification.save()
        if verification.status != Verification.Status.PENDING:
            raise ServiceError(
                "invalid_request",
                _("The verification is %(status)s; start a new one.") % {"status": verification.status},
                details={"status": verification.status},
            )
        if verification.sends >= Verification.MAX_SENDS:
            raise ServiceError(
                "max_sends_reached",
                _("At most %(max)s sends per verification.") % {"max": Verification.MAX_SENDS},
                details={"sends": verification.sends},
            )
        cooldown = settings.VERIFICATION_RESEND_COOLDOWN
        if verification.last_sent_at and (now - verification.last_sent_at).total_seconds() < cooldown:
            wait = cooldown - int((now - verification.last_sent_at).total_seconds())
            raise ServiceError(
                "resend_too_soon",
                _("Wait %(seconds)s s before sending again.") % {"seconds": wait},
                details={"retry_after": wait},
                retry_after=wait,
            )
        phone = phones.parse(verification.to, require_operator=new_channel == Channel.SMS)
        operator = phone.operator.value if phone.operator else ""
        ensure_can_send(customer)
        code = make_code(verification.code_length)
        verification.code_hmacs = [*verification.code_hmacs, code_hmac(verification.id, code)]
        verification.channel = new_channel
        verification.operator = operator or verification.operator
        verification.sends += 1
        verification.last_sent_at = now
        verification.expires_at = now + timedelta(seconds=verification.ttl)
        verification.updated_at = now
        verification.save()
        out = _verification_outgoing(verification, customer, new_channel, code, operator)
        message = _insert_message(
            customer=customer,
            api_key=api_key,
            out=out,
            verification=verification,
            fallback=[c for c in verification.fallback if c != new_channel],
            reference=verification.reference,
            now=now,
        )
    return verification, message


def message_send(
    *,
    api_key: ApiKey,
    to: object,
    text: object,
    channel: object = "sms",
    sender_id: object = "",
    reference: object = "",
    now: datetime | None = None,
) -> Message:
    """POST /api/v1/messages: the customer brings its own code (R-CH-3 guard)."""
    customer = api_key.customer
    now = now or timezone.now()
    channel = validate_channel(channel or "sms")
    if not isinstance(text, str):
        raise _bad("text", _("text is required."))
    sender_id = _text_field(sender_id, "sender_id", 11)
    reference = _text_field(reference, "reference", 100)
    if not isinstance(to, str):
        raise ServiceError("invalid_phone_number", _("to must be a phone number."), details={"to": [_("Required.")]})
    phone = phones.parse(to, require_operator=channel == Channel.SMS)
    content.guard_otp_content(text, channel)
    ensure_can_send(customer)
    if channel == Channel.SMS and not api_key.is_test:
        guards.pumping_check(customer=customer, e164=phone.e164, now=now)
    operator = phone.operator.value if phone.operator else ""
    out = Outgoing(
        to=phone.e164,
        operator=operator,
        channel=channel,
        text=text,
        code="",
        body=content.mask_codes(text),  # the clear text travels sealed only (issue 14)
        sender_id=_sender_for(customer, operator, channel, sender_id),
    )
    with _send_transaction(customer, api_key):
        return _insert_message(
            customer=customer, api_key=api_key, out=out, verification=None, fallback=[], reference=reference, now=now
        )


def fallback_send(*, message: Message, now: datetime | None = None) -> Message | None:
    """Send a verification's code again through the next fallback channel,
    charged at that channel's price. Called by the dispatcher (worker)."""
    now = now or timezone.now()
    if not message.fallback or message.verification_id is None:
        return None
    with transaction.atomic():
        verification = Verification.objects.select_for_update().get(pk=message.verification_id)
        if verification.status != Verification.Status.PENDING or verification.expires_at <= now:
            return None
        if Message.objects.filter(fallback_of=message).exists():
            return None  # already fallen back (idempotent)
        from messaging.crypto import unseal

        if not message.sealed:
            return None
        _text, code = unseal(message.sealed)
        next_channel, *rest = message.fallback
        customer = verification.customer
        try:
            phone = phones.parse(verification.to, require_operator=next_channel == Channel.SMS)
        except ServiceError:
            return None
        operator = phone.operator.value if phone.operator else ""
        out = _verification_outgoing(verification, customer, next_channel, code, operator)
        api_key = verification.api_key or ApiKey(
            customer=customer, mode=ApiKey.Mode.TEST if message.is_test else "live"
        )
        try:
            fallback_message = _insert_message(
                customer=customer,
                api_key=api_key,
                out=out,
                verification=verification,
                fallback=rest,
                reference=verification.reference,
                now=now,
                fallback_of=message,
            )
        except ServiceError:
            return None  # e.g. the balance cannot pay for the fallback channel
        verification.channel = next_channel
        verification.sends += 1
        verification.updated_at = now
        verification.save(update_fields=["channel", "sends", "updated_at"])
    return fallback_message


def _set_verification_status(verification: Verification, status: str, now: datetime) -> None:
    if verification.status == status:
        return
    verification.status = status
    verification.updated_at = now
    if status == Verification.Status.APPROVED:
        verification.approved_at = now
    verification_event(verification)
