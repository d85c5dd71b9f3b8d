"""Issue 13: the back office's windows over all messages (work queues,
provider health, the customer list's last send) are served by indexes, not
by a scan of the message table. Checked on PostgreSQL with 60 000 messages
over 30 days (a realistic mix, a few in flight), after ANALYZE, the planner
free to choose. The plans, as measured::

    failing (last hour)     Index Scan using msg_created on messaging_message
    provider health         Index Scan using msg_created on messaging_message
    stuck, waiting          Index Scan using msg_outbox on messaging_message
    customer list           SubPlan: Index Scan (Backward) using msg_customer_time, or msg_created
                            when the newest rows are any customer's (two customers here)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Customer
from backoffice import selectors
from tests.conftest import Cast

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

MESSAGES = 60_000


@pytest.fixture
def month_of_messages(cast: Cast) -> None:
    """One message every 43 s for 30 days: nearly all delivered, every 500th queued or sending,
    every 100th failed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_message (id, is_test, "to", operator, channel, sender_id, encoding, units,
                price, charged, body, sealed, fallback, reference, status, provider, provider_message_id,
                attempts, submits, next_attempt_at, claimed_at, error_code, error_message, created_at,
                updated_at, sent_at, customer_id)
            SELECT 'msg_' || g, false, '+62812' || lpad(g::text, 7, '0'), 'telkomsel', 'sms', 'OTPPORTAL',
                'gsm7', 1, 650, true, 'Kode OTP Anda ******', '', '[]'::jsonb, '', status, 'smpp', 'p' || g,
                1, 1, NULL, NULL, CASE WHEN status = 'failed' THEN 'no_response' ELSE '' END, '',
                now() - g * interval '43 seconds', now() - g * interval '43 seconds', NULL,
                CASE WHEN g %% 2 = 0 THEN %s ELSE %s END
            FROM (
                SELECT g, CASE WHEN g %% 500 = 1 THEN 'queued' WHEN g %% 500 = 2 THEN 'sending'
                    WHEN g %% 100 = 3 THEN 'failed' ELSE 'delivered' END AS status
                FROM generate_series(1, %s) AS g
            ) AS rows
            """,
            [cast.acme.pk, cast.globex.pk, MESSAGES],
        )
        cursor.execute("ANALYZE messaging_message")


def test_the_back_offices_message_windows_use_indexes(month_of_messages: None) -> None:
    now = timezone.now()
    plans = {
        "failing in the last hour": (selectors.failing_by_route(now), ("msg_created",)),
        "provider health": (
            selectors.recent_by_route(now=now, window=now - timedelta(minutes=5), hour=now - timedelta(hours=1)),
            ("msg_created",),
        ),
        "stuck": (selectors.stuck_by_route(now), ("msg_outbox",)),
        "waiting": (selectors.waiting_by_route(), ("msg_outbox",)),
        "customer list": (
            selectors.customers_with_overview(Customer.objects.all(), now=now),
            ("msg_customer_time", "msg_created"),
        ),
    }
    for name, (queryset, indexes) in plans.items():
        text = queryset.explain()
        assert any(index in text for index in indexes), f"{name}:\n{text}"
        assert "Seq Scan on messaging_message" not in text, f"{name}:\n{text}"
    # The same data, counted: every 100th of the last hour's messages failed.
    failed = sum(row["n"] for row in selectors.failing_by_route(now))
    assert failed == len([g for g in range(1, 3600 // 43 + 1) if g % 100 == 3 and g % 500 not in (1, 2)])
