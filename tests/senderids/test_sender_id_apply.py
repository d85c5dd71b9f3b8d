"""Applying for a sender ID (R-SID-1 … R-SID-4, R-SID-8): the name, the
deposit, the operators, one registration per operator with its expected
dates, and every refusal with its stable code and nothing written."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import time_machine
from django.core import mail

from billing import services as billing
from billing.models import LedgerEntry, PendingFee
from otpportal.errors import ServiceError
from senderids import services
from senderids.models import Registration, RegistrationStatusChange, SenderId
from tests.billing.postpaid_builders import postpaid_customer
from tests.conftest import Cast
from tests.factories import CustomerFactory
from tests.senderids.helpers import WIB, activate, apply, registration, stored_files

pytestmark = pytest.mark.django_db


def refused(code: str, cast: Cast, **overrides: object) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        apply(cast, **overrides)
    assert caught.value.code == code, caught.value.as_dict()
    return caught.value


def assert_nothing_written(media_root: Path) -> None:
    assert not SenderId.objects.exists()
    assert not Registration.objects.exists()
    assert not RegistrationStatusChange.objects.exists()
    assert stored_files(media_root) == []


def test_an_application_registers_each_operator_once_with_its_history_r_sid_4(eligible: Cast) -> None:
    result = apply(eligible, operators=["xl", "telkomsel", "indosat"])
    rows = {r.operator: r for r in result.registrations}
    assert sorted(rows) == ["indosat", "telkomsel", "xl"]
    assert rows["telkomsel"].route == "premium"  # an OTP-only platform registers Telkomsel's premium route (R-SID-7)
    assert rows["xl"].route == "" and rows["indosat"].route == ""
    for row in rows.values():
        assert row.status == "submitted" and row.name == "TOKOKU" and row.customer_id == eligible.acme.pk
        [first] = row.history.all()
        assert (first.old, first.new, first.actor) == ("", "submitted", eligible.owner)
    assert result.sender_id.brand == "Toko Kita" and result.fees == []


@pytest.mark.parametrize(
    ("submitted", "expected_from", "expected_by"),
    [
        # Weekends skipped; by 30 days Chinese New Year (16–17 Feb) and Nyepi with its leave (18–24 Mar) too.
        (datetime(2026, 2, 2, 10, 0, tzinfo=WIB), date(2026, 2, 11), date(2026, 3, 25)),
        # Lebaran 2025: 27 Mar is day 1; the collective leave (28 Mar, 2–7 Apr) and Idul Fitri
        # (31 Mar–1 Apr) are skipped, so day 7 is 15 Apr.
        (datetime(2025, 3, 26, 10, 0, tzinfo=WIB), date(2025, 4, 15), date(2025, 5, 22)),
        # 23:30 WIB is still that day in Jakarta (16:30 UTC).
        (datetime(2026, 2, 2, 23, 30, tzinfo=WIB), date(2026, 2, 11), date(2026, 3, 25)),
    ],
)
def test_the_expected_window_is_7_to_30_working_days_skipping_holidays_r_sid_4(
    eligible: Cast, submitted: datetime, expected_from: date, expected_by: date
) -> None:
    result = apply(eligible, now=submitted)
    assert {(r.expected_from, r.expected_by) for r in result.registrations} == {(expected_from, expected_by)}


@pytest.mark.parametrize(
    "name",
    ["AB", "TOKOKUJAYA12", "TOKO_KU", "TOKO-KU", "tōko", "12345", "123 456", "TOKO  KU", "", "   ", "<script>"],
)
def test_a_bad_name_is_refused_with_nothing_written_r_sid_2(eligible: Cast, media_root: Path, name: str) -> None:
    error = refused("invalid_request", eligible, name=name)
    assert "name" in error.details
    assert_nothing_written(media_root)


@pytest.mark.parametrize("name", ["ABC", "TOKO KU", "Toko 24", "A1B2C3D4E5F", "  TOKOKU  "])
def test_good_names_are_accepted_trimmed_r_sid_2(eligible: Cast, name: str) -> None:
    assert apply(eligible, name=name).sender_id.name == name.strip()


def test_the_platforms_own_sender_is_refused_whatever_its_case(eligible: Cast, settings, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    settings.PLATFORM_SENDER_ID = "OTPPORTAL"
    refused("sender_id_taken", eligible, name="OtpPortal")
    assert_nothing_written(media_root)


def test_another_customers_active_name_is_refused_on_any_operator(eligible: Cast, media_root: Path) -> None:
    billing.lot_create(customer=eligible.globex, amount=2_000_000, reference="GLOBEX-SID")
    theirs = apply(eligible, customer=eligible.globex, name="TOKOKU", operators=["xl"])
    activate(registration(theirs, "xl"))
    error = refused("sender_id_taken", eligible, name="tokoku", operators=["smartfren"], accept_fees=True)
    assert error.details == {"name": [error.message]}
    assert SenderId.objects.filter(customer=eligible.acme).count() == 0
    assert len(stored_files(media_root)) == 1  # globex's form only


def test_another_customers_pending_application_does_not_block_the_name(eligible: Cast) -> None:
    """Staff decide who owns a name; only an active one is taken."""
    billing.lot_create(customer=eligible.globex, amount=2_000_000, reference="GLOBEX-SID")
    apply(eligible, customer=eligible.globex, name="TOKOKU", operators=["xl"])
    assert apply(eligible, name="TOKOKU", operators=["xl"]).registrations


def test_a_second_application_for_the_same_name_and_operator_is_refused(eligible: Cast, media_root: Path) -> None:
    apply(eligible)
    error = refused("sender_id_exists", eligible, name="tokoku", operators=["xl", "three"])
    assert error.details["operators"] == ["xl"]
    assert SenderId.objects.count() == 1 and Registration.objects.count() == 2
    assert len(stored_files(media_root)) == 1


def test_the_same_name_may_be_applied_for_with_other_operators(eligible: Cast) -> None:
    apply(eligible, operators=["telkomsel"])
    assert [r.operator for r in apply(eligible, operators=["xl"]).registrations] == ["xl"]


def test_a_rejected_registration_frees_the_name_for_a_new_application(eligible: Cast, cast: Cast) -> None:
    first = apply(eligible, operators=["xl"])
    services.registration_move(registration=registration(first, "xl"), new="in_review", actor=cast.staff)
    services.registration_move(registration=registration(first, "xl"), new="rejected", note="Brand?", actor=cast.staff)
    assert apply(eligible, operators=["xl"]).registrations[0].status == "submitted"


@pytest.mark.parametrize("operators", [[], ["axis"], ["telkomsel", "indosat3"], "", None])
def test_operators_must_be_some_of_the_five_r_sid_1(eligible: Cast, media_root: Path, operators: object) -> None:
    error = refused("invalid_request", eligible, operators=operators)
    assert "operators" in error.details
    assert_nothing_written(media_root)


def test_a_brand_is_required(eligible: Cast, media_root: Path) -> None:
    refused("invalid_request", eligible, brand="  ")
    assert_nothing_written(media_root)


# --- R-SID-3: the deposit ----------------------------------------------------------


def test_a_prepaid_customer_without_a_2_million_top_up_is_refused_r_sid_3(cast: Cast, media_root: Path) -> None:
    billing.lot_create(customer=cast.acme, amount=1_999_999, reference="A")
    error = refused("deposit_required", cast)
    assert error.status == 403 and error.details == {"minimum_deposit": 2_000_000}
    assert_nothing_written(media_root)


def test_several_small_top_ups_do_not_add_up_to_the_first_deposit_r_sid_3(cast: Cast) -> None:
    """Policy: one top-up of at least Rp 2.000.000, not a sum."""
    for n in range(3):
        billing.lot_create(customer=cast.acme, amount=1_000_000, reference=f"SMALL-{n}")
    refused("deposit_required", cast)


def test_one_top_up_of_exactly_2_million_qualifies_even_once_spent_r_sid_3(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=2_000_000, reference="ONE")
    billing.fee_charge(customer=cast.acme, amount=1_999_000, reference="spent", description="spent it")
    assert apply(cast).registrations


def test_a_postpaid_customer_needs_its_guarantee_held_r_sid_3(cast: Cast, media_root: Path) -> None:
    no_guarantee = CustomerFactory(slug="no-guarantee", mode="postpaid")
    refused("deposit_required", cast, customer=no_guarantee)
    held = postpaid_customer("maju-jaya")
    assert apply(cast, customer=held).registrations


# --- R-SID-8: the Smartfren fee --------------------------------------------------


def test_smartfren_is_refused_until_its_fee_is_accepted_r_sid_8(eligible: Cast, media_root: Path) -> None:
    error = refused("fees_not_accepted", eligible, operators=["smartfren", "xl"])
    assert error.details["fees"] == [{"operator": "smartfren", "kind": "registration", "amount": 100_000}]
    assert_nothing_written(media_root)
    assert not LedgerEntry.objects.filter(kind="fee").exists()


def test_the_smartfren_fee_is_drawn_once_from_the_deposit_r_sid_8(eligible: Cast) -> None:
    result = apply(eligible, operators=["smartfren", "xl"], accept_fees=True)
    assert result.fees == [{"operator": "smartfren", "kind": "registration", "amount": 100_000, "billed_to": "deposit"}]
    smartfren = registration(result, "smartfren")
    [entry] = LedgerEntry.objects.filter(kind="fee")
    assert entry.amount == -100_000 and entry.reference.startswith(f"sid:{smartfren.pk}:registration:")
    assert billing.fee_charge(
        customer=eligible.acme, amount=100_000, reference=f"sid:{smartfren.pk}:registration", description="again"
    ).already


def test_a_postpaid_smartfren_fee_goes_on_the_months_invoice_r_sid_8(cast: Cast) -> None:
    customer = postpaid_customer("maju-jaya")
    with time_machine.travel(datetime(2026, 11, 12, 10, 0, tzinfo=WIB), tick=False):
        apply(cast, customer=customer, operators=["smartfren"], accept_fees=True)
    [fee] = PendingFee.objects.all()
    assert (fee.amount, fee.month, fee.kind) == (100_000, date(2026, 11, 1), "fee")


def test_a_fee_the_balance_cannot_pay_leaves_no_file_and_no_row_behind_r_sid_8(cast: Cast, media_root: Path) -> None:
    """The form is saved before the fee is drawn; the refusal removes it again."""
    billing.lot_create(customer=cast.acme, amount=2_000_000, reference="ONE")
    billing.fee_charge(customer=cast.acme, amount=1_950_000, reference="spent", description="spent it")
    error = refused("insufficient_balance", cast, operators=["smartfren", "telkomsel"], accept_fees=True)
    assert error.details == {"balance": 50_000, "price": 100_000}
    assert_nothing_written(media_root)


def test_a_suspended_customer_cannot_apply(eligible: Cast, media_root: Path) -> None:
    eligible.acme.status = "suspended"
    eligible.acme.save(update_fields=["status"])
    refused("account_suspended", eligible)
    assert_nothing_written(media_root)


def test_the_customer_is_emailed_and_staff_alerted(
    eligible: Cast, eager: None, django_capture_on_commit_callbacks, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.ADMINS = [("Staff", "staff@otp.test")]
    with django_capture_on_commit_callbacks(execute=True):
        apply(eligible)
    customer_mail = [m for m in mail.outbox if "owner@acme.test" in m.to]
    assert len(customer_mail) == 1  # "received", listing each operator (no separate "submitted" emails)
    assert all("TOKOKU" in m.subject for m in customer_mail)
    assert "R-SID" not in "".join(m.body + m.subject for m in customer_mail)  # no rule numbers for customers
    assert any("staff@otp.test" in m.to and "TOKOKU" in m.subject for m in mail.outbox)
