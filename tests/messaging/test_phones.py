"""Destination numbers (R-OP): formats, validation, operator table, masking.

Pure tests: no database.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType
from pytest_django.fixtures import Settings

from messaging.phones import (
    PREFIX_TABLE,
    PREFIX_TABLE_AS_OF,
    Operator,
    PhoneNumber,
    mask,
    normalize,
    operator_for,
    parse,
)
from otpportal.errors import ServiceError

ID_ONLY = ["ID"]
PRICE_LIST_CSV = Path(__file__).resolve().parents[2] / "billing" / "data" / "price-list-2023-11-01.csv"


def _prefixes(first: int, last: int) -> list[str]:
    return [f"0{n}" for n in range(first, last + 1)]


# R-OP-3, transcribed independently of the module's literal.
RULE_R_OP_3: dict[Operator, list[str]] = {
    Operator.TELKOMSEL: _prefixes(811, 813) + _prefixes(821, 823) + _prefixes(851, 853),
    Operator.INDOSAT: _prefixes(814, 816) + _prefixes(855, 858),
    Operator.XL: _prefixes(817, 819) + ["0859"] + _prefixes(877, 879) + _prefixes(831, 833) + ["0838"],
    Operator.THREE: _prefixes(895, 899),
    Operator.SMARTFREN: _prefixes(881, 889),
}
RULE_PREFIXES: list[tuple[str, Operator]] = [
    (prefix, operator) for operator, prefixes in RULE_R_OP_3.items() for prefix in prefixes
]

# 08xx prefixes that phonenumbers (9.0.x) accepts as valid Indonesian mobile
# numbers but R-OP-3 does not list: refused for SMS, never priced by guess.
UNKNOWN_MOBILE_PREFIXES: list[str] = (
    ["0810", "0820"]
    + _prefixes(824, 830)
    + _prefixes(834, 837)
    + ["0839", "0850", "0854"]
    + _prefixes(860, 876)
    + ["0880"]
    + _prefixes(890, 894)
)

# Lengths (national, with the leading 0) that phonenumbers accepts for 08xx mobile numbers.
VALID_NATIONAL_LENGTHS = [10, 11, 12, 13]


def _sample(prefix: str, national_length: int = 12) -> str:
    """A national number on ``prefix``: 0811 + 8 digits by default."""
    return (prefix + "12345678901234")[:national_length]


def _refusal(raw: object, **kwargs: object) -> ServiceError:
    with pytest.raises(ServiceError) as excinfo:
        parse(raw, **kwargs)  # type: ignore[arg-type]
    return excinfo.value


def _phonenumbers_says_mobile(national: str) -> bool:
    number = phonenumbers.parse(national, "ID")
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


# --- the prefix table (R-OP-3) ----------------------------------------------


def test_prefix_table_is_dated_2026() -> None:
    assert date(2026, 1, 1) == PREFIX_TABLE_AS_OF


def test_prefix_table_lists_exactly_the_prefixes_of_r_op_3() -> None:
    assert dict(RULE_PREFIXES) == dict(PREFIX_TABLE)
    assert len(PREFIX_TABLE) == 9 + 7 + 11 + 5 + 9  # Telkomsel, Indosat, XL-Axiata, Three, Smartfren


def test_prefix_table_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        PREFIX_TABLE["0810"] = Operator.TELKOMSEL  # type: ignore[index]


def test_every_prefix_is_a_four_digit_national_08_prefix() -> None:
    assert all(len(prefix) == 4 and prefix.startswith("08") and prefix.isdigit() for prefix in PREFIX_TABLE)


@pytest.mark.parametrize(("prefix", "operator"), RULE_PREFIXES)
def test_each_r_op_3_prefix_parses_to_its_operator(prefix: str, operator: Operator) -> None:
    national = _sample(prefix)
    assert _phonenumbers_says_mobile(national), f"phonenumbers rejects sample {national}"

    number = parse(national, allowed_countries=ID_ONLY)

    assert number == PhoneNumber(e164="+62" + national[1:], country="ID", operator=operator, national=national)


@pytest.mark.parametrize(("prefix", "operator"), RULE_PREFIXES)
def test_each_r_op_3_prefix_maps_to_its_operator_via_operator_for(prefix: str, operator: Operator) -> None:
    assert operator_for("+62" + _sample(prefix)[1:]) is operator


@pytest.mark.parametrize("national_length", VALID_NATIONAL_LENGTHS)
@pytest.mark.parametrize(("prefix", "operator"), RULE_PREFIXES)
def test_each_r_op_3_prefix_is_accepted_at_every_valid_length(
    prefix: str, operator: Operator, national_length: int
) -> None:
    national = _sample(prefix, national_length)
    assert _phonenumbers_says_mobile(national)

    assert parse(national, allowed_countries=ID_ONLY).operator is operator


@pytest.mark.parametrize("national_length", [9, 14])
@pytest.mark.parametrize("prefix", ["0811", "0838", "0859", "0881", "0899"])
def test_numbers_too_short_or_too_long_for_their_prefix_are_refused(prefix: str, national_length: int) -> None:
    error = _refusal(_sample(prefix, national_length), allowed_countries=ID_ONLY)

    assert error.code == "invalid_phone_number"
    assert "not a valid phone number" in error.message


def test_axis_numbers_belong_to_xl_axiata() -> None:
    # R-OP-1: Axis numbers belong to XL-Axiata.
    assert {operator_for("+62" + _sample(p)[1:]) for p in ("0831", "0832", "0833", "0838")} == {Operator.XL}


def test_three_prefixes_are_three_although_phonenumbers_names_indosat() -> None:
    # R-OP-3: phonenumbers' carrier names lag the mergers; the project table decides.
    assert parse("0895 1234 5678", allowed_countries=ID_ONLY).operator is Operator.THREE


# --- unknown operators (R-OP-3) ---------------------------------------------


@pytest.mark.parametrize("prefix", UNKNOWN_MOBILE_PREFIXES)
def test_valid_number_on_an_unknown_prefix_is_refused_for_sms(prefix: str) -> None:
    national = _sample(prefix)
    assert _phonenumbers_says_mobile(national), f"phonenumbers now rejects {national}"

    error = _refusal(national, allowed_countries=ID_ONLY)

    assert error.code == "invalid_phone_number"
    assert "unknown operator" in error.message
    assert error.details == {"to": [error.message]}


@pytest.mark.parametrize("prefix", UNKNOWN_MOBILE_PREFIXES)
def test_valid_number_on_an_unknown_prefix_has_no_operator(prefix: str) -> None:
    national = _sample(prefix)

    assert operator_for("+62" + national[1:]) is None
    assert parse(national, allowed_countries=ID_ONLY, require_operator=False).operator is None


def test_normalize_accepts_a_valid_mobile_number_on_an_unknown_prefix() -> None:
    assert normalize("0828-1234-5678", allowed_countries=ID_ONLY) == "+6282812345678"


def test_phonenumbers_mobile_08_prefixes_are_the_table_plus_the_known_unknowns() -> None:
    # Documents phonenumbers' view: if its metadata changes, R-OP-3 needs a review.
    mobile = {f"08{n:02d}" for n in range(100) if _phonenumbers_says_mobile(_sample(f"08{n:02d}"))}

    assert mobile == set(PREFIX_TABLE) | set(UNKNOWN_MOBILE_PREFIXES)
    assert not set(PREFIX_TABLE) & set(UNKNOWN_MOBILE_PREFIXES)


# --- accepted formats (R-OP-2) ----------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "081234567890",
        "6281234567890",
        "+6281234567890",
        "0812 3456 7890",
        "0812-3456-7890",
        "0812.3456.7890",
        "(0812) 3456-7890",
        "0812 - 3456 - 7890",
        "62 812 3456 7890",
        "62-812-3456-7890",
        "+62 812 3456 7890",
        "+62 812-3456-7890",
        "+62 (812) 3456.7890",
        "(+62) 812 3456 7890",
        "+62-812-3456-7890",
        "  081234567890  ",
        "+62 0812 3456 7890",  # a trunk 0 after the country code is dropped
        "+62 (0)812-3456-7890",
        "62 0812 3456 7890",
        "\t+6281234567890\n",
        "0812\u00a03456\u00a07890",
    ],
)
def test_every_accepted_format_normalizes_to_e164(raw: str) -> None:
    assert normalize(raw, allowed_countries=ID_ONLY) == "+6281234567890"


def test_parse_returns_e164_country_operator_and_national_form() -> None:
    assert parse("+62 812-3456-7890", allowed_countries=ID_ONLY) == PhoneNumber(
        e164="+6281234567890", country="ID", operator=Operator.TELKOMSEL, national="081234567890"
    )


def test_parse_result_is_immutable() -> None:
    number = parse("081234567890", allowed_countries=ID_ONLY)

    with pytest.raises(dataclasses.FrozenInstanceError):
        number.e164 = "+6281111111111"  # type: ignore[misc]


def test_normalize_is_idempotent() -> None:
    once = normalize("0812-3456-7890", allowed_countries=ID_ONLY)

    assert normalize(once, allowed_countries=ID_ONLY) == once


# --- refused input (R-OP-2) -------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        None,
        81234567890,
        6281234567890.0,
        b"081234567890",
        ["081234567890"],
        "",
        " ",
        "\n\t",
    ],
)
def test_non_string_or_empty_input_is_refused(raw: object) -> None:
    error = _refusal(raw, allowed_countries=ID_ONLY)

    assert error.code == "invalid_phone_number"
    assert error.message == "A phone number is required."


@pytest.mark.parametrize("raw", ["0" * 33, "0812 3456 7890 " * 3, "+62 812 3456 7890" + " " * 16])
def test_input_longer_than_32_characters_is_refused(raw: str) -> None:
    error = _refusal(raw, allowed_countries=ID_ONLY)

    assert error.code == "invalid_phone_number"
    assert "too long" in error.message


def test_input_of_exactly_32_characters_is_not_refused_for_its_length() -> None:
    raw = "0812 3456 7890".center(32)

    assert len(raw) == 32
    assert normalize(raw, allowed_countries=ID_ONLY) == "+6281234567890"


@pytest.mark.parametrize(
    "raw",
    [
        "0812-FLOWERS",
        "0812345678a",
        "tel:+6281234567890",
        "+6281234567890 ext 12",
        "+62+81234567890",
        "62+81234567890",
        "0812/3456/7890",
        "0812_3456_7890",
        "0812\n3456\n7890",
        "\uff0b6281234567890",  # full-width plus
        "\u0660\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660",  # Arabic-Indic digits
        "+",
        "()",
        "- . -",
    ],
)
def test_input_with_characters_other_than_digits_and_separators_is_refused(raw: str) -> None:
    error = _refusal(raw, allowed_countries=ID_ONLY)

    assert error.code == "invalid_phone_number"


@pytest.mark.parametrize("raw", ["81234567890", "8123 4567 890", "1234567890", "0062 812 3456 7890"])
def test_input_in_none_of_the_accepted_formats_is_refused(raw: str) -> None:
    error = _refusal(raw, allowed_countries=ID_ONLY)

    assert error.code == "invalid_phone_number"
    assert "08..." in error.message


@pytest.mark.parametrize(
    "raw",
    [
        "0",
        "08",
        "0812",
        "0812345",
        "08123456789012",
        "+62",
        "+62 812",
        "+0812345678901",
        "0840 1234 5678",
        "0801 2345 6789",
        "+999 1234 5678",
    ],
)
def test_invalid_numbers_are_refused(raw: str) -> None:
    error = _refusal(raw, allowed_countries=ID_ONLY)

    assert error.code == "invalid_phone_number"
    assert error.message == "This is not a valid phone number."


@pytest.mark.parametrize(
    "raw",
    [
        "021-1234-5678",  # Jakarta landline
        "(021) 2345 6789",
        "+62 21 1234 5678",
        "6221 1234 5678",
        "(022) 1234567",  # Bandung landline
        "031 1234 5678",  # Surabaya landline
        "0800 123 456",  # toll-free
    ],
)
def test_landlines_and_other_non_mobile_numbers_are_refused(raw: str) -> None:
    error = _refusal(raw, allowed_countries=ID_ONLY, require_operator=False)

    assert error.code == "invalid_phone_number"
    assert "not a mobile number" in error.message


def test_refusal_carries_the_contract_shape_for_the_to_field() -> None:
    error = _refusal("12", allowed_countries=ID_ONLY)

    assert error.status == 400
    assert error.as_dict() == {
        "error": {"code": "invalid_phone_number", "message": error.message, "details": {"to": [error.message]}}
    }


def test_normalize_refuses_like_parse() -> None:
    with pytest.raises(ServiceError) as excinfo:
        normalize("021-1234-5678", allowed_countries=ID_ONLY)

    assert excinfo.value.code == "invalid_phone_number"


# --- other countries (R-OP-2 policy: ALLOWED_COUNTRIES) ---------------------

FOREIGN_MOBILES = [
    # raw, country, e164, national
    ("+65 9123 4567", "SG", "+6591234567", "91234567"),
    ("+44 7400 123456", "GB", "+447400123456", "07400123456"),
    ("+1 (201) 555-0123", "US", "+12015550123", "2015550123"),  # FIXED_LINE_OR_MOBILE
    ("+60 12-345 6789", "MY", "+60123456789", "0123456789"),
]


@pytest.mark.parametrize(("raw", "country", "e164", "national"), FOREIGN_MOBILES)
def test_other_countries_are_refused_by_default(raw: str, country: str, e164: str, national: str) -> None:
    error = _refusal(raw, allowed_countries=ID_ONLY, require_operator=False)

    assert error.code == "invalid_phone_number"
    assert error.message == "Only Indonesian mobile numbers are accepted."


@pytest.mark.parametrize(("raw", "country", "e164", "national"), FOREIGN_MOBILES)
def test_other_countries_are_accepted_when_allowed(raw: str, country: str, e164: str, national: str) -> None:
    number = parse(raw, allowed_countries=["ID", country], require_operator=False)

    assert number == PhoneNumber(e164=e164, country=country, operator=None, national=national)
    assert normalize(raw, allowed_countries=["ID", country]) == e164


@pytest.mark.parametrize(("raw", "country", "e164", "national"), FOREIGN_MOBILES)
def test_allowed_foreign_numbers_are_refused_for_sms_pricing_without_an_operator(
    raw: str, country: str, e164: str, national: str
) -> None:
    error = _refusal(raw, allowed_countries=["ID", country])

    assert "unknown operator" in error.message


def test_refusal_names_the_allowed_countries_when_more_than_indonesia() -> None:
    error = _refusal("+65 9123 4567", allowed_countries=["ID", "MY"], require_operator=False)

    assert error.message == "Numbers from this country (SG) are not accepted; allowed: ID, MY."


def test_indonesian_numbers_are_refused_when_indonesia_is_not_allowed() -> None:
    error = _refusal("081234567890", allowed_countries=["SG"])

    assert "(ID) are not accepted" in error.message


def test_an_empty_allowed_list_refuses_every_country() -> None:
    error = _refusal("081234567890", allowed_countries=[])

    assert error.message == "Numbers from this country (ID) are not accepted; allowed: none."


def test_allowed_countries_are_case_insensitive() -> None:
    assert normalize("+65 9123 4567", allowed_countries=["id", " sg "]) == "+6591234567"


def test_a_single_country_string_means_that_country() -> None:
    assert normalize("+65 9123 4567", allowed_countries="SG") == "+6591234567"  # type: ignore[arg-type]


def test_a_foreign_number_written_nationally_is_read_as_indonesian() -> None:
    # Without "+", a leading 0 means an Indonesian national number (R-OP-2).
    with pytest.raises(ServiceError):
        parse("07400 123456", allowed_countries=["ID", "GB"], require_operator=False)


def test_allowed_countries_default_to_the_setting(settings: Settings) -> None:
    settings.ALLOWED_COUNTRIES = ["ID", "SG"]

    assert normalize("+65 9123 4567") == "+6591234567"
    assert normalize("081234567890") == "+6281234567890"


def test_the_default_setting_allows_indonesia_only(settings: Settings) -> None:
    settings.ALLOWED_COUNTRIES = ["ID"]

    assert parse("081234567890").operator is Operator.TELKOMSEL
    with pytest.raises(ServiceError):
        normalize("+65 9123 4567")


def test_the_setting_is_read_on_every_call(settings: Settings) -> None:
    settings.ALLOWED_COUNTRIES = ["ID"]
    with pytest.raises(ServiceError):
        normalize("+65 9123 4567")

    settings.ALLOWED_COUNTRIES = ["ID", "SG"]

    assert normalize("+65 9123 4567") == "+6591234567"


def test_module_works_without_django_settings_when_countries_are_passed() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    code = "from messaging.phones import normalize; print(normalize('0812-3456-7890', allowed_countries=['ID']))"

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "+6281234567890"


# --- operator_for -----------------------------------------------------------


@pytest.mark.parametrize(
    "e164",
    [
        "+6591234567",  # Singapore
        "+447400123456",
        "+622112345678",  # Jakarta landline
        "+6282812345678",  # unknown 0828
        "081234567890",  # not E.164
        "6281234567890",  # not E.164
        "+62",
        "",
        "+62 812 3456 7890",
    ],
)
def test_operator_for_returns_none_outside_the_table(e164: str) -> None:
    assert operator_for(e164) is None


# --- Operator ---------------------------------------------------------------


def test_operator_values_are_the_price_list_operator_names() -> None:
    assert [operator.value for operator in Operator] == ["telkomsel", "xl", "indosat", "three", "smartfren"]


def test_operator_values_match_the_price_list_csv() -> None:
    with PRICE_LIST_CSV.open(newline="", encoding="utf-8") as handle:
        sms_operators = {row["operator"] for row in csv.DictReader(handle) if row["channel"] == "sms"}

    assert sms_operators == {operator.value for operator in Operator}


@pytest.mark.parametrize(
    ("operator", "label"),
    [
        (Operator.TELKOMSEL, "Telkomsel"),
        (Operator.XL, "XL-Axiata"),
        (Operator.INDOSAT, "Indosat"),
        (Operator.THREE, "Three"),
        (Operator.SMARTFREN, "Smartfren"),
    ],
)
def test_each_operator_has_a_display_label(operator: Operator, label: str) -> None:
    assert operator.label == label


def test_operator_compares_equal_to_its_string_value() -> None:
    assert Operator.XL == "xl"
    assert Operator("smartfren") is Operator.SMARTFREN
    assert f"{Operator.THREE}" == "three"


# --- mask -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+6281234567890", "+62812****7890"),
        ("+628123456789", "+6281****6789"),
        ("+62811123456789", "+62811*****6789"),
        ("+62811123456", "+628****3456"),
        ("+6591234567", "+65****4567"),
        ("+447400123456", "+4474****3456"),
        ("+1234567", "+*******"),
        ("", "+"),
    ],
)
def test_mask_hides_the_middle_digits(e164: str, masked: str) -> None:
    assert mask(e164) == masked


@pytest.mark.parametrize(("prefix", "operator"), RULE_PREFIXES)
def test_mask_keeps_length_and_last_four_digits_and_hides_at_least_four(prefix: str, operator: Operator) -> None:
    for national_length in VALID_NATIONAL_LENGTHS:
        e164 = "+62" + _sample(prefix, national_length)[1:]

        masked = mask(e164)

        assert len(masked) == len(e164)
        assert masked[-4:] == e164[-4:]
        assert masked.count("*") >= 4
