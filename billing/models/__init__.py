"""Billing's tables: price lists, prepaid lots and the ledger (``core``);
the postpaid guarantee, usage counter, invoices, refunds and statements
(``postpaid``); the daily reconciliation's results (``reconciliation``)."""

from billing.models.core import (
    TIERS,
    BillingAccount,
    Channel,
    Charge,
    DepositLot,
    LedgerEntry,
    Operator,
    Price,
    PriceList,
    PriceTier,
    TopUpRequest,
)
from billing.models.postpaid import (
    CapChange,
    Guarantee,
    GuaranteeRefund,
    Invoice,
    InvoiceLine,
    InvoiceStatusChange,
    MonthlyUsage,
    NumberSeries,
    Payment,
    PendingFee,
    Statement,
)
from billing.models.reconciliation import Reconciliation

__all__ = [
    "TIERS",
    "BillingAccount",
    "CapChange",
    "Channel",
    "Charge",
    "DepositLot",
    "Guarantee",
    "GuaranteeRefund",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatusChange",
    "LedgerEntry",
    "MonthlyUsage",
    "NumberSeries",
    "Operator",
    "Payment",
    "PendingFee",
    "Price",
    "PriceList",
    "PriceTier",
    "Reconciliation",
    "Statement",
    "TopUpRequest",
]
