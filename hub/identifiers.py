"""Validate and normalise the identifiers the hub links children's records by.

Every identifier that enters the hub passes through here, so that each number
has one spelling and a mistyped number is refused rather than linked to the
wrong child. Nothing here logs or prints: the values are personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

from stdnum.gb import nhs as _stdnum_nhs

__all__ = [
    "AGENCY_SYSTEM_PREFIX",
    "NHS_NUMBER_SYSTEM",
    "PNC_SYSTEM",
    "UPN_SYSTEM",
    "Identifier",
    "IdentifierErrorCode",
    "InvalidIdentifier",
    "agency_system",
    "format_nhs_number",
    "is_temporary_upn",
    "normalise",
    "normalise_agency_code",
    "normalise_agency_local_id",
    "normalise_nhs_number",
    "normalise_pnc_id",
    "normalise_postcode",
    "normalise_upn",
    "parse_identifier",
    "postcode_district",
    "postcode_sector",
    "resolve_system",
]

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
UPN_SYSTEM: Final = "urn:ehh:upn"
PNC_SYSTEM: Final = "urn:ehh:pnc-id"
AGENCY_SYSTEM_PREFIX: Final = "urn:ehh:agency:"


class IdentifierErrorCode(StrEnum):
    """Stable machine codes for identifier errors; API clients branch on these, so never rename."""

    NHS_NUMBER_FORMAT = "nhs-number-format"
    NHS_NUMBER_CHECKSUM = "nhs-number-checksum"
    NHS_NUMBER_PLACEHOLDER = "nhs-number-placeholder"
    UPN_FORMAT = "upn-format"
    UPN_CHECK_LETTER = "upn-check-letter"
    PNC_ID_FORMAT = "pnc-id-format"
    PNC_ID_CHECK_LETTER = "pnc-id-check-letter"
    PNC_ID_YEAR = "pnc-id-year"
    POSTCODE_FORMAT = "postcode-format"
    AGENCY_CODE_FORMAT = "agency-code-format"
    IDENTIFIER_FORMAT = "identifier-format"
    UNKNOWN_IDENTIFIER_SYSTEM = "unknown-identifier-system"


class InvalidIdentifier(ValueError):
    """An identifier was refused: `code` is for machines, the message for practitioners."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code: str = str(code)
        self.message: str = message

    def __reduce__(self) -> tuple[type[InvalidIdentifier], tuple[str, str]]:
        """Keep both arguments when pickled (ValueError would only keep the message)."""
        return (type(self), (self.code, self.message))


@dataclass(frozen=True, slots=True)
class Identifier:
    """A normalised identifier; build it with `normalise` or `parse_identifier`, not directly."""

    system: str
    value: str

    @property
    def token(self) -> str:
        """The API's `system|value` form, which `parse_identifier` reads back unchanged."""
        return f"{self.system}|{self.value}"


_ECHO_LIMIT: Final = 40


