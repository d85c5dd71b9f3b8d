"""The sender-ID pages (/sender-ids/): every member sees them, only owners
apply (two steps: the name, then the pre-filled form to download, the signed
form to upload and the fees to confirm) and ask for a reactivation; another
customer sees nothing. The generated appointment form is read back with
pypdf."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse
from pypdf import PdfReader

from billing.models import LedgerEntry
from senderids import services
from senderids.models import Registration, SenderId
from tests.conftest import Cast
from tests.helpers import signed_in
from tests.senderids.helpers import activate, apply, image_bytes, pdf_bytes, registration, stored_files, upload

pytestmark = pytest.mark.django_db

STEP_ONE = {"name": "TOKOKU", "brand": "Toko Kita", "operators": ["telkomsel", "smartfren"]}


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def legal(eligible: Cast) -> Cast:
    acme = eligible.acme
    acme.legal_name = "PT Acme Niaga Sejahtera"
    acme.npwp = "01.234.567.8-901.000"
    acme.postal_address = "Jl. Gatot Subroto No. 12\nJakarta Selatan 12930"
    acme.save()
    return eligible


def test_every_member_sees_the_list_and_the_nav_entry(eligible: Cast) -> None:
    apply(eligible)
    for email in (eligible.owner.email, eligible.developer.email):
        page = signed_in(email).get(reverse("senderids:list"))
        assert page.status_code == 200
        text = page.content.decode()
        assert "TOKOKU" in text and reverse("senderids:list") in text
        assert "R-SID" not in text and "R-CH" not in text  # no rule numbers for customers
    assert reverse("senderids:apply") in signed_in(eligible.owner.email).get(reverse("senderids:list")).content.decode()
    assert (
        reverse("senderids:apply")
        not in signed_in(eligible.developer.email).get(reverse("senderids:list")).content.decode()
    )


def test_a_developer_cannot_apply(eligible: Cast) -> None:
    client = signed_in(eligible.developer.email)
    assert client.get(reverse("senderids:apply")).status_code == 403
    assert client.post(reverse("senderids:apply"), STEP_ONE).status_code == 403
    assert (
        client.get(
            reverse("senderids:appointment_form"), {"name": "TOKOKU", "brand": "x", "operators": "xl"}
        ).status_code
        == 403
    )


def test_without_the_deposit_the_page_says_so(cast: Cast) -> None:
    page = signed_in(cast.owner.email).get(reverse("senderids:list")).content.decode()
    assert "2.000.000" in page and reverse("senderids:apply") not in page


def test_step_one_shows_the_fees_and_the_form_link_before_anything_is_written(legal: Cast) -> None:
    page = signed_in(legal.owner.email).post(reverse("senderids:apply"), STEP_ONE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Rp 100.000" in text and 'name="accept_fees"' in text
    assert reverse("senderids:appointment_form") + "?" in text and 'name="form"' in text
    assert not SenderId.objects.exists()


def test_step_one_refuses_a_bad_name_on_the_form(legal: Cast) -> None:
    page = signed_in(legal.owner.email).post(reverse("senderids:apply"), {**STEP_ONE, "name": "12345"})
    assert page.status_code == 400 and "paling sedikit satu huruf" in page.content.decode()  # Indonesian by default


def test_the_pre_filled_form_names_the_company_the_sender_and_the_operators_r_sid_2(legal: Cast) -> None:
    response = signed_in(legal.owner.email).get(
        reverse("senderids:appointment_form"), {"name": "TOKOKU", "brand": "Toko Kita", "operators": "telkomsel,three"}
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    text = pdf_text(response.content)
    for expected in (
        "FORM PENUNJUKAN",
        "PT Acme Niaga Sejahtera",
        "01.234.567.8-901.000",
        "Jl. Gatot Subroto No. 12",
        "Jakarta Selatan 12930",
        "TOKOKU",
        "Toko Kita",
        "Telkomsel",
        "jalur premium",
        "Three",
    ):
        assert expected in text, (expected, text)
    assert "XL-Axiata" not in text and "Smartfren" not in text


def test_the_form_is_not_made_for_a_bad_name(legal: Cast) -> None:
    response = signed_in(legal.owner.email).get(
        reverse("senderids:appointment_form"), {"name": "12", "brand": "x", "operators": "xl"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("senderids:apply")


def test_step_two_needs_the_fees_accepted_then_applies_r_sid_8(legal: Cast, media_root: Path) -> None:
    client = signed_in(legal.owner.email)
    step_two = {**STEP_ONE, "confirm": "1"}
    refused = client.post(reverse("senderids:apply"), {**step_two, "form": upload(pdf_bytes())})
    assert refused.status_code == 400 and "setujui biayanya untuk mengajukan" in refused.content.decode()
    assert not SenderId.objects.exists() and stored_files(media_root) == []
    done = client.post(
        reverse("senderids:apply"),
        {
            **step_two,
            "accept_fees": "on",
            "form": upload(image_bytes("JPEG"), name="scan.jpg", content_type="image/jpeg"),
        },
    )
    application = SenderId.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("senderids:detail", args=[application.pk])
    assert application.form_kind == "jpg" and application.applied_by == legal.owner
    assert LedgerEntry.objects.get(kind="fee").amount == -100_000


def test_step_two_refuses_a_disguised_file_on_its_field(legal: Cast, media_root: Path) -> None:
    page = signed_in(legal.owner.email).post(
        reverse("senderids:apply"),
        {**STEP_ONE, "operators": ["xl"], "confirm": "1", "form": upload(b"MZ" + b"\x00" * 100, name="form.pdf")},
    )
    assert page.status_code == 400 and "harus berupa berkas PDF, JPEG atau PNG" in page.content.decode()
    assert stored_files(media_root) == []


def test_the_detail_shows_each_operator_with_its_expected_dates_and_history(eligible: Cast) -> None:
    result = apply(eligible)
    activate(registration(result, "xl"), eligible.staff)
    page = signed_in(eligible.developer.email).get(reverse("senderids:detail", args=[result.sender_id.pk]))
    text = page.content.decode()
    telkomsel = registration(result, "telkomsel")
    assert page.status_code == 200
    assert telkomsel.expected_by.strftime("%Y") in text and "Approved." in text
    assert "premium route (OTP)" in text or "jalur premium" in text


def test_the_uploaded_form_is_served_to_members_only(eligible: Cast) -> None:
    result = apply(eligible)
    url = reverse("senderids:uploaded_form", args=[result.sender_id.pk])
    response = signed_in(eligible.developer.email).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == Path(result.sender_id.form.path).read_bytes()
    assert response["Content-Security-Policy"] == "sandbox"
    assert signed_in(eligible.stranger.email).get(url).status_code == 404
    assert (
        signed_in(eligible.stranger.email).get(reverse("senderids:detail", args=[result.sender_id.pk])).status_code
        == 404
    )


def test_the_stored_form_has_no_public_media_url_in_production(eligible: Cast, client, settings) -> None:  # type: ignore[no-untyped-def]
    """Nothing serves MEDIA_ROOT unless DEBUG is on (otpportal/urls.py); the signed forms sit in a private folder."""
    application = apply(eligible).sender_id
    assert application.form.name.startswith("private/sender-id-forms/")
    assert not settings.DEBUG
    assert client.get(f"/media/{application.form.name}").status_code == 404


def test_an_owner_asks_for_a_three_reactivation_after_seeing_its_fee_r_sid_6(eligible: Cast) -> None:
    row = registration(apply(eligible, operators=["three"]), "three")
    activate(row, eligible.staff)
    services.registration_move(registration=row, new="suspended", note="quarter", actor=eligible.staff)
    client = signed_in(eligible.owner.email)
    detail = client.get(reverse("senderids:detail", args=[row.application_id])).content.decode()
    url = reverse("senderids:reactivate", args=[row.application_id, row.pk])
    assert url in detail
    page = client.get(url)
    assert page.status_code == 200 and "Rp 300.000" in page.content.decode()
    assert client.post(url, {}).status_code == 400  # not accepted
    assert client.post(url, {"accept_fees": "on"}).status_code == 302
    row.refresh_from_db()
    assert row.reactivation_requested_by == eligible.owner and row.status == "suspended"
    assert signed_in(eligible.developer.email).post(url, {"accept_fees": "on"}).status_code == 403
    assert signed_in(eligible.stranger.email).get(url).status_code == 404


def test_a_suspended_telkomsel_route_offers_no_reactivation_r_sid_7(eligible: Cast) -> None:
    row = registration(apply(eligible, operators=["telkomsel"]), "telkomsel")
    activate(row, eligible.staff)
    services.registration_move(registration=row, new="suspended", note="quarter", actor=eligible.staff)
    detail = (
        signed_in(eligible.owner.email).get(reverse("senderids:detail", args=[row.application_id])).content.decode()
    )
    assert reverse("senderids:reactivate", args=[row.application_id, row.pk]) not in detail
    assert Registration.objects.get(pk=row.pk).status == "suspended"
