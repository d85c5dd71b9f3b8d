"""Issue 12, the activity log: sign-ins (success and failure) and sensitive
actions (keys, webhooks, members, two-factor sign-in, sender IDs, top-ups),
with who, what, when and the client's address; shown to owners, paginated,
in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.models import ActivityEvent, ApiKey
from billing import services as billing
from messaging import services as messaging
from tests.accounts.team_helpers import english, enrol, member, signed_in
from tests.conftest import Cast, api_client
from tests.helpers import png_proof
from tests.senderids.helpers import apply

pytestmark = pytest.mark.django_db


def table(html: str) -> str:
    start = html.index('<table id="activity">')
    return html[start : html.index("</table>", start)]


def events(cast: Cast, action: str) -> list[ActivityEvent]:
    return list(ActivityEvent.objects.filter(customer=cast.acme, action=action).order_by("id"))


def test_sign_ins_and_refused_passwords_are_recorded_with_the_address(cast: Cast) -> None:
    signed_in(cast.developer.email)
    Client(REMOTE_ADDR="203.0.113.9").post("/login/", {"username": cast.developer.email, "password": "wrong"})
    Client().post("/login/", {"username": "nobody@acme.test", "password": "wrong"})
    success, failure = events(cast, "sign_in"), events(cast, "sign_in_failed")
    assert [(e.user, e.actor, e.ip) for e in success] == [(cast.developer, cast.developer.email, "127.0.0.1")]
    assert [(e.user, e.ip) for e in failure] == [(cast.developer, "203.0.113.9")]
    assert not ActivityEvent.objects.filter(customer=cast.globex, action__startswith="sign_in").exists()
    assert ActivityEvent.objects.filter(action="sign_in_failed").count() == 1  # an unknown address is nobody's


def test_a_sign_in_is_in_the_log_of_every_customer_of_the_user(cast: Cast) -> None:
    services.membership_add(customer=cast.globex, email=cast.developer.email, role="billing")
    signed_in(cast.developer.email)
    assert ActivityEvent.objects.filter(action="sign_in", user=cast.developer).count() == 2


def test_keys_created_and_revoked_from_the_dashboard_name_the_member(cast: Cast) -> None:
    client = signed_in(cast.developer.email)
    client.post("/messaging/api-keys/create/", {"mode": "live", "name": "shop"})
    api_key = ApiKey.objects.get(customer=cast.acme, name="shop")
    client.post(f"/messaging/api-keys/{api_key.pk}/revoke/")
    created, revoked = events(cast, "key_created")[-1], events(cast, "key_revoked")[-1]
    assert created.actor == revoked.actor == cast.developer.email
    assert api_key.prefix in created.target and "shop" in created.target and api_key.prefix in revoked.target
    assert created.ip == "127.0.0.1"
    services.api_key_revoke(api_key=api_key)  # a second revoke changes nothing
    assert len(events(cast, "key_revoked")) == 1


def test_webhooks_added_and_deleted_in_the_dashboard_and_the_api(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    client = signed_in(cast.owner.email)
    response = client.post(
        "/messaging/webhooks/create/", {"url": "http://127.0.0.1:9/hook", "events": ["message.status"]}
    )
    assert response.status_code == 302
    endpoint = messaging.endpoint_create(customer=cast.acme, url="http://127.0.0.1:9/api-hook")
    client.post(f"/messaging/webhooks/{endpoint.pk}/delete/")
    api = api_client(cast.acme_live_key)
    created = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/other"}, format="json")
    assert created.status_code == 201
    assert api.delete(f"/api/v1/webhooks/{created.json()['id']}").status_code == 204
    added = [(e.actor, e.target) for e in events(cast, "webhook_created")]
    deleted = [(e.actor, e.target) for e in events(cast, "webhook_deleted")]
    prefix = cast.acme_live_key[:17]
    assert added[0] == (cast.owner.email, "http://127.0.0.1:9/hook")
    assert added[-1] == (f"API {prefix}…", "http://127.0.0.1:9/other")
    assert deleted == [
        (cast.owner.email, "http://127.0.0.1:9/api-hook"),
        (f"API {prefix}…", "http://127.0.0.1:9/other"),
    ]


def test_members_invited_changed_and_removed(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    client.post("/account/team/invite/", {"email": "new@acme.test", "role": "billing"})
    developer = cast.acme.memberships.get(user=cast.developer)
    client.post(f"/account/team/members/{developer.pk}/role/", {"role": "billing"})
    client.post(f"/account/team/members/{developer.pk}/remove/")
    assert [e.target for e in events(cast, "member_invited")] == ["new@acme.test (billing)"]
    assert [e.target for e in events(cast, "role_changed")] == [f"{cast.developer.email}: developer → billing"]
    assert [e.target for e in events(cast, "member_removed")] == [f"{cast.developer.email} (billing)"]
    assert {e.actor for e in ActivityEvent.objects.filter(action__startswith="member_")} == {cast.owner.email}


def test_two_factor_on_and_off_are_recorded(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    codes = enrol(client, cast.owner)
    client.post("/account/security/two-factor/disable/", {"code": codes[0]})
    assert len(events(cast, "two_factor_on")) == 1 and len(events(cast, "two_factor_off")) == 1


def test_sender_id_applications_and_top_up_requests_are_recorded(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="ACME-BCA-SID")
    apply(cast)
    billing.topup_request_create(
        customer=cast.acme, requested_by=cast.owner, amount=1_000_000, proof=png_proof(), transfer_reference="BCA-9"
    )
    applied, topup = events(cast, "sender_id_applied"), events(cast, "topup_requested")
    assert [(e.actor, e.target) for e in applied] == [(cast.owner.email, "TOKOKU (telkomsel, xl)")]
    assert [(e.actor, e.target) for e in topup] == [(cast.owner.email, "Rp 1.000.000 BCA-9")]


# --- The page ----------------------------------------------------------------------------------


def test_the_log_is_for_owners_and_shows_only_their_customer(cast: Cast) -> None:
    signed_in(cast.stranger.email)  # a Globex sign-in
    clerk = member(cast.acme, "billing", "clerk@acme.test")
    for email in (cast.developer.email, clerk.email):
        assert signed_in(email).get("/account/activity/").status_code == 403
    html = english(signed_in(cast.owner.email)).get("/account/activity/").content.decode()
    assert "Signed in" in html and cast.owner.email in html
    assert cast.stranger.email not in html


def test_the_log_is_paginated_newest_first_and_filtered_by_action(cast: Cast) -> None:
    ActivityEvent.objects.bulk_create(
        ActivityEvent(customer=cast.acme, action="key_created", actor="bot@acme.test", target=f"key-{n:03d}")
        for n in range(60)
    )
    client = english(signed_in(cast.owner.email))
    first = table(client.get("/account/activity/", {"action": "key_created"}).content.decode())
    assert "key-059" in first and "key-010" in first and "key-009" not in first and "Signed in" not in first
    second = table(client.get("/account/activity/", {"action": "key_created", "page": 2}).content.decode())
    assert "key-000" in second and "key-059" not in second


def test_the_page_reads_a_fixed_number_of_queries(cast: Cast, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    """No N+1: the actor and the object are snapshots on each row."""
    client = signed_in(cast.owner.email)
    client.get("/account/activity/")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/account/activity/").status_code == 200
    users = [member(cast.acme, "developer", f"dev{n}@acme.test") for n in range(10)]
    for user in users:
        services.activity_record(customer=cast.acme, action="key_created", user=user, target="k")
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as many:
        assert client.get("/account/activity/").status_code == 200
    assert len(many) == len(few)
