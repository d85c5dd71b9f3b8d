"""SMS over SMPP 3.4 (smpplib's PDU codec and GSM-7 table; our own connection handling).

Split by what changes together:

* ``codec``: status tables, GSM-7/UCS-2 texts in UDH parts, delivery receipts (pure);
* ``connection``: one socket and its bind, PDUs, the reader and keep-alive threads;
* ``account``: an SMSC account from ``settings.SMPP_ACCOUNTS``;
* ``provider``: ``SmppProvider`` (sessions, back-off, what a failure means) and the
  process-wide providers the registry hands out.

This package never imports ``messaging.services`` or ``messaging.tasks``: receipts go to the
``on_report`` callback that whoever builds a provider injects.
"""

from messaging.providers.smpp.account import SmppAccount, accounts_from_settings, provider_options_from_settings
from messaging.providers.smpp.codec import (
    AMBIGUOUS_ERROR_CODES,
    PERMANENT_STATUSES,
    RETRYABLE_STATUSES,
    MessageTooLong,
    encode_parts,
    gsm7_encode,
    mask_receipt,
    outcome_for_status,
    parse_receipt,
    receipt_time,
    report_from_deliver_sm,
    status_code,
)
from messaging.providers.smpp.provider import (
    SmppProvider,
    close_providers,
    get_provider,
)

__all__ = [
    "AMBIGUOUS_ERROR_CODES",
    "PERMANENT_STATUSES",
    "RETRYABLE_STATUSES",
    "MessageTooLong",
    "SmppAccount",
    "SmppProvider",
    "accounts_from_settings",
    "close_providers",
    "encode_parts",
    "get_provider",
    "gsm7_encode",
    "mask_receipt",
    "outcome_for_status",
    "parse_receipt",
    "provider_options_from_settings",
    "receipt_time",
    "report_from_deliver_sm",
    "status_code",
]
