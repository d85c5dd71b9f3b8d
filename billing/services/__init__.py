"""Billing's write use cases. Other apps call only these (architecture.md)."""

from billing.services.charging import Quote, charge, quote, reverse
from billing.services.daily import daily_run
from billing.services.deposits import (
    lot_create,
    low_balance_threshold_set,
    topup_request_approve,
    topup_request_create,
    topup_request_reject,
    validate_amount,
)
from billing.services.pricelists import price_list_delete, price_list_import
from billing.services.reconcile import Mismatch, reconcile

__all__ = [
    "Mismatch",
    "Quote",
    "charge",
    "daily_run",
    "lot_create",
    "low_balance_threshold_set",
    "price_list_delete",
    "price_list_import",
    "quote",
    "reconcile",
    "reverse",
    "topup_request_approve",
    "topup_request_create",
    "topup_request_reject",
    "validate_amount",
]
