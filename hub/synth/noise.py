"""How agencies get a person's details wrong, at rates that make linkage realistically hard.

Each agency writes a person down on its own, so each view is drawn from its own stream of
randomness. Defects (a mistyped NHS number, an impossible date, a malformed postcode) are
rare and are recorded in the truth file, so that a test can expect each to be quarantined.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import date
from typing import Final

from hub.synth import names
from hub.synth.county import Address, Person

# Per-agency rates: (typo, nickname, swap given/family, day-month transposed, missing NHS)
RATES: Final = {
    "health": (0.01, 0.01, 0.002, 0.002, 0.01),
    "school": (0.015, 0.04, 0.004, 0.005, 1.0),  # the CTF carries no NHS number
    "police": (0.04, 0.10, 0.01, 0.01, 0.6),
    "council": (0.02, 0.05, 0.006, 0.006, 0.2),
}
DEFECT_RATE: Final = 0.002


@dataclass(frozen=True)
class View:
    """A person as one agency recorded them."""

    given: str
    family: str
    born: str  # ISO date, or an impossible one when defect == "bad-date"
    nhs: str | None
    postcode: str
    address: str
    town: str
    defect: str  # "" when the row is good


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    action = rng.randrange(3)
    if action == 0:  # transpose two letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if action == 1:  # drop a letter
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]


def _bad_nhs(nhs: str, rng: random.Random) -> str:
    """One digit changed: modulus 11 always catches it."""
    i = rng.randrange(9)
    digit = str((int(nhs[i]) + rng.randrange(1, 10)) % 10)
    return nhs[:i] + digit + nhs[i + 1 :]


def view(person: Person, agency: str, address: Address, rng: random.Random) -> View:
    typo, nickname, swap, transpose, missing = RATES[agency]
    if person.exact:
        typo = swap = transpose = 0.0
        missing = 1.0 if agency == "school" else 0.0
    given, family = person.given, person.family
    if person.former_family and rng.random() < 0.5:
        family = person.former_family  # the agency has not heard of the change of name
    if rng.random() < nickname and given in names.NICKNAMES:
        given = rng.choice(names.NICKNAMES[given])
    if given in names.TRANSLITERATIONS and rng.random() < 0.25:
        given = rng.choice(names.TRANSLITERATIONS[given])
    if family in names.TRANSLITERATIONS and rng.random() < 0.2:
        family = rng.choice(names.TRANSLITERATIONS[family])
    if "-" in family and rng.random() < 0.3:
        family = rng.choice((family.split("-")[0], family.replace("-", " ")))
    if rng.random() < typo:
        if rng.random() < 0.5:
            given = _typo(rng, given)
        else:
            family = _typo(rng, family)
    if rng.random() < swap:
        given, family = family, given
    born = person.born
    if born.day <= 12 and born.day != born.month and rng.random() < transpose:
        born = date(born.year, born.day, born.month)
    born_text = born.isoformat()
    nhs: str | None = None if rng.random() < missing else person.nhs
    postcode = address.postcode
    defect = ""
    if rng.random() < DEFECT_RATE * 3 and not person.exact:
        kind = rng.randrange(3)
        if kind == 0 and nhs is not None:
            nhs, defect = _bad_nhs(nhs, rng), "nhs-checksum"
        elif kind == 1:
            postcode, defect = postcode.replace(" ", "")[:-2] + "CI", "postcode"
        elif kind == 2:
            born_text, defect = f"{born.year}-02-30", "bad-date"
    return View(given, family, born_text, nhs, postcode, address.line, address.town, defect)
