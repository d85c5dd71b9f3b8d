"""A webhook endpoint's signing secret is kept sealed (messaging.crypto.seal_secret):
the column is renamed, widened for the token, and every existing secret sealed."""

from django.db import migrations, models


def seal_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    from messaging.crypto import seal_secret

    endpoints = apps.get_model("messaging", "WebhookEndpoint")
    for endpoint in endpoints.objects.only("pk", "secret_sealed").iterator():
        endpoint.secret_sealed = seal_secret(endpoint.secret_sealed)
        endpoint.save(update_fields=["secret_sealed"])


def open_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    from messaging.crypto import open_secret

    endpoints = apps.get_model("messaging", "WebhookEndpoint")
    for endpoint in endpoints.objects.only("pk", "secret_sealed").iterator():
        endpoint.secret_sealed = open_secret(endpoint.secret_sealed)
        endpoint.save(update_fields=["secret_sealed"])


class Migration(migrations.Migration):
    dependencies = [("messaging", "0006_smpp_bind_status_created_index_verbose_names")]

    operations = [
        migrations.RenameField("webhookendpoint", "secret", "secret_sealed"),
        migrations.AlterField(
            "webhookendpoint",
            "secret_sealed",
            models.CharField(max_length=255, verbose_name="sealed secret"),
        ),
        migrations.RunPython(seal_existing, open_existing),
    ]
