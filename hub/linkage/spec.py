"""The comparisons of the Fellegi-Sunter model, each level written once for SQL and for Python.

Splink evaluates the SQL over DuckDB in bulk; the live scorer evaluates the Python twin of
the same level against the m and u that Splink trained. Levels are tried in order and the
first that holds is the pair's level for that field, as in Splink.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jellyfish

from hub.linkage.features import Features

_SIDE = re.compile(r"\b([lr])\.(\w+)")
Test = Callable[[Features, Features], bool]


@dataclass(frozen=True)
class Level:
    label: str
    sql: str
    test: Test
    is_null: bool = False
    fixed_m: float | None = None

    @property
    def splink_sql(self) -> str:
        """Splink names the two sides' columns ``x_l`` and ``x_r`` inside comparisons."""
        return _SIDE.sub(lambda m: f"{m.group(2)}_{m.group(1)}", self.sql)


@dataclass(frozen=True)
class Comparison:
    name: str
    description: str
    levels: tuple[Level, ...]

    @property
    def inputs(self) -> tuple[str, ...]:
        """The features its levels read, from their SQL (the Python twins read the same)."""
        names = {m.group(2) for level in self.levels for m in _SIDE.finditer(level.sql)}
        return tuple(sorted(names))

    def as_splink(self) -> dict[str, Any]:
        levels: list[dict[str, Any]] = []
        for level in self.levels:
            entry: dict[str, Any] = {
                "sql_condition": level.splink_sql,
                "label_for_charts": level.label,
            }
            if level.is_null:
                entry["is_null_level"] = True
            if level.fixed_m is not None:
                entry["m_probability"] = level.fixed_m
                entry["fix_m_probability"] = True
            levels.append(entry)
        return {
            "output_column_name": self.name,
            "comparison_description": self.description,
            "comparison_levels": levels,
        }


def _jw(a: str | None, b: str | None) -> float:
    if a is None or b is None:
        return 0.0
    return jellyfish.jaro_winkler_similarity(a, b)


def _edits(a: str | None, b: str | None) -> int:
    if a is None or b is None:
        return 99
    return int(jellyfish.damerau_levenshtein_distance(a, b))


def _two_of_three(a: Features, b: Features) -> bool:
    same = (a.dob_y == b.dob_y) + (a.dob_m == b.dob_m) + (a.dob_d == b.dob_d)
    return same == 2


ELSE = Level("All other comparisons", "ELSE", lambda a, b: True)
# The model learns m from pairs that share an NHS number or a UPN (see model.train), where
# some kinds of disagreement are never seen; their chance is fixed at a small prior instead
# of the 1e-6 Splink would give them (a child known by a middle name, a date keyed wrongly
# twice, a sex recorded wrongly, a family that moved to another town).
RARELY = Level("All other comparisons", "ELSE", lambda a, b: True, fixed_m=0.005)

GIVEN = Comparison(
    "given_name",
    "Given name: exact, nickname, close spelling, sounds alike, swapped with family name",
    (
        Level(
            "null",
            "l.given IS NULL OR r.given IS NULL",
            lambda a, b: a.given is None or b.given is None,
            is_null=True,
        ),
        Level("exact", "l.given = r.given", lambda a, b: a.given == b.given),
        Level(
            "nickname",
            "list_has_any(l.given_nicks, r.given_nicks)",
            lambda a, b: not set(a.given_nicks).isdisjoint(b.given_nicks),
        ),
        Level(
            "jaro-winkler >= 0.92",
            "jaro_winkler_similarity(l.given, r.given) >= 0.92",
            lambda a, b: _jw(a.given, b.given) >= 0.92,
        ),
        Level("sounds alike", "l.given_ph = r.given_ph", lambda a, b: a.given_ph == b.given_ph),
        # One letter typed wrongly, dropped, added or two swapped (Gborge, Iy, Ebrahim).
        Level(
            "one edit apart",
            "damerau_levenshtein(l.given, r.given) <= 1",
            lambda a, b: _edits(a.given, b.given) <= 1,
        ),
        Level(
            "swapped with family name",
            "l.names_key = r.names_key",
            lambda a, b: a.names_key is not None and a.names_key == b.names_key,
        ),
        # Aisha and Ayesha: another spelling of the same sounds, not a different name.
        Level(
            "spelt another way",
            "l.given_sx = r.given_sx AND jaro_winkler_similarity(l.given, r.given) >= 0.8",
            lambda a, b: a.given_sx == b.given_sx and _jw(a.given, b.given) >= 0.8,
        ),
        Level(
            "jaro-winkler >= 0.8",
            "jaro_winkler_similarity(l.given, r.given) >= 0.8",
            lambda a, b: _jw(a.given, b.given) >= 0.8,
            fixed_m=0.002,
        ),
        RARELY,
    ),
)

