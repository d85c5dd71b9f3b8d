"""Fees are billed exactly once under concurrency (PostgreSQL row locks):
staff approving the same Three reactivation from several browsers at once
(R-SID-6), an owner double-submitting a Smartfren application (R-SID-8),
two staff activating one registration. Real threads, real transactions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from billing import services as billing
from billing.models import LedgerEntry, PendingFee
from senderids import services
from senderids.models import Registration, RegistrationStatusChange, SenderId
from tests import helpers
from tests.billing.postpaid_builders import postpaid_customer
from tests.conftest import Cast
from tests.senderids.helpers import activate, apply, pdf_bytes, registration, stored_files, upload

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list"),
]

THREADS = 8


def race(work: Callable[[int], Any], count: int = THREADS) -> tuple[list[Any], list[str]]:
    """Run ``work(i)`` in ``count`` threads released together; the results and the refusals' codes."""
    results, raised = helpers.race(count, work)
    return results, helpers.refusals(raised)


def suspended_three(cast: Cast, customer: Any = None) -> Registration:
    row = registration(apply(cast, customer=customer or cast.acme, operators=["three"]), "three")
    activate(row, cast.staff)
    services.registration_move(registration=row, new="suspended", note="quarter", actor=cast.staff)
    services.registration_reactivation_request(
        customer=row.customer, registration_id=row.pk, accept_fees=True, requested_by=cast.owner
    )
    return row


def test_concurrent_reactivations_charge_the_three_fee_once_r_sid_6(eligible: Cast) -> None:
    row = suspended_three(eligible)
    results, codes = race(
        lambda i: services.registration_move(registration=row.pk, new="active", note=f"staff {i}", actor=eligible.staff)
    )
    assert len(results) == 1 and codes == ["invalid_transition"] * (THREADS - 1)
    [fee] = LedgerEntry.objects.filter(kind="fee")
    assert fee.amount == -300_000
    assert RegistrationStatusChange.objects.filter(registration=row, old="suspended", new="active").count() == 1
    assert billing.reconcile() == []


def test_concurrent_reactivations_of_a_postpaid_customer_put_one_fee_on_the_invoice_r_sid_6(cast: Cast) -> None:
    customer = postpaid_customer("maju-jaya")
    row = suspended_three(cast, customer)
    results, codes = race(lambda i: services.registration_move(registration=row.pk, new="active", actor=cast.staff))
    assert len(results) == 1 and set(codes) == {"invalid_transition"}
    [fee] = PendingFee.objects.filter(customer=customer)
    assert fee.amount == 300_000 and fee.reference.startswith(f"sid:{row.pk}:reactivation:")


def test_concurrent_activations_write_one_move(eligible: Cast) -> None:
    row = registration(apply(eligible, operators=["xl"]), "xl")
    services.registration_move(registration=row, new="in_review", actor=eligible.staff)
    results, codes = race(lambda i: services.registration_move(registration=row.pk, new="active", actor=eligible.staff))
    assert len(results) == 1 and set(codes) == {"invalid_transition"}
    assert RegistrationStatusChange.objects.filter(registration=row, new="active").count() == 1


def test_a_double_submitted_smartfren_application_is_billed_once_and_keeps_one_file_r_sid_8(
    eligible: Cast, media_root: Path
) -> None:
    data = pdf_bytes()

    def submit(i: int) -> SenderId:
        return services.sender_id_apply(
            customer=eligible.acme,
            name="TOKOKU",
            brand="Toko Kita",
            operators=["smartfren", "telkomsel"],
            form=upload(data),
            accept_fees=True,
            applied_by=eligible.owner,
        ).sender_id

    results, codes = race(submit)
    assert len(results) == 1 and set(codes) == {"sender_id_exists"}, codes
    assert SenderId.objects.count() == 1 and Registration.objects.count() == 2
    [fee] = LedgerEntry.objects.filter(kind="fee")
    assert fee.amount == -100_000
    assert [p.name for p in stored_files(media_root)] == [Path(results[0].form.name).name]  # the losers' files are gone


def test_two_customers_activated_at_once_for_one_name_get_it_once(eligible: Cast) -> None:
    """Regression: the registration's row lock used to follow the model ordering's join
    and lock its application too, so two activations locked the name's applications in
    opposite orders and deadlocked; now only the registration, then the name's rows in order."""
    billing.lot_create(customer=eligible.globex, amount=2_000_000, reference="GLOBEX-SID")
    rows = [
        registration(apply(eligible, operators=["xl"]), "xl"),
        registration(apply(eligible, customer=eligible.globex, operators=["indosat"]), "indosat"),
    ]
    for row in rows:
        services.registration_move(registration=row, new="in_review", actor=eligible.staff)
    results, codes = race(
        lambda i: services.registration_move(registration=rows[i % 2].pk, new="active", actor=eligible.staff), count=2
    )
    assert len(results) == 1 and codes == ["sender_id_taken"]
    assert Registration.objects.filter(status="active").count() == 1
