"""Issue 12, team: owners invite members by email with a role (a hashed,
single-use, expiring token), change roles and remove members; the last owner
stays; members change their own password."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import ActivityEvent, Invitation, Membership, User
from accounts.selectors import hash_secret
from otpportal.errors import ServiceError
from tests.accounts.team_helpers import english, invitation_path, member, sign_in, signed_in
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase-77"
RULE_NUMBER = re.compile(r"\bR-[A-Z]+-\d")


def invite(client: Client, email: str, role: str = "developer") -> None:
    response = client.post("/account/team/invite/", {"email": email, "role": role})
    assert response.status_code == 302, response.content[:800]


# --- Inviting ----------------------------------------------------------------------------------


def test_an_owner_invites_by_email_and_only_a_hash_of_the_token_is_kept(
    cast: Cast, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(cast.owner.email)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, "New.Dev@Acme.test", "billing")
    invitation = Invitation.objects.get(customer=cast.acme)
    assert invitation.email == "new.dev@acme.test" and invitation.role == "billing"
    assert invitation.invited_by == cast.owner
    assert timedelta(days=6, hours=23) < invitation.expires_at - invitation.created_at <= timedelta(days=7)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.dev@acme.test"]
    path = invitation_path()
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_hash == hash_secret(token) and token not in invitation.token_hash
    assert "Acme Shop" in mail.outbox[0].subject + mail.outbox[0].body
    page = client.get("/account/team/")
    assert "new.dev@acme.test" in page.content.decode()  # among the open invitations
    assert ActivityEvent.objects.filter(customer=cast.acme, action="member_invited", actor=cast.owner.email).exists()


def test_a_new_user_accepts_once_sets_a_password_and_lands_signed_in_with_the_role(
    cast: Cast, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        invite(signed_in(cast.owner.email), "clerk@acme.test", "billing")
    path = invitation_path()
    guest = english(Client())
    form = guest.get(path)
    assert form.status_code == 200 and "Acme Shop" in form.content.decode()
    weak = guest.post(path, {"full_name": "Clerk", "password1": "123", "password2": "123"})
    assert weak.status_code == 400 and not User.objects.filter(email="clerk@acme.test").exists()
    response = guest.post(path, {"full_name": "Clerk Kent", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    clerk = User.objects.get(email="clerk@acme.test")
    assert clerk.full_name == "Clerk Kent" and clerk.check_password(NEW_PASSWORD)
    assert Membership.objects.get(user=clerk, customer=cast.acme).role == "billing"
    assert guest.get("/billing/").status_code == 200  # signed in, with the billing role's pages
    assert guest.get("/messaging/api-keys/").status_code == 403
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == clerk and invitation.accepted_at is not None
    again = Client().get(path)  # single use
    assert again.status_code == 404
    assert Client().post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code != 302


def test_an_expired_or_canceled_invitation_is_refused(cast: Cast, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    owner = signed_in(cast.owner.email)
    with django_capture_on_commit_callbacks(execute=True):
        invite(owner, "late@acme.test")
    path = invitation_path()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(path).status_code == 404
    with pytest.raises(ServiceError):
        services.invitation_accept(token=path.rstrip("/").rsplit("/", 1)[1], password=NEW_PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        invite(owner, "other@acme.test")
    invitation = Invitation.objects.get(email="other@acme.test")
    assert owner.post(f"/account/team/invitations/{invitation.pk}/cancel/").status_code == 302
    assert Client().get(invitation_path()).status_code == 404
    assert not User.objects.filter(email__in=["late@acme.test", "other@acme.test"]).exists()


def test_a_new_invitation_to_the_same_address_replaces_the_earlier_link(
    cast: Cast, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    owner = signed_in(cast.owner.email)
    with django_capture_on_commit_callbacks(execute=True):
        invite(owner, "twice@acme.test", "developer")
        invite(owner, "twice@acme.test", "billing")
    first, second = invitation_path(0), invitation_path(1)
    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 200


def test_an_existing_user_signs_in_with_the_invited_address_to_accept(
    cast: Cast, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """The stranger (Globex's owner) is invited to Acme: a signed-out visit is
    sent to sign in, another user is refused, the invited user accepts."""
    with django_capture_on_commit_callbacks(execute=True):
        invite(signed_in(cast.owner.email), cast.stranger.email, "developer")
    path = invitation_path()
    page = english(Client()).get(path)
    assert page.status_code == 200 and f"/login/?next={path}" in page.content.decode()
    wrong = english(signed_in(cast.developer.email)).get(path)
    assert wrong.status_code == 403 and "Sign out" in wrong.content.decode()
    assert english(signed_in(cast.developer.email)).post(path).status_code == 403
    assert not Membership.objects.filter(user=cast.developer, customer=cast.acme).exclude(role="developer").exists()
    stranger = signed_in(cast.stranger.email)
    response = stranger.post(path)
    assert response.status_code == 302
    assert Membership.objects.get(user=cast.stranger, customer=cast.acme).role == "developer"
    assert Membership.objects.get(user=cast.stranger, customer=cast.globex).role == "owner"  # untouched
    assert "Acme Shop" in stranger.get("/").content.decode()  # the joined customer is the current one


def test_a_member_cannot_be_invited_again(cast: Cast) -> None:
    response = signed_in(cast.owner.email).post(
        "/account/team/invite/", {"email": cast.developer.email, "role": "owner"}
    )
    assert response.status_code == 400
    assert not Invitation.objects.exists() and len(mail.outbox) == 0
    assert Membership.objects.get(user=cast.developer, customer=cast.acme).role == "developer"


def test_only_owners_manage_the_team(cast: Cast) -> None:
    clerk = member(cast.acme, "billing", "clerk@acme.test")
    developer_membership = Membership.objects.get(user=cast.developer, customer=cast.acme)
    for email in (cast.developer.email, clerk.email):
        client = signed_in(email)
        assert client.get("/account/team/").status_code == 403
        assert client.post("/account/team/invite/", {"email": "x@acme.test", "role": "owner"}).status_code == 403
        url = f"/account/team/members/{developer_membership.pk}/role/"
        assert client.post(url, {"role": "owner"}).status_code == 403
        assert client.post(f"/account/team/members/{developer_membership.pk}/remove/").status_code == 403
    assert not Invitation.objects.exists()
    assert Membership.objects.get(pk=developer_membership.pk).role == "developer"


# --- Roles and removal --------------------------------------------------------------------------


def test_an_owner_changes_a_role_and_removes_a_member(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    developer = Membership.objects.get(user=cast.developer, customer=cast.acme)
    assert client.post(f"/account/team/members/{developer.pk}/role/", {"role": "billing"}).status_code == 302
    assert Membership.objects.get(pk=developer.pk).role == "billing"
    assert signed_in(cast.developer.email).get("/messaging/api-keys/").status_code == 403  # the new role applies
    assert client.post(f"/account/team/members/{developer.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=developer.pk).exists()
    assert User.objects.filter(pk=cast.developer.pk).exists()  # the user stays; it lost access
    assert signed_in(cast.developer.email).get("/").status_code == 403
    actions = list(ActivityEvent.objects.filter(customer=cast.acme).values_list("action", "target"))
    assert ("role_changed", f"{cast.developer.email}: developer → billing") in actions
    assert ("member_removed", f"{cast.developer.email} (billing)") in actions


def test_another_customers_member_is_not_found(cast: Cast) -> None:
    theirs = Membership.objects.get(user=cast.stranger, customer=cast.globex)
    client = signed_in(cast.owner.email)
    assert client.post(f"/account/team/members/{theirs.pk}/role/", {"role": "billing"}).status_code == 404
    assert client.post(f"/account/team/members/{theirs.pk}/remove/").status_code == 404
    assert Membership.objects.get(pk=theirs.pk).role == "owner"


def test_the_last_owner_can_be_neither_demoted_nor_removed(cast: Cast) -> None:
    client = english(signed_in(cast.owner.email))
    own = Membership.objects.get(user=cast.owner, customer=cast.acme)
    response = client.post(f"/account/team/members/{own.pk}/role/", {"role": "developer"}, follow=True)
    assert "at least one owner" in response.content.decode()
    response = client.post(f"/account/team/members/{own.pk}/remove/", follow=True)
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.get(pk=own.pk).role == "owner"
    with pytest.raises(ServiceError):
        services.membership_set_role(membership=own, role="billing")
    with pytest.raises(ServiceError):
        services.membership_remove(membership=own)
    # With a second owner, the first may step down.
    services.membership_set_role(membership=Membership.objects.get(user=cast.developer), role="owner")
    assert client.post(f"/account/team/members/{own.pk}/role/", {"role": "developer"}).status_code == 302
    assert Membership.objects.get(pk=own.pk).role == "developer"


def test_adding_an_existing_owner_with_another_role_keeps_the_last_owner(cast: Cast) -> None:
    with pytest.raises(ServiceError):
        services.membership_add(customer=cast.acme, email=cast.owner.email, role="developer")
    assert Membership.objects.get(user=cast.owner, customer=cast.acme).role == "owner"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(cast: Cast) -> None:
    """The owners' rows are locked: of two concurrent demotions only one succeeds."""
    second = UserFactory(email="second@acme.test")
    Membership.objects.create(user=second, customer=cast.acme, role="owner")
    memberships = list(Membership.objects.filter(customer=cast.acme, role="owner"))
    barrier = threading.Barrier(len(memberships))
    outcomes: list[str] = []

    def demote(membership: Membership) -> None:
        try:
            barrier.wait(timeout=10)
            services.membership_set_role(membership=membership, role="developer")
            outcomes.append("done")
        except ServiceError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=(m,)) for m in memberships]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["done", "refused"]
    assert Membership.objects.filter(customer=cast.acme, role="owner").count() == 1


# --- Password -------------------------------------------------------------------------------------


def test_a_member_changes_their_password(cast: Cast) -> None:
    client = english(signed_in(cast.developer.email))
    wrong = client.post(
        "/account/security/password/",
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    response = client.post(
        "/account/security/password/",
        {"old_password": TEST_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/messaging/api-keys/").status_code == 200  # this session stays signed in
    assert Client().post("/login/", {"username": cast.developer.email, "password": TEST_PASSWORD}).status_code == 200
    sign_in(Client(), cast.developer.email, NEW_PASSWORD)
    assert ActivityEvent.objects.filter(customer=cast.acme, action="password_changed", user=cast.developer).exists()


def test_the_team_pages_name_no_rule_numbers(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    for url in ("/account/team/", "/account/activity/", "/account/security/", "/account/security/two-factor/enrol/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not RULE_NUMBER.search(response.content.decode()), url