FAMILY = Comparison(
    "family_name",
    "Family name: exact, a shared double-barrelled part, close spelling, sounds alike, swapped",
    (
        Level(
            "null",
            "l.family IS NULL OR r.family IS NULL",
            lambda a, b: a.family is None or b.family is None,
            is_null=True,
        ),
        Level("exact", "l.family = r.family", lambda a, b: a.family == b.family),
        Level(
            "shares a part",
            "list_has_any(l.family_parts, r.family_parts)",
            lambda a, b: not set(a.family_parts).isdisjoint(b.family_parts),
        ),
        Level(
            "jaro-winkler >= 0.92",
            "jaro_winkler_similarity(l.family, r.family) >= 0.92",
            lambda a, b: _jw(a.family, b.family) >= 0.92,
        ),
        Level("sounds alike", "l.family_ph = r.family_ph", lambda a, b: a.family_ph == b.family_ph),
        Level(
            "swapped with given name",
            "l.names_key = r.names_key",
            lambda a, b: a.names_key is not None and a.names_key == b.names_key,
        ),
        ELSE,
    ),
)

BIRTH_DATE = Comparison(
    "birth_date",
    "Date of birth: exact, day and month transposed, one of year, month, day off",
    (
        Level(
            "null",
            "l.dob IS NULL OR r.dob IS NULL",
            lambda a, b: a.dob is None or b.dob is None,
            is_null=True,
        ),
        Level("exact", "l.dob = r.dob", lambda a, b: a.dob == b.dob),
        Level(
            "day and month transposed",
            "l.dob = r.dob_t",
            lambda a, b: a.dob_t is not None and a.dob_t == b.dob,
        ),
        Level(
            "one field off",
            "(CAST(l.dob_y = r.dob_y AS INTEGER) + CAST(l.dob_m = r.dob_m AS INTEGER)"
            " + CAST(l.dob_d = r.dob_d AS INTEGER)) = 2",
            _two_of_three,
            fixed_m=0.005,
        ),
        RARELY,
    ),
)

SEX = Comparison(
    "sex",
    "Sex recorded",
    (
        Level(
            "null",
            "l.sex IS NULL OR r.sex IS NULL",
            lambda a, b: a.sex is None or b.sex is None,
            is_null=True,
        ),
        Level("exact", "l.sex = r.sex", lambda a, b: a.sex == b.sex),
        Level("All other comparisons", "ELSE", lambda a, b: True, fixed_m=0.01),
    ),
)

POSTCODE = Comparison(
    "postcode",
    "Postcode: full, sector, district",
    (
        Level(
            "null",
            "l.postcode IS NULL OR r.postcode IS NULL",
            lambda a, b: a.postcode is None or b.postcode is None,
            is_null=True,
        ),
        Level("full", "l.postcode = r.postcode", lambda a, b: a.postcode == b.postcode),
        Level("sector", "l.sector = r.sector", lambda a, b: a.sector == b.sector, fixed_m=0.005),
        Level("district", "l.district = r.district", lambda a, b: a.district == b.district),
        ELSE,
    ),
)

ADDRESS = Comparison(
    "address",
    "Address line: exact, or same house number and a close street",
    (
        Level(
            "null",
            "l.address IS NULL OR r.address IS NULL",
            lambda a, b: a.address is None or b.address is None,
            is_null=True,
        ),
        Level("exact", "l.address = r.address", lambda a, b: a.address == b.address),
        Level(
            "same number, close street",
            "l.house = r.house AND jaro_winkler_similarity(l.address, r.address) >= 0.88",
            lambda a, b: a.house == b.house and _jw(a.address, b.address) >= 0.88,
            fixed_m=0.01,
        ),
        # Families mostly move within their town; agencies that missed the move keep the old.
        Level(
            "same town",
            "l.town = r.town",
            lambda a, b: a.town is not None and a.town == b.town,
        ),
        Level("All other comparisons", "ELSE", lambda a, b: True, fixed_m=0.01),
    ),
)

COMPARISONS: tuple[Comparison, ...] = (GIVEN, FAMILY, BIRTH_DATE, SEX, POSTCODE, ADDRESS)

# Candidate pairs: equi-joins only, so the number of comparisons grows about linearly.
# Names alone would gather every Olivia Smith in the county (hundreds in a million children),
# so names go with the birth year, or with the day and month (a year keyed wrongly), or with
# a missing date; live.block_keys and live.query_keys mirror these rules one for one.
BLOCKING_RULES: tuple[str, ...] = (
    "l.dob_key = r.dob_key",
    "l.names_key = r.names_key AND l.dob_y = r.dob_y",
    "l.names_key = r.names_key AND l.dob_m = r.dob_m AND l.dob_d = r.dob_d",
    "l.names_key = r.names_key AND (l.dob IS NULL OR r.dob IS NULL)",
    "l.postcode = r.postcode AND l.given_ph = r.given_ph",
    "l.postcode = r.postcode AND l.family_ph = r.family_ph",
)

# A pair is never linked automatically at these levels: twins and siblings share everything
# else (surname, address, often the date of birth), and a weak given-name likeness (Jade and
# Jayden) is all that tells twins apart, so such pairs go to review instead.
VETO_LEVELS: dict[str, frozenset[str]] = {
    "given_name": frozenset({"jaro-winkler >= 0.8", "All other comparisons"}),
    "birth_date": frozenset({"All other comparisons"}),
    "sex": frozenset({"All other comparisons"}),
}
