"""The registrations' state machine (R-SID-4, style.md #4): submitted →
in_review → active | rejected; active → suspended → active. Every other
move is refused with ``invalid_transition`` and writes nothing; every move
writes one history row and emails the customer. Reactivation: Three for
Rp 300.000 once the customer asked (R-SID-6); Telkomsel never (R-SID-7)."""

from __future__ import annotations

import pytest
from django.core import mail

from billing import services as billing
from billing.models import LedgerEntry
from otpportal.errors import ServiceError
from senderids import services
from senderids.models import Registration, RegistrationStatusChange
from tests.conftest import Cast
from tests.senderids.helpers import activate, apply, registration

pytestmark = pytest.mark.django_db

ALL = ["submitted", "in_review", "active", "rejected", "suspended"]
ALLOWED = {
    ("submitted", "in_review"),
    ("in_review", "active"),
    ("in_review", "rejected"),
    ("active", "suspended"),
    ("suspended", "active"),
}


def put_in(row: Registration, status: str, staff: object) -> Registration:
    path = {
        "submitted": [],
        "in_review": ["in_review"],
        "active": ["in_review", "active"],
        "rejected": ["in_review", "rejected"],
        "suspended": ["in_review", "active", "suspended"],
    }[status]
    for step in path:
        services.registration_move(registration=row, new=step, note="step", actor=staff)
    row.refresh_from_db()
    assert row.status == status
    return row


def test_the_moves_table_is_the_one_of_the_issue_r_sid_4() -> None:
    table = {(old, new) for old, targets in Registration.MOVES.items() for new in targets}
    assert table == ALLOWED


@pytest.mark.parametrize("old", ALL)
@pytest.mark.parametrize("new", ALL)
def test_every_move_outside_the_table_is_refused_and_writes_nothing_r_sid_4(eligible: Cast, old: str, new: str) -> None:
    row = put_in(registration(apply(eligible, operators=["xl"]), "xl"), old, eligible.staff)
    history = RegistrationStatusChange.objects.count()
    if (old, new) in ALLOWED:
        moved = services.registration_move(registration=row, new=new, note="ok", actor=eligible.staff)
        assert moved.status == new
        assert RegistrationStatusChange.objects.count() == history + 1
        last = RegistrationStatusChange.objects.latest("id")
        assert (last.old, last.new, last.reason, last.actor) == (old, new, "ok", eligible.staff)
        return
    with pytest.raises(ServiceError) as caught:
        services.registration_move(registration=row, new=new, note="no", actor=eligible.staff)
    assert caught.value.code == "invalid_transition" and caught.value.status == 409
    assert caught.value.details == {"from": old, "to": new}
    row.refresh_from_db()
    assert row.status == old and RegistrationStatusChange.objects.count() == history


def test_an_unknown_status_is_refused(eligible: Cast) -> None:
    row = registration(apply(eligible), "xl")
    with pytest.raises(ServiceError) as caught:
        services.registration_move(registration=row, new="approved", actor=eligible.staff)
    assert caught.value.code == "invalid_transition"


@pytest.mark.parametrize("target", ["rejected", "suspended"])
def test_staff_must_say_why_they_reject_or_suspend(eligible: Cast, target: str) -> None:
    row = put_in(registration(apply(eligible), "xl"), "in_review" if target == "rejected" else "active", eligible.staff)
    with pytest.raises(ServiceError) as caught:
        services.registration_move(registration=row, new=target, note="   ", actor=eligible.staff)
    assert caught.value.code == "invalid_request" and "note" in caught.value.details


def test_history_is_append_only(eligible: Cast) -> None:
    change = registration(apply(eligible), "xl").history.get()
    change.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        change.save()
    with pytest.raises(ValueError, match="append-only"):
        change.delete()


def test_activation_records_the_first_time_only(eligible: Cast) -> None:
    row = put_in(registration(apply(eligible), "xl"), "active", eligible.staff)
    first = row.activated_at
    services.registration_move(registration=row, new="suspended", note="operator", actor=eligible.staff)
    services.registration_move(registration=row, new="active", actor=eligible.staff)  # XL reactivates free
    row.refresh_from_db()
    assert row.status == "active" and row.activated_at == first


def test_each_change_emails_the_customer_with_the_note(  # type: ignore[no-untyped-def]
    eligible: Cast, eager: None, django_capture_on_commit_callbacks
) -> None:
    row = registration(apply(eligible), "xl")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.registration_move(registration=row, new="in_review", actor=eligible.staff)
        services.registration_move(
            registration=row, new="rejected", note="Nama merek tidak cocok.", actor=eligible.staff
        )
    assert len(mail.outbox) == 2
    assert all(m.to == ["billing@acme.test", "owner@acme.test"] for m in mail.outbox)
    assert "Nama merek tidak cocok." in mail.outbox[1].body
    assert all("R-SID" not in m.body for m in mail.outbox)


def test_a_name_active_for_another_customer_cannot_be_activated(eligible: Cast) -> None:
    """Two customers may apply for one name; staff can activate it for one only (any operator)."""
    billing.lot_create(customer=eligible.globex, amount=2_000_000, reference="GLOBEX-SID")
    ours = registration(apply(eligible, operators=["xl"]), "xl")
    theirs = registration(apply(eligible, customer=eligible.globex, operators=["indosat"]), "indosat")
    activate(theirs, eligible.staff)
    services.registration_move(registration=ours, new="in_review", actor=eligible.staff)
    with pytest.raises(ServiceError) as caught:
        services.registration_move(registration=ours, new="active", actor=eligible.staff)
    assert caught.value.code == "sender_id_taken"
    ours.refresh_from_db()
    assert ours.status == "in_review"


