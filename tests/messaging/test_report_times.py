"""Review 8.15 for WhatsApp: callback timestamps are read by their documented format and checked
for sense (a time more than a few minutes ahead is taken as now); the dispatch service then keeps
``delivered_at`` between ``sent_at`` and now (``test_dispatch``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from messaging.providers import wa_cloud, wa_gateway
from messaging.providers.base import REPORT_FUTURE_SLACK, plausible_report_time

NOW = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())


def cloud(timestamp: object) -> datetime | None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {"statuses": [{"id": "wamid.A", "status": "delivered", "timestamp": timestamp}]},
                    }
                ],
            }
        ],
    }
    [report] = wa_cloud.parse_callback(payload)
    return report.occurred_at


def gateway(timestamp: object) -> datetime | None:
    [report] = wa_gateway.parse_callback({"id": "g1", "status": "delivered", "timestamp": timestamp})
    return report.occurred_at


def test_plausible_report_time_believes_a_few_minutes_of_skew_and_no_more() -> None:
    assert plausible_report_time(NOW - timedelta(days=400), now=NOW) == NOW - timedelta(days=400)
    assert plausible_report_time(NOW + REPORT_FUTURE_SLACK, now=NOW) == NOW + REPORT_FUTURE_SLACK
    assert plausible_report_time(NOW + REPORT_FUTURE_SLACK + timedelta(seconds=1), now=NOW) == NOW


@pytest.mark.parametrize("parse", [cloud, gateway], ids=["wa_cloud", "wa_gateway"])
def test_review_8_15_a_callback_time_in_the_future_is_taken_as_now(parse) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        assert parse(str(STAMP - 30)) == NOW - timedelta(seconds=30)
        assert parse(str(STAMP + 120)) == NOW + timedelta(seconds=120)  # clock skew: believed
        assert parse(str(STAMP + 3600)) == NOW  # an hour ahead: a wrong clock
        assert parse(str(STAMP + 10**9)) == NOW  # year 2058


@pytest.mark.parametrize("timestamp", ["1.7e9", "1700000000.5", " ", "-1700000000", 1.5, True, None, "0x65"])
def test_review_8_15_wa_cloud_reads_only_the_documented_unix_seconds(timestamp: object) -> None:
    """Meta documents a string of unix seconds; anything else is no time at all (the service
    then uses the time it got the callback)."""
    assert cloud(timestamp) is None


def test_wa_cloud_unix_seconds_as_a_string_or_an_int() -> None:
    with time_machine.travel(NOW, tick=False):
        assert cloud("1700000000") == cloud(1700000000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_review_8_15_wa_gateway_iso_times_get_the_same_check() -> None:
    with time_machine.travel(NOW, tick=False):
        assert gateway("2026-11-30T12:00:00+07:00") == NOW
        assert gateway("2026-11-30T13:00:00+07:00") == NOW  # an hour ahead
        assert gateway("2026-11-30T11:59:00+07:00") == NOW - timedelta(minutes=1)
