from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from django.core import checks

        from otpportal.checks import sandbox_in_production

        checks.register(sandbox_in_production, "providers")  # review 8.10

        from messaging.models import MessageTemplate, WebhookEndpoint
        from otpportal import hotcache

        hotcache.clear_on_change(MessageTemplate, WebhookEndpoint)
