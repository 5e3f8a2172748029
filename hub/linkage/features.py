"""Turn a record into the comparison features the model reads, the same way in bulk and live.

Cleaning and phonetic codes are computed here in Python once per record (not in SQL per
pair), so the bulk model in DuckDB and the live scorer see identical inputs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import jellyfish
from nicknames import NickNamer

from hub.identifiers import InvalidIdentifier, normalise_postcode
from hub.linkage.records import SourceRecord

_NOT_LETTERS = re.compile(r"[^A-Z ]+")
_SPACES = re.compile(r"\s+")
_ADDRESS_WORDS = {
    "RD": "ROAD",
    "ST": "STREET",
    "AVE": "AVENUE",
    "AV": "AVENUE",
    "LN": "LANE",
    "DR": "DRIVE",
    "CL": "CLOSE",
    "GRV": "GROVE",
    "CT": "COURT",
    "PL": "PLACE",
    "CRES": "CRESCENT",
}
_NICKNAMER: NickNamer | None = None
# British (and Polish, Russian) diminutives the (American) nicknames dataset lacks.
_BRITISH_NICKNAMES = {
    "izzy": ("isabella", "isabel", "isobel"),
    "issy": ("isabella", "isabel", "isobel"),
    "katie": ("katherine", "catherine", "kathryn"),
    "kate": ("katherine", "catherine", "kathryn"),
    "charlie": ("charlotte", "charles"),
    "florrie": ("florence",),
    "alfie": ("alfred",),
    "evie": ("eve", "evelyn"),
    "ellie": ("ella", "eleanor", "elena"),
    "freddie": ("frederick", "freddy", "alfred"),
    "archie": ("archibald",),
    "maisie": ("margaret",),
    "kath": ("katherine", "catherine", "kathryn"),
    "han": ("hannah",),
    "sasha": ("alexander", "alexandra", "aleksandra"),
    "ola": ("aleksandra", "alexandra"),
}


@dataclass(frozen=True, slots=True)
class Features:
    record_id: str
    agency: str
    nhs: str | None
    upn: str | None
    given: str | None
    given_ph: str | None
    given_sx: str | None
    given_nicks: tuple[str, ...]
    family: str | None
    family_ph: str | None
    family_parts: tuple[str, ...]
    dob: str | None
    dob_t: str | None
    dob_y: int | None
    dob_m: int | None
    dob_d: int | None
    dob_key: str | None
    names_key: str | None
    sex: str | None
    postcode: str | None
    sector: str | None
    district: str | None
    address: str | None
    house: str | None
    town: str | None


@lru_cache(maxsize=200_000)  # names repeat: a mother's name is on every child's record
def clean_name(value: str | None) -> str | None:
    if not value:
        return None
    # Wiśniewski and Wisniewski, Nguyễn and Nguyen: the accent is dropped, not the letter.
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", value) if not unicodedata.combining(ch)
    )
    text = _NOT_LETTERS.sub("", plain.upper().replace("-", " ").replace("'", ""))
    text = _SPACES.sub(" ", text).strip()
    return text or None


@lru_cache(maxsize=200_000)
def phonetic(name: str) -> str:
    return jellyfish.metaphone(name.replace(" ", ""))


@lru_cache(maxsize=200_000)
def _soundex(name: str) -> str:
    return str(jellyfish.soundex(name))


@lru_cache(maxsize=50_000)
def nickname_groups(name: str) -> tuple[str, ...]:
    """The name and the formal names it may be short for (Bill: William, Robert...)."""
    global _NICKNAMER
    if _NICKNAMER is None:
        _NICKNAMER = NickNamer()
    lower = name.lower()
    groups = {lower} | _NICKNAMER.canonicals_of(lower) | set(_BRITISH_NICKNAMES.get(lower, ()))
    return tuple(sorted(groups))


@lru_cache(maxsize=200_000)
def clean_address(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    words = _SPACES.sub(" ", re.sub(r"[^A-Z0-9 ]+", " ", value.upper())).strip().split(" ")
    words = [_ADDRESS_WORDS.get(w, w) for w in words if w]
    if not words:
        return None, None
    house = next((w for w in words if any(ch.isdigit() for ch in w)), None)
    return " ".join(words), house


@lru_cache(maxsize=200_000)
def town_of(value: str | None) -> str | None:
    """The last part of an address written with commas (line, town), where it has one."""
    if not value or "," not in value:
        return None
    return clean_name(value.rsplit(",", 1)[1])


@lru_cache(maxsize=200_000)
def _postcode(value: str | None) -> tuple[str | None, str | None, str | None]:
    if not value:
        return None, None, None
    try:
        full = normalise_postcode(value)
    except InvalidIdentifier:
        return None, None, None
    return full, full[:-2], full.split(" ", 1)[0]


def transposed(born: date) -> str | None:
    """The date with day and month swapped, where that is a different valid date."""
    if born.day > 12 or born.day == born.month:
        return None
    return date(born.year, born.day, born.month).isoformat()


def _dob_key(born: date) -> str:
    """Same for a date and its transposition, so one equi-join blocks on both."""
    low, high = sorted((born.month, born.day))
    return f"{born.year}-{low:02d}-{high:02d}"


def _names_key(given: str | None, family: str | None) -> str | None:
    """Sounds of both names in either order, so a given/family swap blocks together."""
    if not given or not family:
        return None
    return "|".join(sorted((phonetic(given), phonetic(family))))


def features(record: SourceRecord) -> Features:
    given = clean_name(record.given_name)
    family = clean_name(record.family_name)
    born = record.birth_date
    postcode, sector, district = _postcode(record.postcode)
    address, house = clean_address(record.address)
    sex = (record.sex or "").strip().lower() or None
    if sex not in (None, "female", "male"):
        sex = None
    return Features(
        record_id=record.record_id,
        agency=record.agency,
        nhs=record.nhs_number or None,
        upn=record.upn or None,
        given=given,
        given_ph=phonetic(given) if given else None,
        given_sx=_soundex(given) if given else None,
        given_nicks=nickname_groups(given.split(" ")[0]) if given else (),
        family=family,
        family_ph=phonetic(family) if family else None,
        family_parts=tuple(family.split(" ")) if family else (),
        dob=born.isoformat() if born else None,
        dob_t=transposed(born) if born else None,
        dob_y=born.year if born else None,
        dob_m=born.month if born else None,
        dob_d=born.day if born else None,
        dob_key=_dob_key(born) if born else None,
        names_key=_names_key(given, family),
        sex=sex,
        postcode=postcode,
        sector=sector,
        district=district,
        address=address,
        house=house,
        town=town_of(record.address),
    )


COLUMNS = tuple(Features.__slots__)
