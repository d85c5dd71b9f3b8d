from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401 - sign-ins in the activity log
        from accounts.models import ApiKey, Customer
        from otpportal import hotcache

        hotcache.clear_on_change(ApiKey, Customer)
