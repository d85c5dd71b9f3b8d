from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # Register billing's Celery tasks in every process (web too):
        # notifications enqueue ``billing.tasks.notify`` by name, and only a
        # registered task honours task_always_eager.
        from billing import tasks  # noqa: F401
