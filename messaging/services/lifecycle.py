"""A message's moves and what follows them: history, the customer's event, the
charge's reversal (R-PRE-4) and the fallback to the next channel.

Shared by ``dispatch`` (sending), ``delivery`` (reports) and ``outbox`` (the
sweep), which import this module and never each other in a circle.
"""

from __future__ import annotations

import logging
from datetime import datetime

from billing import services as billing
from billing.models import Charge
from messaging.models import Message, MessageStatusChange
from messaging.services.events import message_event
from messaging.services.sending import fallback_send
from otpportal.rowsql import update_row

logger = logging.getLogger(__name__)

# Forward-only ranking (style.md #4): a late "sent" never overwrites "delivered".
RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3, "rejected": 3}


def transition(message: Message, new: str, *, reason: str, actor: str, now: datetime, **fields: object) -> bool:
    """Move a message to ``new`` if the table allows it; write history and
    the customer's event. Returns False (and changes nothing) otherwise."""
    old = message.status
    if new not in Message.MOVES[old]:
        logger.info("message %s: %s -> %s refused (%s)", message.id, old, new, reason)
        return False
    # By an UPDATE written once per set of columns (otpportal.rowsql; issue 11: receipts).
    updated = update_row(Message, message.pk, {"status": new, "updated_at": now, **fields}, where={"status": old})
    if not updated:
        return False
    message.status = new
    message.updated_at = now
    for key, value in fields.items():
        setattr(message, key, value)
    MessageStatusChange.objects.create(
        message=message, old=old, new=new, reason=reason[:300], actor=actor, created_at=now
    )
    message_event(message)
    return True


def reverse_charge(message: Message, *, reason: str, now: datetime) -> None:
    """R-PRE-4: a message the upstream never took is not charged."""
    if not message.charged:
        return
    charge = Charge.objects.filter(reference=message.id).first()
    if charge is not None:
        billing.reverse(charge=charge, reason=reason[:200], now=now)


def fall_back(message: Message, now: datetime) -> None:
    """Send a verification's code through its next fallback channel (if it asked for one and
    can still use it), then forget the sealed body: nobody needs it any more."""
    if not message.fallback or message.verification_id is None:
        return
    fallback_message = fallback_send(message=message, now=now)
    if fallback_message is not None:
        logger.info("message %s fell back to %s as %s", message.id, fallback_message.channel, fallback_message.id)
    Message.objects.filter(pk=message.pk).update(sealed="")
