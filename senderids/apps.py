from django.apps import AppConfig


class SenderidsConfig(AppConfig):
    name = "senderids"
    verbose_name = "Sender IDs"

    def ready(self) -> None:
        # Register the Celery tasks in every process (notifications enqueue
        # ``senderids.tasks.notify`` by name; only a registered task honours
        # task_always_eager), and the monthly minimum (R-SID-5) as a step of
        # billing's month-end run, before its invoices are built.
        from billing.monthend import register_step
        from senderids import services, tasks  # noqa: F401

        register_step("senderids-shortfall", services.shortfalls_charge)

        from otpportal import hotcache
        from senderids.models import Registration

        hotcache.clear_on_change(Registration)
