"""R-CH-4 on the send path: ``senderids.selectors.active_sender_id``.

The lookup is one query on the registrations table, served by an index on
(customer, operator) (``sidreg_active_lookup``, partial on active rows, or
the ``sidreg_live_once`` constraint's), its SQL compiled once
(``otpportal.rowsql.Scalar``). The selector itself keeps nothing: a
suspension is seen by its very next call. The send path keeps the answer for
``HOT_CACHE_SECONDS`` (tested in tests/messaging/test_hot_paths.py).
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from senderids import selectors, services
from senderids.models import Registration
from tests.conftest import Cast
from tests.senderids.helpers import activate, apply, registration

pytestmark = pytest.mark.django_db


def test_nothing_active_means_none(eligible: Cast) -> None:
    apply(eligible)  # submitted only
    assert selectors.active_sender_id(customer=eligible.acme, operator="telkomsel") is None
    assert selectors.active_sender_id(customer=eligible.acme, operator="") is None


def test_the_active_name_counts_for_its_operator_only_r_ch_4(eligible: Cast) -> None:
    result = apply(eligible, name="TokoKu")
    activate(registration(result, "telkomsel"), eligible.staff)
    assert selectors.active_sender_id(customer=eligible.acme, operator="telkomsel") == "TokoKu"
    assert selectors.active_sender_id(customer=eligible.acme, operator="xl") is None  # still submitted there
    assert selectors.active_sender_id(customer=eligible.globex, operator="telkomsel") is None


def test_a_requested_name_matches_without_regard_to_case_and_answers_the_registered_spelling(eligible: Cast) -> None:
    activate(registration(apply(eligible, name="TokoKu"), "xl"), eligible.staff)
    assert selectors.active_sender_id(customer=eligible.acme, operator="xl", requested="TOKOKU") == "TokoKu"
    assert selectors.active_sender_id(customer=eligible.acme, operator="xl", requested="OTHER") is None
    assert selectors.active_sender_id(customer=eligible.acme, operator="telkomsel", requested="TokoKu") is None


def test_a_suspension_is_seen_by_the_next_lookup(eligible: Cast) -> None:
    row = activate(registration(apply(eligible), "xl"), eligible.staff)
    assert selectors.active_sender_id(customer=eligible.acme, operator="xl") == "TOKOKU"
    services.registration_move(registration=row, new="suspended", note="operator", actor=eligible.staff)
    assert selectors.active_sender_id(customer=eligible.acme, operator="xl") is None


def test_with_two_active_names_the_first_activated_is_the_default(eligible: Cast) -> None:
    activate(registration(apply(eligible, name="FIRST", operators=["xl"]), "xl"), eligible.staff)
    activate(registration(apply(eligible, name="SECOND", operators=["xl"]), "xl"), eligible.staff)
    assert selectors.active_sender_id(customer=eligible.acme, operator="xl") == "FIRST"
    assert selectors.active_sender_id(customer=eligible.acme, operator="xl", requested="second") == "SECOND"


def test_telkomsels_regular_route_never_carries_otp_r_sid_7(eligible: Cast) -> None:
    row = registration(apply(eligible, operators=["telkomsel"]), "telkomsel")
    Registration.objects.filter(pk=row.pk).update(route="regular")  # a route this platform does not apply for
    activate(row, eligible.staff)
    assert selectors.active_sender_id(customer=eligible.acme, operator="telkomsel") is None


@pytest.mark.parametrize("requested", ["", "TOKOKU"])
def test_the_lookup_is_one_query(eligible: Cast, django_assert_num_queries, requested: str) -> None:  # type: ignore[no-untyped-def]
    activate(registration(apply(eligible), "xl"), eligible.staff)
    with django_assert_num_queries(1):
        assert selectors.active_sender_id(customer=eligible.acme, operator="xl", requested=requested) == "TOKOKU"


@pytest.mark.postgres
def test_the_lookup_is_served_by_an_index_among_many_registrations(eligible: Cast) -> None:
    """10 000 registrations of 2 000 customers, nearly all not active, after ANALYZE:
    the planner, free to choose, reads an index on (customer, operator) (the lookup's
    partial index, or the live-name constraint's, which also covers active rows),
    never the whole table."""
    active = activate(registration(apply(eligible), "xl"), eligible.staff)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_customer (name, slug, legal_name, npwp, billing_email, postal_address,
                brand_name, mode, status, created_at)
            SELECT 'C' || g, 'bulk-' || g, '', '', 'b@x.test', '', '', 'prepaid', 'active', now()
            FROM generate_series(1, 2000) AS g
            """
        )
        cursor.execute(
            """
            INSERT INTO senderids_senderid (id, customer_id, name, name_key, brand, form, form_kind,
                form_original_name, created_at)
            SELECT 'sid_bulk' || c.id, c.id, 'N' || c.id, 'N' || c.id, 'b', 'x', 'pdf', '', now()
            FROM accounts_customer c WHERE c.slug LIKE 'bulk-%'
            """
        )
        cursor.execute(
            """
            INSERT INTO senderids_registration (application_id, customer_id, name, name_key, operator, route,
                status, submitted_at, expected_from, expected_by, status_changed_at, activated_at)
            SELECT s.id, s.customer_id, s.name, s.name_key, op, CASE WHEN op = 'telkomsel' THEN 'premium' ELSE '' END,
                CASE WHEN s.customer_id % 50 = 0 THEN 'active' ELSE 'rejected' END, now(), current_date,
                current_date, now(), now()
            FROM senderids_senderid s CROSS JOIN unnest(ARRAY['telkomsel','xl','indosat','three','smartfren']) AS op
            WHERE s.id LIKE 'sid_bulk%'
            """
        )
        cursor.execute("ANALYZE senderids_registration")
    with CaptureQueriesContext(connection) as captured:
        assert selectors.active_sender_id(customer=eligible.acme, operator="xl") == "TOKOKU"
    [query] = captured.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
        text = json.dumps(cursor.fetchone()[0])
    assert active.customer_id == eligible.acme.pk
    assert '"Relation Name": "senderids_registration"' in text, text
    assert "Seq Scan" not in text and ("Index Scan" in text or "Index Only Scan" in text), text


def test_the_lookup_is_one_statement_compiled_once_with_each_call_s_values(eligible: Cast) -> None:
    """Issue 11: the statement is the ORM's own, compiled on first use; each call binds its values."""
    activate(registration(apply(eligible, name="TokoKu"), "xl"), eligible.staff)
    for customer, operator, expected in [
        (eligible.acme, "xl", "TokoKu"),
        (eligible.acme, "telkomsel", None),
        (eligible.globex, "xl", None),
        (eligible.acme, "xl", "TokoKu"),
    ]:
        with CaptureQueriesContext(connection) as queries:
            assert selectors.active_sender_id(customer=customer, operator=operator) == expected
        assert len(queries) == 1
        assert f"{customer.pk}" in queries[0]["sql"] and operator in queries[0]["sql"]


def test_a_compiled_lookup_refuses_sentinels_the_query_does_not_use() -> None:
    from otpportal.rowsql import Scalar

    lookup = Scalar(
        lambda customer_id, operator: Registration.objects.filter(customer_id=customer_id).values_list(
            "name", flat=True
        ),
        customer_id=-1,
        operator="~unused~",
    )
    with pytest.raises(ValueError, match="operator"):
        lookup.get(customer_id=1, operator="xl")
