"""Billing's staff back-office, one module per side of the offer:
``prepaid`` (price lists, deposit lots, the ledger, charges, top-up requests,
billing accounts), ``postpaid`` (guarantee deposits and caps, termination and
refunds, fees, monthly usage, statements) and ``invoices`` (invoices,
payments, paper copies). ``shared`` holds the forms that run a use case while
they validate and the plumbing of the extra pages.
"""

from billing.admin import invoices, postpaid, prepaid
from billing.admin.shared import ServiceActionForm, ServiceForm, ServiceFormAdmin

__all__ = ["ServiceActionForm", "ServiceForm", "ServiceFormAdmin", "invoices", "postpaid", "prepaid"]
