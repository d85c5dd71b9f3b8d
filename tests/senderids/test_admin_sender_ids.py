"""The sender-ID back-office: applications with their registrations (read
only) and the signed form, downloadable by staff only; registrations moved
by actions that ask for a note and call the state machine (R-SID-4)."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.core import mail
from django.test import Client
from django.urls import reverse

from senderids.models import Registration
from tests.conftest import Cast
from tests.helpers import signed_in, staff_fixture  # noqa: F401 - the ``staff`` fixture
from tests.senderids.helpers import activate, apply, registration

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:senderids_registration_changelist")


def act(client: Client, action: str, rows: list[Registration], **extra: str):  # type: ignore[no-untyped-def]
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(r.pk) for r in rows], **extra}
    return client.post(CHANGELIST, data)


def test_the_application_page_shows_the_registrations_and_links_the_form(eligible: Cast, staff: Client) -> None:
    result = apply(eligible)
    page = staff.get(reverse("admin:senderids_senderid_change", args=[result.sender_id.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "TOKOKU" in text and "Telkomsel, jalur premium (OTP)" in text and "XL-Axiata" in text
    form_url = reverse("admin:senderids_senderid_form", args=[result.sender_id.pk])
    assert form_url in text
    download = staff.get(form_url)
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    assert staff.get(reverse("admin:senderids_senderid_changelist")).status_code == 200
    assert staff.get(reverse("admin:senderids_senderid_add")).status_code == 403


def test_the_form_is_not_served_to_anyone_but_staff(eligible: Cast) -> None:
    form_url = reverse("admin:senderids_senderid_form", args=[apply(eligible).sender_id.pk])
    assert Client().get(form_url).status_code == 302  # to the admin's login
    assert signed_in(eligible.owner.email).get(form_url).status_code == 302


def test_an_action_asks_for_the_note_then_moves_and_emails(  # type: ignore[no-untyped-def]
    eligible: Cast, staff: Client, eager: None, django_capture_on_commit_callbacks
) -> None:
    rows = apply(eligible).registrations
    for row in rows:
        act(staff, "move_in_review", [row], apply="1")
    mail.outbox.clear()
    ask = act(staff, "move_rejected", rows)
    assert ask.status_code == 200 and 'name="note"' in ask.content.decode()
    assert {r.status for r in Registration.objects.all()} == {"in_review"}
    with django_capture_on_commit_callbacks(execute=True):
        done = act(staff, "move_rejected", rows, apply="1", note="The brand does not match the company.")
    assert done.status_code == 302
    assert {r.status for r in Registration.objects.all()} == {"rejected"}
    change = rows[0].history.latest("id")
    assert (change.reason, change.actor) == ("The brand does not match the company.", eligible.staff)
    assert len(mail.outbox) == 2 and all("The brand does not match" in m.body for m in mail.outbox)


def test_a_refused_move_is_a_message_and_changes_nothing(eligible: Cast, staff: Client) -> None:
    row = registration(apply(eligible), "xl")
    response = act(staff, "move_active", [row], apply="1")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("tidak mengizinkan" in m for m in messages), messages  # Review 8.19: in the back office's language
    row.refresh_from_db()
    assert row.status == "submitted" and row.history.count() == 1


def test_a_reject_without_a_note_is_refused(eligible: Cast, staff: Client) -> None:
    row = registration(apply(eligible), "xl")
    act(staff, "move_in_review", [row], apply="1")
    act(staff, "move_rejected", [row], apply="1", note="")
    row.refresh_from_db()
    assert row.status == "in_review"


def test_the_registration_page_shows_its_history_and_cannot_be_edited(eligible: Cast, staff: Client) -> None:
    row = activate(registration(apply(eligible), "xl"), eligible.staff)
    url = reverse("admin:senderids_registration_change", args=[row.pk])
    page = staff.get(url)
    assert page.status_code == 200 and "Approved." in page.content.decode()
    staff.post(url, {"status": "rejected"})
    row.refresh_from_db()
    assert row.status == "active"
    assert staff.get(reverse("admin:senderids_trafficreview_changelist")).status_code == 200
