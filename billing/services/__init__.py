"""Billing's write use cases. Other apps call only these (architecture.md)."""

from billing.services.charge_in_one import Row as ChargedRow
from billing.services.charge_in_one import available as charges_in_one_statement
from billing.services.charge_in_one import charge_prepaid_with
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
from billing.services.fees import FeeCharged, fee_charge
from billing.services.invoicing import (
    invoice_issue,
    invoice_pdf_store,
    invoice_reissue,
    invoice_send,
    invoice_void,
    invoices_mark_posted,
    invoices_remind,
    invoices_settle_overdue,
    month_close,
    payment_record,
    vat_breakdown,
)
from billing.services.postpaid import cap_set, guarantee_deposit
from billing.services.pricelists import price_list_delete, price_list_import
from billing.services.reconcile import Mismatch, ledger_reconcile, reconcile
from billing.services.statements import statement_pdf_store, statement_send, statements_issue
from billing.services.termination import customer_terminate, refund_mark_transferred

__all__ = [
    "ChargedRow",
    "charge_prepaid_with",
    "charges_in_one_statement",
    "FeeCharged",
    "fee_charge",
    "Mismatch",
    "Quote",
    "cap_set",
    "charge",
    "customer_terminate",
    "daily_run",
    "guarantee_deposit",
    "invoice_issue",
    "invoice_pdf_store",
    "invoice_reissue",
    "invoice_send",
    "invoice_void",
    "invoices_mark_posted",
    "invoices_remind",
    "invoices_settle_overdue",
    "ledger_reconcile",
    "lot_create",
    "low_balance_threshold_set",
    "month_close",
    "payment_record",
    "price_list_delete",
    "price_list_import",
    "quote",
    "reconcile",
    "refund_mark_transferred",
    "reverse",
    "statement_pdf_store",
    "statement_send",
    "statements_issue",
    "topup_request_approve",
    "topup_request_create",
    "topup_request_reject",
    "validate_amount",
    "vat_breakdown",
]