def _echo(value: str) -> str:
    """The offending value, safe to put in a message: no control characters, bounded length."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in value.strip())
    if len(shown) > _ECHO_LIMIT:
        shown = shown[: _ECHO_LIMIT - 3] + "..."
    return shown


# NHS number ------------------------------------------------------------------

_NHS_DIGITS: Final = re.compile(r"[0-9]{10}")
# Spaces and hyphens, including the non-breaking spaces and dashes word processors
# substitute when a number is pasted from a letter.
_NHS_SEPARATORS: Final = re.compile(r"[\s\-\u2010-\u2015\u2212]")


def _spaced_nhs(compact: str) -> str:
    """The 3 3 4 grouping practitioners read NHS numbers in."""
    return f"{compact[:3]} {compact[3:6]} {compact[6:]}"


def normalise_nhs_number(value: str) -> str:
    """Return the 10 compact digits of a valid NHS number, or raise InvalidIdentifier.

    Spaces and hyphens are dropped. The modulus 11 check catches every single
    digit error and adjacent swap. All-same-digit numbers (0000000000 and the
    like) pass the checksum but are placeholders typed into empty fields, so
    they are refused explicitly.
    """
    compact = _NHS_SEPARATORS.sub("", value)
    if _NHS_DIGITS.fullmatch(compact) is None:
        raise InvalidIdentifier(
            IdentifierErrorCode.NHS_NUMBER_FORMAT,
            f'The NHS number "{_echo(value)}" is not 10 digits: an NHS number is 10 digits, '
            "which may be grouped 3 3 4 with spaces or hyphens.",
        )
    if len(set(compact)) == 1:
        raise InvalidIdentifier(
            IdentifierErrorCode.NHS_NUMBER_PLACEHOLDER,
            f"The NHS number {_spaced_nhs(compact)} is a placeholder, not a real NHS number: "
            "leave it out if the child's NHS number is not known.",
        )
    if not _stdnum_nhs.is_valid(compact):
        raise InvalidIdentifier(
            IdentifierErrorCode.NHS_NUMBER_CHECKSUM,
            f"The NHS number {_spaced_nhs(compact)} fails its check digit: "
            "check it was typed correctly.",
        )
    return compact


def format_nhs_number(value: str) -> str:
    """Return a valid NHS number spaced 3 3 4 for display, or raise InvalidIdentifier."""
    return _spaced_nhs(normalise_nhs_number(value))


# Unique Pupil Number -----------------------------------------------------------

# DfE letter table: I, O and S are left out so they cannot be mistaken for 1, 0 and 5.
_UPN_LETTERS: Final = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_SHAPE: Final = re.compile(r"[A-Z][0-9]{11}[0-9A-Z]")
_NEVER_IN_UPN: Final = frozenset("IOS")


def _upn_check_letter(body: str) -> str:
    """DfE check letter for UPN characters 2-13: weights 2..13; a final letter counts its value."""
    total = 0
    for weight, char in enumerate(body, start=2):
        amount = int(char) if char.isdigit() else _UPN_LETTERS.index(char)
        total += weight * amount
    return _UPN_LETTERS[total % len(_UPN_LETTERS)]


def normalise_upn(value: str) -> str:
    """Return a valid UPN in upper case, or raise InvalidIdentifier.

    Permanent UPNs are a letter and 12 digits; temporary ones end in a letter
    instead of the last digit. The check letter is computed here (DOMAIN.md §2)
    rather than with stdnum.gb.upn, whose 2011 list of LA codes rejects real
    UPNs. The LA code is therefore not checked.
    """
    upn = value.strip().upper()
    if _UPN_SHAPE.fullmatch(upn) is None:
        raise InvalidIdentifier(
            IdentifierErrorCode.UPN_FORMAT,
            f'The UPN "{_echo(value)}" is not in UPN form: a UPN is a letter followed by '
            "12 digits, or by 11 digits and a letter for a temporary UPN.",
        )
    if upn[0] in _NEVER_IN_UPN or upn[-1] in _NEVER_IN_UPN:
        raise InvalidIdentifier(
            IdentifierErrorCode.UPN_FORMAT,
            f"The UPN {upn} cannot be right: the letters I, O and S are never used in a UPN.",
        )
    if _upn_check_letter(upn[1:]) != upn[0]:
        raise InvalidIdentifier(
            IdentifierErrorCode.UPN_CHECK_LETTER,
            f"The UPN {upn} fails its check letter: check it was typed correctly.",
        )
    return upn


def upn_with_check_letter(body: str) -> str:
    """Complete 12 UPN characters with their check letter; for generating synthetic pupils."""
    return normalise_upn(_upn_check_letter(body.upper()) + body.upper())


def is_temporary_upn(upn: str) -> bool:
    """Whether a valid UPN is temporary (ends in a letter); raises InvalidIdentifier if invalid.

    A temporary UPN is replaced by a permanent one later, so links made on it
    need re-checking.
    """
    return normalise_upn(upn)[-1].isalpha()


# Police National Computer ID ------------------------------------------------------

_PNC_LETTERS: Final = "ZABCDEFGHJKLMNPQRTUVWXY"
_PNC_SERIAL_DIGITS: Final = 7
_PNC_EARLIEST_YEAR: Final = 1900
_PNC_WITH_SLASH: Final = re.compile(
    r"(?P<year>[0-9]{2}|[0-9]{4})/(?P<serial>[0-9]{1,7})(?P<check>[A-Z])"
)
_PNC_LONG: Final = re.compile(r"(?P<year>[0-9]{4})(?P<serial>[0-9]{7})(?P<check>[A-Z])")
_PNC_SHORT: Final = re.compile(r"(?P<year>[0-9]{2})(?P<serial>[0-9]{1,7})(?P<check>[A-Z])")


def _expand_pnc_year(two_digits: int, today: date) -> int:
    """MoJ's rule: a 2-digit year up to this year's is this century, otherwise the last."""
    century = today.year - today.year % 100
    return century + two_digits if two_digits <= today.year % 100 else century - 100 + two_digits


def normalise_pnc_id(value: str, today: date | None = None) -> str:
    """Return a valid PNC ID in its stored long form `YYYY/NNNNNNNC`, or raise InvalidIdentifier.

    Accepts the long form (with or without the slash) and the short form
    `YY/N...C` (serial without leading zeros, slash optional). A 2-digit year
    is expanded against `today` (default: the current date), as MoJ does. A
    4-digit year after `today`'s is refused, since the check letter covers only
    the last two digits of the year and would not catch a wrong century.
    """
    pnc = value.strip().upper()
    match = _PNC_WITH_SLASH.fullmatch(pnc) or _PNC_LONG.fullmatch(pnc) or _PNC_SHORT.fullmatch(pnc)
    if match is None:
        raise InvalidIdentifier(
            IdentifierErrorCode.PNC_ID_FORMAT,
            f'The PNC ID "{_echo(value)}" is not in PNC ID form: a year, a serial number of up '
            "to 7 digits and a check letter, such as YYYY/NNNNNNNC or YY/NNNNNC.",
        )
    if today is None:
        today = date.today()
    year_text, serial, check = match["year"], match["serial"], match["check"]
    if len(year_text) == 2:
        year = _expand_pnc_year(int(year_text), today)
    else:
        year = int(year_text)
        if not _PNC_EARLIEST_YEAR <= year <= today.year:
            raise InvalidIdentifier(
                IdentifierErrorCode.PNC_ID_YEAR,
                f"The PNC ID {_echo(value)} has the year {year}, which no PNC ID can have: "
                "check it was typed correctly.",
            )
    serial = serial.zfill(_PNC_SERIAL_DIGITS)
    expected = _PNC_LETTERS[int(f"{year % 100:02d}{serial}") % len(_PNC_LETTERS)]
    if check != expected:
        raise InvalidIdentifier(
            IdentifierErrorCode.PNC_ID_CHECK_LETTER,
            f"The PNC ID {_echo(value)} fails its check letter: check it was typed correctly.",
        )
    return f"{year:04d}/{serial}{check}"


# Postcode ------------------------------------------------------------------------

# Outward code A9, A99, AA9, AA99, A9A or AA9A with the letters Royal Mail never
# uses in each position left out; inward code a digit and two letters, never C, I,
# K, M, O or V. GIR 0AA is the one historical exception.
_POSTCODE: Final = re.compile(
    r"(?:[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])"
    r"|GIR(?=0AA))"
    r"[0-9][ABD-HJLNP-UW-Z]{2}"
)
_WHITESPACE: Final = re.compile(r"\s+")


def normalise_postcode(value: str) -> str:
    """Return a UK postcode as upper-case `OUTWARD INWARD` with one space, or raise.

    Whitespace anywhere is ignored, so `sw1a1aa` and `SW1A  1AA` both give
    `SW1A 1AA`. Only the format is checked: a well-formed postcode may not exist.
    """
    compact = _WHITESPACE.sub("", value).upper()
    if _POSTCODE.fullmatch(compact) is None:
        raise InvalidIdentifier(
            IdentifierErrorCode.POSTCODE_FORMAT,
            f'The postcode "{_echo(value)}" is not a UK postcode: check it was typed correctly.',
        )
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_sector(postcode: str) -> str:
    """The postcode sector (`SW1A 1`): for sharing when a full postcode is not needed."""
    return normalise_postcode(postcode)[:-2]


def postcode_district(postcode: str) -> str:
    """The postcode district, i.e. the outward code (`SW1A`)."""
    return normalise_postcode(postcode).split(" ", 1)[0]


# Agency-local identifiers ---------------------------------------------------------

_AGENCY_CODE: Final = re.compile(r"[A-Z0-9-]{2,32}")
_AGENCY_LOCAL_ID_MAX: Final = 64


def normalise_agency_code(code: str) -> str:
    """Return an agency code in upper case (2-32 of A-Z, 0-9, '-'), or raise InvalidIdentifier."""
    normalised = code.strip().upper()
    if _AGENCY_CODE.fullmatch(normalised) is None:
        raise InvalidIdentifier(
            IdentifierErrorCode.AGENCY_CODE_FORMAT,
            f'The agency code "{_echo(code)}" is not valid: an agency code is 2 to 32 letters, '
            "digits or hyphens.",
        )
    return normalised


def agency_system(code: str) -> str:
    """The identifier system for an agency's own record ids, `urn:ehh:agency:CODE`."""
    return AGENCY_SYSTEM_PREFIX + normalise_agency_code(code)


