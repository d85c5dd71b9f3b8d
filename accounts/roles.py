"""Which role may open which dashboard page: one table, enforced on the server.

``accounts.views.customer_required`` (which every customer page goes
through) looks the page's URL name up here before the view runs and answers
403 to a role that is not listed. A page missing from the table is for
owners only until it is added (fail closed);
``tests/accounts/test_role_access_table.py`` resolves every URL of the
dashboard's namespaces and fails for a page without an entry.

- owner: everything;
- developer: the developer pages (API keys, webhooks, sandbox and "try it",
  verification texts, quick start) and the message and verification lists;
- billing: the money pages (balance, ledger, top-ups, statements) and invoices.

Every member sees the home page, the price calculator, the sender IDs (they
are both what the SMS shows and what they cost; applying is for owners) and
their own sign-in security.
"""

from __future__ import annotations

from functools import cache

from accounts.models import Membership

OWNER = Membership.Role.OWNER.value
DEVELOPER = Membership.Role.DEVELOPER.value
BILLING = Membership.Role.BILLING.value

EVERYONE = frozenset({OWNER, DEVELOPER, BILLING})
OWNERS = frozenset({OWNER})
BUILDERS = frozenset({OWNER, DEVELOPER})
MONEY = frozenset({OWNER, BILLING})

PAGES: dict[str, frozenset[str]] = {
    # Everyone
    "dashboard:home": EVERYONE,
    "dashboard:switch_customer": EVERYONE,
    "messaging:pricing": EVERYONE,
    "messaging:pricing_quote": EVERYONE,
    "senderids:list": EVERYONE,
    "senderids:detail": EVERYONE,
    "senderids:uploaded_form": EVERYONE,
    "account:security": EVERYONE,
    "account:password": EVERYONE,
    "account:two_factor_enrol": EVERYONE,
    "account:two_factor_disable": EVERYONE,
    "account:recovery_codes": EVERYONE,
    "account:two_factor_verify": EVERYONE,
    "account:invitation_accept": EVERYONE,
    # Owners only
    "senderids:apply": OWNERS,
    "senderids:appointment_form": OWNERS,
    "senderids:reactivate": OWNERS,
    "account:team": OWNERS,
    "account:invite": OWNERS,
    "account:invitation_cancel": OWNERS,
    "account:member_role": OWNERS,
    "account:member_remove": OWNERS,
    "account:team_two_factor": OWNERS,
    "account:activity": OWNERS,
    # Developers: messages and verifications
    "messaging:messages": BUILDERS,
    "messaging:message": BUILDERS,
    "messaging:verifications": BUILDERS,
    "messaging:verification": BUILDERS,
    "messaging:messages_csv": BUILDERS,
    "messaging:verifications_csv": BUILDERS,
    # Developers: the developer pages
    "messaging:api_keys": BUILDERS,
    "messaging:api_key_create": BUILDERS,
    "messaging:api_key_revoke": BUILDERS,
    "messaging:webhooks": BUILDERS,
    "messaging:webhook_create": BUILDERS,
    "messaging:webhook_delete": BUILDERS,
    "messaging:webhook_test": BUILDERS,
    "messaging:delivery_resend": BUILDERS,
    "messaging:sandbox": BUILDERS,
    "messaging:sandbox_send": BUILDERS,
    "messaging:sandbox_inbox": BUILDERS,
    "messaging:try_send": BUILDERS,
    "messaging:try_check": BUILDERS,
    "messaging:templates": BUILDERS,
    "messaging:template_set": BUILDERS,
    "messaging:template_delete": BUILDERS,
    "messaging:quickstart": BUILDERS,
    # Billing: money and invoices
    "billing:balance": MONEY,
    "billing:threshold": MONEY,
    "billing:ledger": MONEY,
    "billing:ledger_csv": MONEY,
    "billing:topup": MONEY,
    "billing:invoices": MONEY,
    "billing:invoice": MONEY,
    "billing:invoice_pdf": MONEY,
    "billing:invoice_csv": MONEY,
    "billing:statements": MONEY,
    "billing:statement_pdf": MONEY,
}


def allows(view_name: str | None, role: str) -> bool:
    """Whether ``role`` may open the page named ``view_name`` ("namespace:name")."""
    roles = PAGES.get(view_name or "")
    if roles is None:
        return role == OWNER
    return role in roles


@cache
def pages_for(role: str) -> frozenset[str]:
    """The URL names ``role`` may open (for the navigation)."""
    return frozenset(name for name, roles in PAGES.items() if role in roles)
