"""A webhook endpoint's signing secret is kept sealed in the database (it signs every
delivery, so unlike an API key it must be recoverable): ``WebhookEndpoint.secret`` reads and
sets it in clear, the column holds ``messaging.crypto.seal_secret``'s token, and the
migration seals the secrets stored before it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from messaging import services
from messaging.crypto import open_secret, seal_secret
from messaging.models import WebhookEndpoint
from tests.conftest import Cast

BEFORE = [("messaging", "0006_smpp_bind_status_created_index_verbose_names")]
AFTER = [("messaging", "0007_webhook_secret_sealed")]


def test_a_sealed_secret_opens_only_with_our_key(settings) -> None:  # type: ignore[no-untyped-def]
    sealed = seal_secret("whsec_abc")
    assert "whsec_abc" not in sealed and open_secret(sealed) == "whsec_abc"
    assert seal_secret("whsec_abc") != sealed  # a fresh token each time
    with pytest.raises(ValueError):
        open_secret("whsec_abc")  # a value that was never sealed
    settings.OTP_HMAC_KEY = "another key"
    with pytest.raises(ValueError):
        open_secret(sealed)


@pytest.mark.django_db
def test_the_column_holds_the_sealed_secret_and_the_model_the_clear_one(cast: Cast) -> None:
    endpoint = services.endpoint_create(customer=cast.acme, url="https://hooks.example.com/otp")
    assert endpoint.secret.startswith("whsec_")
    stored = WebhookEndpoint.objects.filter(pk=endpoint.pk).values_list("secret_sealed", flat=True).get()
    assert endpoint.secret not in stored and open_secret(stored) == endpoint.secret
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_the_secrets_stored_before_it(cast: Cast) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("messaging", "WebhookEndpoint")
    old.objects.create(id="whk_before", customer_id=cast.acme.pk, url="https://hooks.example.com/a", secret="whsec_old")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        stored = WebhookEndpoint.objects.filter(pk="whk_before").values_list("secret_sealed", flat=True).get()
        assert stored != "whsec_old" and open_secret(stored) == "whsec_old"
        assert WebhookEndpoint.objects.get(pk="whk_before").secret == "whsec_old"
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)  # and back: the secret in clear again
        old = executor.loader.project_state(BEFORE).apps.get_model("messaging", "WebhookEndpoint")
        assert old.objects.get(pk="whk_before").secret == "whsec_old"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