def normalise_agency_local_id(value: str) -> str:
    """Return an agency's own record id, stripped: 1-64 printable characters, none invisible.

    These ids are opaque to the hub, so nothing else is changed; refusing
    control and invisible characters stops two spellings of one id that look
    identical.
    """
    stripped = value.strip()
    if not 1 <= len(stripped) <= _AGENCY_LOCAL_ID_MAX or not stripped.isprintable():
        raise InvalidIdentifier(
            IdentifierErrorCode.IDENTIFIER_FORMAT,
            f'The agency record id "{_echo(value)}" is not valid: it must be 1 to '
            f"{_AGENCY_LOCAL_ID_MAX} printable characters.",
        )
    return stripped


# Systems and the API's system|value form -------------------------------------------

_SYSTEM_ALIASES: Final[Mapping[str, str]] = {
    "nhs": NHS_NUMBER_SYSTEM,
    "nhs-number": NHS_NUMBER_SYSTEM,
    NHS_NUMBER_SYSTEM.casefold(): NHS_NUMBER_SYSTEM,
    "upn": UPN_SYSTEM,
    UPN_SYSTEM.casefold(): UPN_SYSTEM,
    "pnc": PNC_SYSTEM,
    PNC_SYSTEM.casefold(): PNC_SYSTEM,
}
_AGENCY_PREFIXES: Final = (AGENCY_SYSTEM_PREFIX, "agency:")


