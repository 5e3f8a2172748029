"""Tests for hub.identifiers: every DOMAIN.md vector (§1 NHS, §2 UPN, §4 PNC) plus properties.

The check digits and letters in the property tests are computed here, from the
algorithms as DOMAIN.md states them, not with the module under test.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import string
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.identifiers import (
    AGENCY_SYSTEM_PREFIX,
    NHS_NUMBER_SYSTEM,
    PNC_SYSTEM,
    UPN_SYSTEM,
    Identifier,
    IdentifierErrorCode,
    InvalidIdentifier,
    agency_system,
    format_nhs_number,
    is_temporary_upn,
    normalise,
    normalise_agency_code,
    normalise_agency_local_id,
    normalise_nhs_number,
    normalise_pnc_id,
    normalise_postcode,
    normalise_upn,
    parse_identifier,
    postcode_district,
    postcode_sector,
    resolve_system,
)

# More examples than the default: these properties are cheap and guard the checksums.
PROPERTY = settings(max_examples=300)

TODAY = date(2025, 11, 25)


# Independent reference implementations ----------------------------------------------


def nhs_check_digit(first_nine: str) -> int | None:
    """DOMAIN.md §1 steps 1-3 as written: None where c = 10 (never issued)."""
    total = sum(int(d) * w for d, w in zip(first_nine, [10, 9, 8, 7, 6, 5, 4, 3, 2], strict=True))
    c = 11 - (total % 11)
    if c == 11:
        return 0
    if c == 10:
        return None
    return c


# DOMAIN.md §2's table, as printed there.
UPN_VALUES = {
    "A": 0, "B": 1, "C": 2, "D": 3, "E": 4, "F": 5, "G": 6, "H": 7, "J": 8, "K": 9, "L": 10,
    "M": 11, "N": 12, "P": 13, "Q": 14, "R": 15, "T": 16, "U": 17, "V": 18, "W": 19, "X": 20,
    "Y": 21, "Z": 22,
}  # fmt: skip
UPN_LETTERS_BY_VALUE = {value: letter for letter, value in UPN_VALUES.items()}


def upn_check_letter(rest: str) -> str:
    """DOMAIN.md §2: characters 2..13 weighted 2..13, a final letter by its table value."""
    total = 0
    for position in range(2, 14):
        char = rest[position - 2]
        total += position * (UPN_VALUES[char] if char.isalpha() else int(char))
    return UPN_LETTERS_BY_VALUE[total % 23]


def pnc_check_letter(year: int, serial: int) -> str:
    """DOMAIN.md §4: int(YY + 7-digit serial) mod 23 into the PNC table."""
    return "ZABCDEFGHJKLMNPQRTUVWXY"[int(f"{year % 100:02d}{serial:07d}") % 23]


def test_reference_implementations_match_domain_worked_examples() -> None:
    assert nhs_check_digit("943476591") == 9
    assert nhs_check_digit("999000000") is None
    assert nhs_check_digit("999000005") == 0
    assert upn_check_letter("801200005001") == "B"
    assert upn_check_letter("207000016049") == "P"
    assert upn_check_letter("80120000500A") == "M"
    assert pnc_check_letter(2004, 12345) == "D"


# NHS number: DOMAIN.md §1 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9434765919", "9434765919"),
        ("943 476 5919", "9434765919"),
        ("943-476-5919", "9434765919"),
        ("9876544322", "9876544322"),
        ("9000000009", "9000000009"),
        ("9990000018", "9990000018"),
        ("9990000026", "9990000026"),
        ("9990000050", "9990000050"),
        ("  943 476 5919\n", "9434765919"),
        ("943 476-5919", "9434765919"),
        ("943\u2013476\u20135919", "9434765919"),  # en dashes, as pasted from a letter
        ("943\u00a0476\u00a05919", "9434765919"),  # non-breaking spaces
    ],
)
def test_nhs_number_valid_vectors(raw: str, expected: str) -> None:
    assert normalise_nhs_number(raw) == expected


@pytest.mark.parametrize("raw", ["9434765910", "4934765919"])
def test_nhs_number_bad_check_digit_and_swap_rejected(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_nhs_number(raw)
    assert caught.value.code == "nhs-number-checksum"


@pytest.mark.parametrize(
    "raw",
    [f"999000000{d}" for d in range(10)]
    + [f"999000014{d}" for d in range(10)]
    + [f"999000028{d}" for d in range(10)],
)
def test_nhs_number_where_c_is_10_no_check_digit_is_valid(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_nhs_number(raw)
    assert caught.value.code == "nhs-number-checksum"


@pytest.mark.parametrize("digit", string.digits)
def test_nhs_number_all_same_digit_rejected_although_checksum_passes(digit: str) -> None:
    number = digit * 10
    assert nhs_check_digit(number[:9]) == int(digit)  # the trap: the checksum alone accepts it
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_nhs_number(number)
    assert caught.value.code == "nhs-number-placeholder"


def test_nhs_number_zeros_rejected_in_any_spelling() -> None:
    for raw in ("0000000000", "000 000 0000", "000-000-0000"):
        with pytest.raises(InvalidIdentifier):
            normalise_nhs_number(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "943476591",
        "94347659190",
        "943476591X",
        "943.476.5919",
        "943/476/5919",
        "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",  # full-width digits
        "\u0669\u0664\u0663\u0664\u0667\u0666\u0665\u0669\u0661\u0669",  # Arabic-Indic digits
        "9434765919\n9434765919",
    ],
)
def test_nhs_number_bad_format_rejected(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_nhs_number(raw)
    assert caught.value.code == "nhs-number-format"


def test_nhs_number_checksum_message_is_for_practitioners() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_nhs_number("9434765910")
    assert str(caught.value) == (
        "The NHS number 943 476 5910 fails its check digit: check it was typed correctly."
    )
    assert caught.value.message == str(caught.value)


def test_format_nhs_number_spaces_three_three_four() -> None:
    assert format_nhs_number("943-476-5919") == "943 476 5919"


# UPN: DOMAIN.md §2 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("B801200005001", "B801200005001"),
        ("b801200005001", "B801200005001"),
        ("P207000016049", "P207000016049"),  # the Arbor trap: the true sum is 266, not 267
        ("M80120000500A", "M80120000500A"),
        ("m80120000500a", "M80120000500A"),
        (" B801200005001 ", "B801200005001"),
        ("W839200005001", "W839200005001"),  # LA 839: stdnum.gb.upn's 2011 list rejects it
        ("J001000025123", "J001000025123"),  # pseudo-LA 001 (census rule 1530)
    ],
)
def test_upn_valid_vectors(raw: str, expected: str) -> None:
    assert normalise_upn(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("A801200005001", "upn-check-letter"),
        ("Q207000016049", "upn-check-letter"),  # what the Arbor help page answers
        ("X80120000A001", "upn-format"),
        ("", "upn-format"),
        ("B80120000500", "upn-format"),
        ("B8012000050011", "upn-format"),
        ("8801200005001", "upn-format"),
        ("B80120000500-", "upn-format"),
        ("B 801200005001", "upn-format"),
        ("I801200005001", "upn-format"),
        ("O801200005001", "upn-format"),
        ("S801200005001", "upn-format"),
        ("M80120000500I", "upn-format"),
        ("M80120000500O", "upn-format"),
        ("M80120000500S", "upn-format"),
    ],
)
def test_upn_invalid_vectors(raw: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_upn(raw)
    assert caught.value.code == code


def test_upn_check_letter_message_names_the_upn() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_upn("q207000016049")
    assert str(caught.value) == (
        "The UPN Q207000016049 fails its check letter: check it was typed correctly."
    )


def test_is_temporary_upn() -> None:
    assert is_temporary_upn("M80120000500A")
    assert is_temporary_upn("m80120000500a")
    assert not is_temporary_upn("B801200005001")
    with pytest.raises(InvalidIdentifier):
        is_temporary_upn("A801200005001")


# PNC ID: DOMAIN.md §4 and MoJ's PNCIdentifierTest ---------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("04/12345D", "2004/0012345D"),
        ("79/163001B", "1979/0163001B"),
        ("99/1G", "1999/0000001G"),
        ("2021/1234567P", "2021/1234567P"),
        ("81/34U", "1981/0000034U"),
        ("02/73319Z", "2002/0073319Z"),
        ("00/223R", "2000/0000223R"),
        ("0273319Z", "2002/0073319Z"),
        ("79163001B", "1979/0163001B"),
        ("033Y", "2003/0000003Y"),
        ("67/9893091D", "1967/9893091D"),
        ("20020073319Z", "2002/0073319Z"),
        ("19790163001B", "1979/0163001B"),
        ("1979/0163001B", "1979/0163001B"),
        ("2004/12345D", "2004/0012345D"),
        ("04/0012345D", "2004/0012345D"),
        (" 04/12345d ", "2004/0012345D"),
    ],
)
def test_pnc_id_valid_vectors(raw: str, expected: str) -> None:
    assert normalise_pnc_id(raw, TODAY) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("2004/0012345E", "pnc-id-check-letter"),
        ("20030011985Z", "pnc-id-check-letter"),
        ("20120052494O", "pnc-id-check-letter"),
        ("20230583843N", "pnc-id-check-letter"),
        ("2001/0171310S", "pnc-id-check-letter"),
        ("", "pnc-id-format"),
        ("TOTALLYINVALID", "pnc-id-format"),
        ("1X23/1234567A", "pnc-id-format"),
        ("1923[1234567A", "pnc-id-format"),
        ("1923/1Z34567A", "pnc-id-format"),
        ("1923/1234567AA", "pnc-id-format"),
        ("1923/12345678A", "pnc-id-format"),
        ("123/12345D", "pnc-id-format"),
        ("04/D", "pnc-id-format"),
        ("0412345", "pnc-id-format"),
        ("2004012345D", "pnc-id-format"),  # 10 digits: neither short nor long
        ("04//12345D", "pnc-id-format"),
        ("2079/0163001B", "pnc-id-year"),  # a mistyped century the check letter cannot catch
        ("1879/0163001B", "pnc-id-year"),
    ],
)
def test_pnc_id_invalid_vectors(raw: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_pnc_id(raw, TODAY)
    assert caught.value.code == code


def test_pnc_id_two_digit_year_expands_against_today() -> None:
    new_year = date(2025, 1, 1)
    assert normalise_pnc_id(f"25/1{pnc_check_letter(2025, 1)}", new_year) == (
        f"2025/0000001{pnc_check_letter(2025, 1)}"
    )
    assert normalise_pnc_id(f"26/1{pnc_check_letter(1926, 1)}", new_year) == (
        f"1926/0000001{pnc_check_letter(1926, 1)}"
    )


def test_pnc_id_long_form_year_this_year_accepted_next_year_refused() -> None:
    this_year = f"2025/0000001{pnc_check_letter(2025, 1)}"
    next_year = f"2026/0000001{pnc_check_letter(2026, 1)}"
    assert normalise_pnc_id(this_year, TODAY) == this_year
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_pnc_id(next_year, TODAY)
    assert caught.value.code == "pnc-id-year"


def test_pnc_id_defaults_to_the_current_date() -> None:
    assert normalise_pnc_id("04/12345D") == "2004/0012345D"
    assert normalise_pnc_id("2021/1234567P") == "2021/1234567P"


# Postcodes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SW1A 1AA", "SW1A 1AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("  EC1A  1BB ", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
        ("M1 1AE", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("N1C 4AG", "N1C 4AG"),
        ("LS1 4AP", "LS1 4AP"),
        ("le1\t6zg", "LE1 6ZG"),
        ("GIR 0AA", "GIR 0AA"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_postcode_valid(raw: str, expected: str) -> None:
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "SW1A",
        "SW1A 1A",
        "SW1A 1AAA",
        "SW1A-1AA",
        "12345",
        "QA1 1AA",  # Q never first
        "VA1 1AA",  # V never first
        "XA1 1AA",  # X never first
        "AI1 1AA",  # I never second
        "W1Q 1AA",  # Q never third in A9A
        "SW1C 1AA",  # C never fourth in AA9A
        "SW1A 1CA",  # C never in the inward code
        "SW1A 1AV",  # V never in the inward code
        "GIR 0AB",
        "SW1A 1AA X",
    ],
)
def test_postcode_invalid(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_postcode(raw)
    assert caught.value.code == "postcode-format"


def test_postcode_sector_and_district() -> None:
    assert postcode_sector("sw1a1aa") == "SW1A 1"
    assert postcode_district("sw1a1aa") == "SW1A"
    assert postcode_sector("M1 1AE") == "M1 1"
    assert postcode_district("M1 1AE") == "M1"
    assert postcode_sector("GIR 0AA") == "GIR 0"
    assert postcode_district("GIR 0AA") == "GIR"
    with pytest.raises(InvalidIdentifier):
        postcode_sector("not a postcode")


# Agencies, systems, parse_identifier ---------------------------------------------------------


def test_system_constants() -> None:
    assert NHS_NUMBER_SYSTEM == "https://fhir.nhs.uk/Id/nhs-number"
    assert UPN_SYSTEM == "urn:ehh:upn"
    assert PNC_SYSTEM == "urn:ehh:pnc-id"
    assert AGENCY_SYSTEM_PREFIX == "urn:ehh:agency:"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("LEEDS-CS", "urn:ehh:agency:LEEDS-CS"),
        (" leeds-cs ", "urn:ehh:agency:LEEDS-CS"),
        ("W1", "urn:ehh:agency:W1"),
        ("A" * 32, "urn:ehh:agency:" + "A" * 32),
    ],
)
def test_agency_system(code: str, expected: str) -> None:
    assert agency_system(code) == expected


@pytest.mark.parametrize("code", ["", "A", "A" * 33, "LEEDS CS", "LEEDS_CS", "LÉEDS", "A/B"])
def test_agency_code_invalid(code: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_agency_code(code)
    assert caught.value.code == "agency-code-format"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12345", "12345"), ("  CASE/2024/001 ", "CASE/2024/001"), ("x" * 64, "x" * 64)],
)
def test_agency_local_id_valid(raw: str, expected: str) -> None:
    assert normalise_agency_local_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "x" * 65, "12\x0034", "12\t34", "12\u200b34"])
def test_agency_local_id_invalid(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_agency_local_id(raw)
    assert caught.value.code == "identifier-format"


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("nhs|9434765919", Identifier(NHS_NUMBER_SYSTEM, "9434765919")),
        ("NHS|943 476 5919", Identifier(NHS_NUMBER_SYSTEM, "9434765919")),
        ("nhs-number|943-476-5919", Identifier(NHS_NUMBER_SYSTEM, "9434765919")),
        ("NHS-Number|9434765919", Identifier(NHS_NUMBER_SYSTEM, "9434765919")),
        (
            "https://fhir.nhs.uk/Id/nhs-number|9434765919",
            Identifier(NHS_NUMBER_SYSTEM, "9434765919"),
        ),
        (" nhs | 943 476 5919 ", Identifier(NHS_NUMBER_SYSTEM, "9434765919")),
        ("upn|b801200005001", Identifier(UPN_SYSTEM, "B801200005001")),
        ("UPN|M80120000500A", Identifier(UPN_SYSTEM, "M80120000500A")),
        ("urn:ehh:upn|P207000016049", Identifier(UPN_SYSTEM, "P207000016049")),
        ("pnc|04/12345D", Identifier(PNC_SYSTEM, "2004/0012345D")),
        ("urn:ehh:pnc-id|2021/1234567P", Identifier(PNC_SYSTEM, "2021/1234567P")),
        ("agency:leeds-cs|  C-123 ", Identifier("urn:ehh:agency:LEEDS-CS", "C-123")),
        ("AGENCY:LEEDS-CS|C-123", Identifier("urn:ehh:agency:LEEDS-CS", "C-123")),
        ("urn:ehh:agency:leeds-cs|C-123", Identifier("urn:ehh:agency:LEEDS-CS", "C-123")),
        ("agency:LEEDS-CS|a|b", Identifier("urn:ehh:agency:LEEDS-CS", "a|b")),
    ],
)
def test_parse_identifier_valid(token: str, expected: Identifier) -> None:
    assert parse_identifier(token, today=TODAY) == expected


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("9434765919", "identifier-format"),
        ("nhs 9434765919", "identifier-format"),
        ("", "identifier-format"),
        ("|9434765919", "identifier-format"),
        ("  |9434765919", "identifier-format"),
        ("nhs|", "identifier-format"),
        ("nhs|   ", "identifier-format"),
        ("|", "identifier-format"),
        ("chi|0101001234", "unknown-identifier-system"),
        ("http://fhir.nhs.uk/Id/nhs-number|9434765919", "unknown-identifier-system"),
        ("agency|123", "unknown-identifier-system"),
        ("nhs|9434765910", "nhs-number-checksum"),
        ("nhs|0000000000", "nhs-number-placeholder"),
        ("nhs|94347659", "nhs-number-format"),
        ("upn|Q207000016049", "upn-check-letter"),
        ("upn|X80120000A001", "upn-format"),
        ("pnc|2004/0012345E", "pnc-id-check-letter"),
        ("agency:X|123", "agency-code-format"),
        ("agency:|123", "agency-code-format"),
        ("agency:LEEDS-CS|" + "x" * 65, "identifier-format"),
        ("agency:LEEDS-CS|a\x07b", "identifier-format"),
    ],
)
def test_parse_identifier_invalid(token: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_identifier(token, today=TODAY)
    assert caught.value.code == code
    assert str(caught.value)  # always a message for the practitioner


def test_parse_identifier_missing_pipe_message_is_clear() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_identifier("9434765919")
    assert "system|value" in str(caught.value)


def test_parse_identifier_unknown_system_message_lists_the_choices() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_identifier("chi|0101001234")
    message = str(caught.value)
    assert '"chi"' in message
    assert "nhs, upn, pnc, agency:CODE" in message
    assert "0101001234" not in message


@pytest.mark.parametrize(
    ("system", "value", "expected"),
    [
        (NHS_NUMBER_SYSTEM, "943 476 5919", Identifier(NHS_NUMBER_SYSTEM, "9434765919")),
        ("nhs", "9434765919", Identifier(NHS_NUMBER_SYSTEM, "9434765919")),
        (UPN_SYSTEM, "b801200005001", Identifier(UPN_SYSTEM, "B801200005001")),
        (PNC_SYSTEM, "79/163001B", Identifier(PNC_SYSTEM, "1979/0163001B")),
        (agency_system("leeds-cs"), "C1", Identifier("urn:ehh:agency:LEEDS-CS", "C1")),
    ],
)
def test_normalise(system: str, value: str, expected: Identifier) -> None:
    assert normalise(system, value, today=TODAY) == expected


def test_resolve_system_is_case_insensitive() -> None:
    assert resolve_system("HTTPS://FHIR.NHS.UK/Id/NHS-NUMBER") == NHS_NUMBER_SYSTEM
    assert resolve_system(" Pnc ") == PNC_SYSTEM
    with pytest.raises(InvalidIdentifier) as caught:
        resolve_system("urn:ehh:unknown")
    assert caught.value.code == "unknown-identifier-system"


def test_identifier_is_frozen_and_hashable() -> None:
    identifier = Identifier(NHS_NUMBER_SYSTEM, "9434765919")
    with pytest.raises(AttributeError):
        identifier.value = "9876544322"  # type: ignore[misc]
    assert {identifier, Identifier(NHS_NUMBER_SYSTEM, "9434765919")} == {identifier}
    assert identifier.token == "https://fhir.nhs.uk/Id/nhs-number|9434765919"


# The error type ------------------------------------------------------------------------------


def test_invalid_identifier_is_a_value_error_and_pickles() -> None:
    error = InvalidIdentifier(IdentifierErrorCode.UPN_FORMAT, "The UPN x is not in UPN form.")
    assert isinstance(error, ValueError)
    assert error.code == "upn-format"
    assert type(error.code) is str
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.code, str(copy)) == ("upn-format", "The UPN x is not in UPN form.")


def test_messages_echo_only_a_sanitised_offending_value() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_nhs_number("12\x1b[31m34")
    message = str(caught.value)
    assert "\x1b" not in message
    assert "12?[31m34" in message
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_upn("Z" * 10_000)
    assert len(str(caught.value)) < 300


def test_nothing_is_logged_or_printed(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    calls: list[Callable[[], object]] = [
        lambda: normalise_nhs_number("9434765910"),
        lambda: normalise_nhs_number("9434765919"),
        lambda: normalise_upn("Q207000016049"),
        lambda: normalise_pnc_id("2004/0012345E"),
        lambda: normalise_postcode("nope"),
        lambda: parse_identifier("chi|1"),
        lambda: parse_identifier("agency:LEEDS-CS|1"),
    ]
    for call in calls:
        with contextlib.suppress(InvalidIdentifier):
            call()
    assert caplog.records == []
    assert capsys.readouterr() == ("", "")


# Properties --------------------------------------------------------------------------------


@st.composite
def valid_nhs_numbers(draw: st.DrawFn) -> str:
    """A 10-digit NHS number with a correct check digit, never a placeholder."""
    first_nine = draw(st.text(alphabet=string.digits, min_size=9, max_size=9))
    check = nhs_check_digit(first_nine)
    assume(check is not None)
    number = f"{first_nine}{check}"
    assume(len(set(number)) > 1)
    return number


@PROPERTY
@given(valid_nhs_numbers())
def test_valid_nhs_numbers_normalise_to_themselves_in_every_form(number: str) -> None:
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    hyphenated = f"{number[:3]}-{number[3:6]}-{number[6:]}"
    for form in (number, spaced, hyphenated):
        assert normalise_nhs_number(form) == number
    assert parse_identifier(f"nhs|{spaced}").value == number


@PROPERTY
@given(valid_nhs_numbers(), st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_change_to_an_nhs_number_is_rejected(
    number: str, position: int, shift: int
) -> None:
    changed_digit = str((int(number[position]) + shift) % 10)
    changed = number[:position] + changed_digit + number[position + 1 :]
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_nhs_number(changed)
    assert caught.value.code == "nhs-number-checksum"


@PROPERTY
@given(valid_nhs_numbers(), st.integers(0, 8))
def test_any_adjacent_transposition_in_an_nhs_number_is_rejected(
    number: str, position: int
) -> None:
    assume(number[position] != number[position + 1])
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_nhs_number(swapped)
    assert caught.value.code == "nhs-number-checksum"


@st.composite
def valid_upns(draw: st.DrawFn) -> str:
    """A permanent or temporary UPN with the check letter computed here."""
    digits = draw(st.text(alphabet=string.digits, min_size=11, max_size=11))
    last = draw(st.sampled_from(string.digits + "".join(UPN_VALUES)))
    rest = digits + last
    return upn_check_letter(rest) + rest


@PROPERTY
@given(valid_upns())
def test_valid_upns_normalise_to_themselves(upn: str) -> None:
    assert normalise_upn(upn) == upn
    assert normalise_upn(upn.lower()) == upn
    assert is_temporary_upn(upn) == upn[-1].isalpha()


@PROPERTY
@given(valid_upns())
def test_a_upn_with_any_other_check_letter_is_rejected(upn: str) -> None:
    for letter in string.ascii_uppercase:
        if letter == upn[0]:
            continue
        with pytest.raises(InvalidIdentifier) as caught:
            normalise_upn(letter + upn[1:])
        expected = "upn-format" if letter in "IOS" else "upn-check-letter"
        assert caught.value.code == expected


@PROPERTY
@given(st.integers(1926, 2025), st.integers(0, 9_999_999))
def test_pnc_ids_normalise_from_short_and_long_forms(year: int, serial: int) -> None:
    letter = pnc_check_letter(year, serial)
    stored = f"{year}/{serial:07d}{letter}"
    short = f"{year % 100:02d}/{serial}{letter}"
    for form in (stored, stored.replace("/", ""), short, short.replace("/", "")):
        assert normalise_pnc_id(form, TODAY) == stored
    for other in "ZABCDEFGHJKLMNPQRTUVWXY".replace(letter, ""):
        with pytest.raises(InvalidIdentifier):
            normalise_pnc_id(stored[:-1] + other, TODAY)


@PROPERTY
@given(valid_nhs_numbers())
def test_identifier_token_round_trips(number: str) -> None:
    identifier = normalise("nhs", number)
    assert parse_identifier(identifier.token) == identifier
