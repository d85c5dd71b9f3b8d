"""Counting what is billed (R-SEG): encoding, weighted length, units.

Pure tests: no database.
"""

from __future__ import annotations

import dataclasses

import pytest

from messaging.encoding import (
    GSM7_BASIC,
    GSM7_BASIC_TABLE,
    GSM7_EXTENSION,
    R_SEG_2_SPECIALS,
    Measure,
    is_gsm7,
    measure,
)

# R-SEG-2 exactly as domain-rules.md writes it.
RULE_R_SEG_2_LIST = r"~ ! @ # $ % & * ( ) _ = \ - { } [ ] : ; ' < > ? , . /"
RULE_R_SEG_2_EXTENSION = ["^", "|", "€"]
DOUBLE_WEIGHT = set(RULE_R_SEG_2_LIST.split()) | set(RULE_R_SEG_2_EXTENSION) | {"\f"}
SINGLE_WEIGHT_GSM = sorted(GSM7_BASIC - DOUBLE_WEIGHT)

NON_GSM = "Ж"  # Cyrillic: one UTF-16 unit, outside GSM 03.38
EMOJI = "😀"  # outside the BMP: a surrogate pair, two UTF-16 units
WHATSAPP_CHANNELS = ["wa", "wa_official"]


# --- worked examples (R-SEG) ------------------------------------------------


def test_kode_otp_anda_is_20_characters_and_1_sms() -> None:
    assert measure("Kode OTP Anda 123456", "sms") == Measure(encoding="gsm7", length=20, units=1)


def test_kode_with_colon_and_full_stop_weighs_15_and_is_1_sms() -> None:
    # R-SEG-2: ":" and "." count 2 each.
    assert measure("Kode: 123456.", "sms") == Measure(encoding="gsm7", length=15, units=1)


def test_100_letters_and_31_commas_weigh_162_and_are_2_sms() -> None:
    text = "a" * 100 + "," * 31

    assert len(text) == 131
    assert measure(text, "sms") == Measure(encoding="gsm7", length=162, units=2)


# --- R-SEG-2 weights --------------------------------------------------------


def test_specials_constant_is_exactly_the_r_seg_2_list() -> None:
    assert list(R_SEG_2_SPECIALS) == RULE_R_SEG_2_LIST.split()
    assert len(set(R_SEG_2_SPECIALS)) == len(R_SEG_2_SPECIALS) == 27


@pytest.mark.parametrize("char", list(R_SEG_2_SPECIALS))
def test_each_r_seg_2_special_counts_2(char: str) -> None:
    assert measure(char, "sms") == Measure(encoding="gsm7", length=2, units=1)
    assert measure(f"a{char}b", "sms").length == 4


@pytest.mark.parametrize("char", RULE_R_SEG_2_EXTENSION)
def test_each_gsm_extension_character_named_by_r_seg_2_counts_2(char: str) -> None:
    assert measure(char, "sms") == Measure(encoding="gsm7", length=2, units=1)
    assert measure(f"OTP{char}1", "sms").length == 6


def test_form_feed_the_last_extension_character_counts_2_like_the_others() -> None:
    assert measure("\f", "sms") == Measure(encoding="gsm7", length=2, units=1)


def test_every_extension_character_counts_2() -> None:
    assert all(measure(char, "sms").length == 2 for char in GSM7_EXTENSION)


@pytest.mark.parametrize("char", SINGLE_WEIGHT_GSM)
def test_every_other_gsm_character_counts_1(char: str) -> None:
    assert measure(char, "sms") == Measure(encoding="gsm7", length=1, units=1)


@pytest.mark.parametrize("char", ['"', "+", "¤", "£", "¥", "§", "¡", "¿", " ", "\n", "\r", "É", "ü", "Δ"])
def test_gsm_punctuation_not_listed_in_r_seg_2_counts_1(char: str) -> None:
    assert measure(char, "sms").length == 1


def test_weighted_length_adds_one_per_special() -> None:
    text = "Kode OTP: 123-456 (berlaku 5 menit), jangan berikan ke siapa pun!"
    specials = sum(1 for char in text if char in DOUBLE_WEIGHT)

    assert specials == 6
    assert measure(text, "sms").length == len(text) + specials


# --- R-SEG-1 boundaries (GSM-7) ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "length", "units"),
    [
        ("a", 1, 1),
        ("a" * 160, 160, 1),
        ("a" * 161, 161, 2),
        ("a" * 320, 320, 2),
        ("a" * 321, 321, 3),
        ("a" * 480, 480, 3),
        ("a" * 481, 481, 4),
        ("," * 80, 160, 1),
        ("," * 80 + "a", 161, 2),
        ("a" * 159 + ",", 161, 2),  # 160 characters, but weighs 161
        ("€" * 80, 160, 1),
        ("^" * 81, 162, 2),
        ("," * 160, 320, 2),
        ("," * 160 + "a", 321, 3),
        ("a" * 318 + "{", 320, 2),
        ("a" * 319 + "}", 321, 3),
    ],
)
def test_gsm7_sms_is_billed_per_160_weighted_characters(text: str, length: int, units: int) -> None:
    assert measure(text, "sms") == Measure(encoding="gsm7", length=length, units=units)