def resolve_system(system: str) -> str:
    """Return the canonical system URI for a full URI or a short alias (case-insensitive).

    Aliases: `nhs`, `nhs-number`, `upn`, `pnc` and `agency:CODE`.
    """
    stripped = system.strip()
    known = _SYSTEM_ALIASES.get(stripped.casefold())
    if known is not None:
        return known
    for prefix in _AGENCY_PREFIXES:
        if stripped[: len(prefix)].casefold() == prefix:
            return agency_system(stripped[len(prefix) :])
    raise InvalidIdentifier(
        IdentifierErrorCode.UNKNOWN_IDENTIFIER_SYSTEM,
        f'The identifier system "{_echo(system)}" is not one the hub knows: use nhs, upn, pnc, '
        "agency:CODE or a full system URI.",
    )


def normalise(system: str, value: str, *, today: date | None = None) -> Identifier:
    """Return the normalised Identifier for a system (URI or alias) and value, or raise.

    `today` is passed to `normalise_pnc_id` for expanding 2-digit years.
    """
    canonical = resolve_system(system)
    if canonical == NHS_NUMBER_SYSTEM:
        normalised = normalise_nhs_number(value)
    elif canonical == UPN_SYSTEM:
        normalised = normalise_upn(value)
    elif canonical == PNC_SYSTEM:
        normalised = normalise_pnc_id(value, today)
    else:
        normalised = normalise_agency_local_id(value)
    return Identifier(system=canonical, value=normalised)


def parse_identifier(token: str, *, today: date | None = None) -> Identifier:
    """Parse the API's `system|value` form (e.g. `nhs|943 476 5919`) into a normalised Identifier.

    Splits at the first `|`, so an agency's own id may itself contain one.
    """
    system, separator, value = token.partition("|")
    if not separator:
        raise InvalidIdentifier(
            IdentifierErrorCode.IDENTIFIER_FORMAT,
            f'The identifier "{_echo(token)}" must be written as system|value, '
            "such as nhs|<NHS number>.",
        )
    if not system.strip() or not value.strip():
        raise InvalidIdentifier(
            IdentifierErrorCode.IDENTIFIER_FORMAT,
            f'The identifier "{_echo(token)}" needs both a system and a value, '
            "written as system|value.",
        )
    return normalise(system, value, today=today)