# --- Reactivation (R-SID-6, R-SID-7) ---------------------------------------------------


def test_a_suspended_telkomsel_route_is_never_reactivated_r_sid_7(eligible: Cast) -> None:
    row = put_in(registration(apply(eligible), "telkomsel"), "suspended", eligible.staff)
    with pytest.raises(ServiceError) as caught:
        services.registration_move(registration=row, new="active", actor=eligible.staff)
    assert caught.value.code == "invalid_transition" and "new registration" in caught.value.message
    with pytest.raises(ServiceError) as asked:
        services.registration_reactivation_request(
            customer=eligible.acme, registration_id=row.pk, accept_fees=True, requested_by=eligible.owner
        )
    assert asked.value.code == "invalid_transition"
    # ... but the name may be applied for again on Telkomsel: a new registration.
    again = apply(eligible, operators=["telkomsel"])
    assert registration(again, "telkomsel").status == "submitted"


def test_three_is_reactivated_only_after_the_customer_asked_and_accepted_the_fee_r_sid_6(eligible: Cast) -> None:
    row = put_in(registration(apply(eligible, operators=["three"]), "three"), "suspended", eligible.staff)
    with pytest.raises(ServiceError) as not_asked:
        services.registration_move(registration=row, new="active", actor=eligible.staff)
    assert not_asked.value.code == "fees_not_accepted"
    with pytest.raises(ServiceError) as not_accepted:
        services.registration_reactivation_request(
            customer=eligible.acme, registration_id=row.pk, accept_fees=False, requested_by=eligible.owner
        )
    assert not_accepted.value.code == "fees_not_accepted"
    assert not_accepted.value.details["fees"] == [{"operator": "three", "kind": "reactivation", "amount": 300_000}]
    services.registration_reactivation_request(
        customer=eligible.acme, registration_id=row.pk, accept_fees=True, requested_by=eligible.owner
    )
    assert not LedgerEntry.objects.filter(kind="fee").exists()  # billed when staff reactivate, not before
    services.registration_move(registration=row, new="active", note="Three confirmed.", actor=eligible.staff)
    [fee] = LedgerEntry.objects.filter(kind="fee")
    assert fee.amount == -300_000 and fee.reference.startswith(f"sid:{row.pk}:reactivation:")
    row.refresh_from_db()
    assert row.status == "active" and row.reactivation_requested_at is None


def test_each_suspension_of_three_is_its_own_reactivation_fee_r_sid_6(eligible: Cast) -> None:
    row = put_in(registration(apply(eligible, operators=["three"]), "three"), "active", eligible.staff)
    for _ in range(2):
        services.registration_move(registration=row, new="suspended", note="quarter", actor=eligible.staff)
        services.registration_reactivation_request(
            customer=eligible.acme, registration_id=row.pk, accept_fees=True, requested_by=eligible.owner
        )
        services.registration_move(registration=row, new="active", actor=eligible.staff)
    assert LedgerEntry.objects.filter(kind="fee").count() == 2


def test_a_reactivation_fee_the_balance_cannot_pay_is_refused_with_nothing_written_r_sid_6(eligible: Cast) -> None:
    row = put_in(registration(apply(eligible, operators=["three"]), "three"), "suspended", eligible.staff)
    services.registration_reactivation_request(
        customer=eligible.acme, registration_id=row.pk, accept_fees=True, requested_by=eligible.owner
    )
    billing.fee_charge(customer=eligible.acme, amount=2_300_000, reference="spent", description="spent it")
    history = row.history.count()
    with pytest.raises(ServiceError) as caught:
        services.registration_move(registration=row, new="active", actor=eligible.staff)
    assert caught.value.code == "insufficient_balance"
    row.refresh_from_db()
    assert row.status == "suspended" and row.history.count() == history
    assert not LedgerEntry.objects.filter(kind="fee", reference__startswith=f"sid:{row.pk}:").exists()
    # The customer is told before asking, too:
    with pytest.raises(ServiceError) as asked:
        services.registration_reactivation_request(
            customer=eligible.acme, registration_id=row.pk, accept_fees=True, requested_by=eligible.owner
        )
    assert asked.value.code == "insufficient_balance"


def test_other_operators_reactivate_free(eligible: Cast) -> None:
    row = put_in(registration(apply(eligible, operators=["indosat"]), "indosat"), "suspended", eligible.staff)
    services.registration_move(registration=row, new="active", actor=eligible.staff)
    assert not LedgerEntry.objects.filter(kind="fee").exists()


def test_another_customers_registration_cannot_be_asked_for(eligible: Cast) -> None:
    row = put_in(registration(apply(eligible, operators=["three"]), "three"), "suspended", eligible.staff)
    with pytest.raises(ServiceError) as caught:
        services.registration_reactivation_request(
            customer=eligible.globex, registration_id=row.pk, accept_fees=True, requested_by=eligible.stranger
        )
    assert caught.value.code == "not_found"
