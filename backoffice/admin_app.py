"""``django.contrib.admin`` with the back office's site as the default
(``admin.site``), so every app's ``@admin.register`` lands on it.

Kept apart from ``backoffice.apps``: an apps module with two configs would
make Django guess which one ``"backoffice"`` means.
"""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    default_site = "backoffice.site.BackOfficeSite"
