"""Staff roles: three Django groups whose permissions are defined here.

* ``operations`` runs customers, sender IDs, messages and providers;
* ``finance`` runs the money: top-ups, deposits, guarantees and caps,
  invoices, payments, refunds, price lists, reconciliation (and may suspend
  or reinstate a customer, e.g. for an unpaid invoice);
* ``support`` looks at everything and changes nothing, except that it may
  send a customer's webhook again.

Every role sees every page of the business (the ``view`` permission of each
model of the apps below, the audit log included). The admin enforces the
permissions on the server: a page, an action or a button a role lacks is
refused (403 or "not allowed"), not only hidden. A superuser has every
permission.

The groups are created by the app's data migration and brought back to
exactly these permissions after every ``migrate`` (a ``post_migrate`` hook),
so a model added later gets its ``view`` permission in each role without a
new migration. Changes made by hand to these three groups are undone by the
next ``migrate``: give extra rights through another group. To refresh
without migrating: ``python manage.py migrate backoffice`` (a no-op run that
still fires the hook), or call ``sync_groups()``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS

OPERATIONS = "operations"
FINANCE = "finance"
SUPPORT = "support"

# Every role may look at every model of these apps.
VIEW_APPS = ("accounts", "billing", "senderids", "messaging", "auditlog", "django_celery_beat")

# What each role may change, as "app_label.codename".
CHANGES: dict[str, tuple[str, ...]] = {
    OPERATIONS: (
        "accounts.add_customer",
        "accounts.change_customer",  # edit details, suspend / reinstate, switch mode
        "accounts.add_membership",
        "accounts.change_membership",
        "accounts.delete_membership",
        "accounts.add_apikey",
        "accounts.change_apikey",  # rename, revoke
        "senderids.change_registration",  # move a registration (R-SID-4)
        "messaging.change_message",  # re-queue a stuck message
        "messaging.change_webhookendpoint",  # deactivate
        "messaging.add_webhookdelivery",  # send a webhook again
        "messaging.add_messagetemplate",
        "messaging.change_messagetemplate",
        "messaging.delete_messagetemplate",
    ),
    FINANCE: (
        "accounts.change_customer",  # suspend / reinstate, switch mode
        "billing.add_pricelist",  # R-PL-1: load a new list
        "billing.delete_pricelist",  # a list not yet in force
        "billing.add_depositlot",  # record a bank transfer (R-PRE-1)
        "billing.change_topuprequest",  # approve / reject
        "billing.change_billingaccount",  # low-balance threshold
        "billing.add_guarantee",  # record a guarantee deposit (R-POST-1)
        "billing.change_guarantee",  # change a cap (R-POST-2), terminate (R-POST-7)
        "billing.change_invoice",  # void, re-issue, record posting (R-POST-4)
        "billing.add_payment",  # record a payment (R-POST-5)
        "billing.change_guaranteerefund",  # record the refund's transfer (R-POST-7)
        "billing.add_reconciliation",  # run the reconciliation now
    ),
    SUPPORT: ("messaging.add_webhookdelivery",),  # send a webhook again
}

ROLES = (OPERATIONS, FINANCE, SUPPORT)


def role_permissions(role: str, *, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> list[Any]:
    """The permission rows of ``role``: every ``view`` of ``VIEW_APPS`` and its changes."""
    permission = apps.get_model("auth", "Permission")
    rows = permission.objects.using(using).select_related("content_type")
    viewing = [p for p in rows.filter(content_type__app_label__in=VIEW_APPS) if p.codename.startswith("view_")]
    wanted = {tuple(name.split(".", 1)) for name in CHANGES[role]}
    changing = [
        p
        for p in rows.filter(codename__in={codename for _app, codename in wanted})
        if (p.content_type.app_label, p.codename) in wanted
    ]
    return [*viewing, *changing]


def sync_groups(*, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """Create the three groups when missing and give each exactly its
    permissions. Safe to run any number of times."""
    group = apps.get_model("auth", "Group")
    counts = {}
    for role in ROLES:
        row, _created = group.objects.using(using).get_or_create(name=role)
        permissions = role_permissions(role, apps=apps, using=using)
        row.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts


def create_all_permissions(*, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """The permissions of every installed model, before Django's own
    ``post_migrate`` would make them (a fresh database runs the data
    migration first)."""
    from django.contrib.auth.management import create_permissions  # makes the content types too

    for app_config in apps.get_app_configs():
        had_models = getattr(app_config, "models_module", None)
        app_config.models_module = had_models or True  # a migration's app stubs have none
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            app_config.models_module = had_models


def sync_after_migrate(sender: Any, *, using: str = DEFAULT_DB_ALIAS, apps: Any = global_apps, **kwargs: Any) -> None:
    """``post_migrate`` (after every ``migrate`` and every test flush)."""
    create_all_permissions(apps=apps, using=using)
    sync_groups(apps=apps, using=using)
