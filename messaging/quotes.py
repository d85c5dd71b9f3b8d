"""The price calculator's quote: a number and a text priced on every channel.

The same steps as the API's ``/api/v1/pricing/quote`` (``messaging.api.QuoteApi``):
the number gives the operator (``messaging.phones``), the text its encoding
and billed units per channel (``messaging.encoding.measure``, R-SEG), and
billing the price at the customer's current tier (``billing.services.quote``:
prepaid, the tier of the deposit drawn first; postpaid, the tier the month
reaches). Read-only: nothing is sent or charged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from accounts.models import Customer
from billing import services as billing
from billing.templatetags.money import format_rupiah
from messaging import content, display, phones
from messaging.encoding import measure
from messaging.models import Channel
from otpportal.errors import ServiceError

SAMPLE_CODE = "123456"
SAMPLE_TTL = 300


@dataclass(frozen=True)
class ChannelQuote:
    channel: str
    label: str
    encoding: str
    encoding_label: str
    length: int
    units: int
    tier: int = 0
    unit_price: int = 0
    price: int = 0
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "label": self.label,
            "encoding": self.encoding,
            "encoding_label": self.encoding_label,
            "length": self.length,
            "units": self.units,
            "tier": self.tier,
            "unit_price": self.unit_price,
            "unit_price_text": format_rupiah(self.unit_price) if not self.error else "",
            "price": self.price,
            "price_text": format_rupiah(self.price) if not self.error else "",
            "error": self.error,
        }


@dataclass(frozen=True)
class Quote:
    to: str  # masked
    operator: str
    operator_label: str
    text: str
    channels: list[ChannelQuote] = field(default_factory=list)

    @property
    def tier(self) -> int:
        return next((q.tier for q in self.channels if not q.error), 0)

    def as_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "operator": self.operator,
            "operator_label": self.operator_label,
            "characters": len(self.text),
            "tier": self.tier,
            "channels": [q.as_json() for q in self.channels],
        }


def sample_text(customer: Customer) -> str:
    """What a verification sends when the customer gives no text: the standard text with a sample code."""
    return content.render_verification_text(
        template=None,
        locale="id",
        brand=customer.display_brand,
        code=SAMPLE_CODE,
        ttl_seconds=SAMPLE_TTL,
        channel="sms",
    )


def quote(*, customer: Customer, to: str, text: str) -> Quote:
    """Price ``text`` to ``to`` on every channel. An invalid number raises
    ``ServiceError`` (``invalid_phone_number``); a number whose operator is
    unknown is priced on WhatsApp only (SMS prices depend on the operator, R-OP-1)."""
    phone = phones.parse(to, require_operator=False)
    operator = phone.operator.value if phone.operator else ""
    text = text or sample_text(customer)
    rows = []
    for channel in Channel.values:
        measured = measure(text, channel)
        base = {
            "channel": channel,
            "label": display.channel_label(channel),
            "encoding": measured.encoding,
            "encoding_label": display.encoding_label(measured.encoding),
            "length": measured.length,
            "units": max(1, measured.units),
        }
        if channel == Channel.SMS and not operator:
            rows.append(
                ChannelQuote(**base, error=_("SMS prices depend on the operator, and this number's is unknown."))
            )
            continue
        try:
            priced = billing.quote(customer=customer, channel=channel, operator=operator, units=base["units"])
        except ServiceError as error:
            rows.append(ChannelQuote(**base, error=_(error.message)))
            continue
        rows.append(ChannelQuote(**base, tier=priced.tier, unit_price=priced.unit_price, price=priced.price))
    return Quote(
        to=phones.mask(phone.e164),
        operator=operator,
        operator_label=display.operator_label(operator) if operator else "",
        text=text,
        channels=rows,
    )