# --- R-SEG-3 (UCS-2) --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length", "units"),
    [
        (NON_GSM, 1, 1),
        (NON_GSM * 70, 70, 1),
        (NON_GSM * 71, 71, 2),
        (NON_GSM * 134, 134, 2),
        (NON_GSM * 135, 135, 3),
        (NON_GSM * 201, 201, 3),
        (NON_GSM * 202, 202, 4),
        (NON_GSM + "a" * 69, 70, 1),
        (NON_GSM + "a" * 70, 71, 2),
    ],
)
def test_ucs2_sms_is_1_up_to_70_then_per_67(text: str, length: int, units: int) -> None:
    assert measure(text, "sms") == Measure(encoding="ucs2", length=length, units=units)


def test_ucs2_does_not_weight_the_r_seg_2_specials() -> None:
    assert measure(NON_GSM + "," * 69, "sms") == Measure(encoding="ucs2", length=70, units=1)
    assert measure(NON_GSM + "€^|{}", "sms").length == 6


@pytest.mark.parametrize(
    "text",
    [
        "Kode OTP Anda 123456 " + EMOJI,
        "رمز التحقق 123456",  # Arabic
        "验证码 123456",  # Chinese
        "ç",  # lower-case c cedilla is not in the GSM default alphabet
        "Kode\u00a0OTP",  # no-break space
        "Kode OTP`",  # backtick
    ],
)
def test_any_character_outside_gsm_makes_the_sms_ucs2(text: str) -> None:
    assert measure(text, "sms").encoding == "ucs2"


def test_an_emoji_counts_as_two_utf16_units() -> None:
    assert measure(EMOJI, "sms") == Measure(encoding="ucs2", length=2, units=1)


def test_35_emoji_fit_one_ucs2_sms_and_one_more_character_does_not() -> None:
    assert measure(EMOJI * 35, "sms") == Measure(encoding="ucs2", length=70, units=1)
    assert measure(EMOJI * 35 + "a", "sms") == Measure(encoding="ucs2", length=71, units=2)


def test_an_otp_with_an_emoji_counts_utf16_units() -> None:
    text = "Kode OTP Anda 123456 " + EMOJI

    assert measure(text, "sms") == Measure(encoding="ucs2", length=23, units=1)


# --- R-SEG-4 (WhatsApp) -----------------------------------------------------


@pytest.mark.parametrize("channel", WHATSAPP_CHANNELS)
@pytest.mark.parametrize(
    ("text", "encoding", "length"),
    [
        ("Kode OTP Anda 123456", "gsm7", 20),
        ("a" * 1000, "gsm7", 1000),
        ("," * 500, "gsm7", 1000),
        (NON_GSM * 500, "ucs2", 500),
        (EMOJI * 100, "ucs2", 200),
    ],
)
def test_whatsapp_is_always_1_unit_whatever_the_length(channel: str, text: str, encoding: str, length: int) -> None:
    assert measure(text, channel) == Measure(encoding=encoding, length=length, units=1)  # type: ignore[arg-type]


# --- channels and empty text ------------------------------------------------


@pytest.mark.parametrize("channel", ["", "SMS", "whatsapp", "email", "wa-official", " sms"])
def test_an_unknown_channel_is_a_value_error(channel: str) -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        measure("Kode OTP Anda 123456", channel)


@pytest.mark.parametrize("channel", ["sms", *WHATSAPP_CHANNELS])
def test_empty_text_measures_zero_units(channel: str) -> None:
    assert measure("", channel) == Measure(encoding="gsm7", length=0, units=0)


def test_measure_is_immutable() -> None:
    result = measure("Kode OTP Anda 123456", "sms")

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.units = 0  # type: ignore[misc]


# --- is_gsm7 and the tables -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("Kode OTP Anda 123456", True),
        ("Harga €5 ^_^ {ok} [ya] \\ | ~", True),
        ("Åå Øø Ææ ß É Ñ ñ Ü ü à ì ò ù è é Ç", True),
        ("ΔΦΓΛΩΠΨΣΘΞ", True),
        ("line\nbreak\r\n", True),
        (EMOJI, False),
        (NON_GSM, False),
        ("ç", False),
        ("\x1b", False),  # the escape code is not a character
        ("`", False),
        ("\t", False),
    ],
)
def test_is_gsm7_accepts_only_basic_and_extension_characters(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


def test_basic_alphabet_has_128_codes_with_the_escape_at_0x1b() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    assert GSM7_BASIC_TABLE[0x1B] == "\x1b"
    assert len(set(GSM7_BASIC_TABLE)) == 128
    assert set(GSM7_BASIC_TABLE) - {"\x1b"} == GSM7_BASIC


@pytest.mark.parametrize(
    ("code", "char"),
    [(0x00, "@"), (0x02, "$"), (0x11, "_"), (0x24, "¤"), (0x40, "¡"), (0x5B, "Ä"), (0x60, "¿"), (0x7F, "à")],
)
def test_basic_alphabet_is_in_gsm_03_38_code_order(code: int, char: str) -> None:
    assert GSM7_BASIC_TABLE[code] == char


def test_extension_table_is_the_gsm_03_38_extension_set() -> None:
    assert set("\f^{}\\[~]|€") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_r_seg_2_specials_are_all_gsm_characters() -> None:
    assert is_gsm7(R_SEG_2_SPECIALS)
