"""The synthetic county's truth: families, people and what each agency does with them.

Generated family by family from `random.Random((seed, family index))`, so a county is the
same for the same seed and as-of date at any size, and memory stays bounded. The only state
carried from family to family is a few counters that keep NHS numbers and UPNs unique.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import Final

from hub.identifiers import upn_with_check_letter
from hub.synth import names

FAMILIES_PER_AREA: Final = 120
LA_CODE: Final = "855"
POSTCODE_UNIT_LETTERS: Final = "ABDEFGHJLNPQRSTUWXYZ"


class _Weighted:
    """Fast repeated weighted choice from a fixed list."""

    def __init__(self, pairs: list[tuple[str, int]]) -> None:
        self.values = [v for v, _ in pairs]
        self.cum = list(accumulate(w for _, w in pairs))

    def pick(self, rng: random.Random) -> str:
        return rng.choices(self.values, cum_weights=self.cum)[0]


GIRLS = _Weighted(names.GIRLS)
BOYS = _Weighted(names.BOYS)
SURNAMES = _Weighted(names.SURNAMES)
WOMEN = _Weighted(names.ADULT_WOMEN)
MEN = _Weighted(names.ADULT_MEN)


@dataclass(frozen=True)
class Address:
    line: str
    town: str
    postcode: str


@dataclass(frozen=True)
class School:
    urn: str
    laestab: str
    name: str
    phase: str  # "primary" or "secondary"


@dataclass
class Person:
    """One real (synthetic) person: what is true, before any agency writes it down."""

    pid: str
    given: str
    family: str
    born: date
    sex: str
    nhs: str
    child: bool
    former_family: str | None = None  # a surname changed since some agencies met them
    upn: str | None = None
    temporary_upn: bool = False
    school: School | None = None
    sen: str | None = None  # "K" SEN support, "E" EHC plan
    attendance_pct: int = 96
    exact: bool = False  # every agency records this person without error (the demo's showcase)


@dataclass(frozen=True)
class Tie:
    """An adult's tie to a child, in the hub's relationship vocabulary."""

    adult: str
    child: str
    kind: str
    fhir_code: str  # v3-RoleCode for FHIR RelatedPerson
    ctf_code: str  # CTF contact relationship code


@dataclass(frozen=True)
class Involvement:
    agency: str  # health, school, police or council
    child: str
    service: str
    service_name: str
    tier: str
    level: int
    lead: bool
    sensitivity: str | None
    start: date
    end: date | None
    worker_ref: str
    worker_name: str
    worker_role: str
    case_type: str | None = None  # council case type


@dataclass(frozen=True)
class Consent:
    child: str
    grantor: str | None  # adult pid; None when the child consented
    story: str  # given, refused, withdrawn, expired
    start: date
    end: date
    withdrawn_on: date | None


@dataclass(frozen=True)
class PoliceEvent:
    event_id: str
    kind: str
    occurred: date
    suspect: str | None
    victim: str | None
    children: tuple[str, ...]
    school_urns: tuple[str, ...]


@dataclass
class Family:
    index: int
    area: int
    address: Address
    old_address: Address | None  # the family moved; some agencies still hold this
    knows_move: frozenset[str]  # agency kinds that have the new address
    adults: list[Person]
    children: list[Person]
    ties: list[Tie]
    need: int  # 1-4, Worcestershire's levels
    involvements: list[Involvement] = field(default_factory=list)
    consents: list[Consent] = field(default_factory=list)
    events: list[PoliceEvent] = field(default_factory=list)
    structure: str = "two-parents"

    def address_for(self, agency: str) -> Address:
        if self.old_address is not None and agency not in self.knows_move:
            return self.old_address
        return self.address


class Numbers:
    """Counters that keep NHS numbers and UPNs unique across the whole county."""

    def __init__(self, seed: int) -> None:
        self._nhs = 0
        self._nhs_offset = (seed * 7_919_317) % 90_000_000
        self._upn: dict[str, int] = {}

    def nhs(self) -> str:
        """The next 9xx test-style NHS number with a valid check digit; never repeats."""
        while True:
            n = (self._nhs_offset + self._nhs * 10_007) % 90_000_000
            self._nhs += 1
            body = f"9{n + 10_000_000:08d}"
            total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
            check = 11 - total % 11
            if check != 10:
                return body + ("0" if check == 11 else str(check))

    def upn(self, school: School, rng: random.Random, *, temporary: bool) -> str:
        n = self._upn.get(school.laestab, 0)
        self._upn[school.laestab] = n + 1
        year = f"{(n // 1000) % 100:02d}"
        if temporary:
            tail = f"{n % 100:02d}" + rng.choice("ABCDEFGHJKLMNPQRTUVWXYZ")
        else:
            tail = f"{n % 1000:03d}"
        return upn_with_check_letter(school.laestab + year + tail)


def schools_for(area: int) -> tuple[School, School]:
    town = names.TOWNS[area % len(names.TOWNS)][0]
    primary = School(
        urn=f"{100000 + area * 2:06d}",
        laestab=f"{LA_CODE}{2000 + area % 8000:04d}",
        name=f"{town} Primary School {area}",
        phase="primary",
    )
    secondary = School(
        urn=f"{100001 + area * 2:06d}",
        laestab=f"{LA_CODE}{4000 + area % 6000:04d}",
        name=f"{town} Academy {area}",
        phase="secondary",
    )
    return primary, secondary


def _address(rng: random.Random, area: int) -> Address:
    town, letters = names.TOWNS[area % len(names.TOWNS)]
    district = 1 + (area * 7 + rng.randrange(3)) % 30
    postcode = (
        f"{letters}{district} {rng.randrange(10)}"
        f"{rng.choice(POSTCODE_UNIT_LETTERS)}{rng.choice(POSTCODE_UNIT_LETTERS)}"
    )
    line = f"{rng.randrange(1, 220)} {rng.choice(names.STREETS)}"
    return Address(line=line, town=town, postcode=postcode)


def _born(rng: random.Random, as_of: date, min_age: float, max_age: float) -> date:
    return as_of - timedelta(days=rng.randrange(int(min_age * 365.25), int(max_age * 365.25)))


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class County:
    """Generates the county family by family; iterate `families()`."""

    def __init__(self, *, children: int, seed: int, as_of: date) -> None:
        self.target_children = children
        self.seed = seed
        self.as_of = as_of
        self.numbers = Numbers(seed)

    def families(self) -> Iterator[Family]:
        made = 0
        index = 0
        while made < self.target_children:
            family = self._family(index, self.target_children - made)
            made += len(family.children)
            index += 1
            yield family

    # --- one family ---------------------------------------------------------------------

    def _family(self, index: int, room: int) -> Family:
        rng = random.Random(f"{self.seed}:{index}")  # noqa: S311 - synthetic data, not secrets
        area = index // FAMILIES_PER_AREA
        as_of = self.as_of
        showcase = index < 4  # the first families always show every consent story
        roll = rng.random()
        structure = (
            "two-parents"
            if roll < 0.58
            else "lone-parent"
            if roll < 0.83
            else "step-family"
            if roll < 0.95
            else "kinship-carer"
        )
        surname = SURNAMES.pick(rng)
        if rng.random() < 0.06:
            surname = f"{surname}-{SURNAMES.pick(rng)}"
        mother = self._adult(rng, index, 0, "female", surname)
        adults = [mother]
        ties: list[Tie] = []
        if structure in ("two-parents", "step-family"):
            partner_surname = surname if rng.random() < 0.7 else SURNAMES.pick(rng)
            adults.append(self._adult(rng, index, 1, "male", partner_surname))
        if structure == "kinship-carer":
            adults.append(self._adult(rng, index, 1, "female", surname, older=True))

        count = min(room, max(1, int(rng.choices([1, 2, 3, 4, 5], [38, 36, 16, 7, 3])[0])))
        if showcase:
            count = min(room, 2)
        twins = count >= 2 and rng.random() < 0.03
        children: list[Person] = []
        for k in range(count):
            born = children[0].born if twins and k == 1 else _born(rng, as_of, 0.1, 17.9)
            sex = rng.choice(("female", "male"))
            given = (GIRLS if sex == "female" else BOYS).pick(rng)
            family_name = surname
            former = None
            half = structure == "step-family" and k == count - 1 and count > 1
            if half:  # a half-sibling from the new partnership
                family_name = adults[1].family
            elif structure == "step-family" and rng.random() < 0.3:
                former, family_name = surname, adults[1].family  # took the step-parent's name
            child = Person(
                pid=f"T{index:07d}-C{k}",
                given=given,
                family=family_name,
                born=born,
                sex=sex,
                nhs=self.numbers.nhs(),
                child=True,
                former_family=former,
            )
            children.append(child)
            self._ties(structure, adults, child, half, ties)
        area_schools = schools_for(area)
        for child in children:
            age = _age(child.born, as_of)
            if 4 <= age <= 15:
                child.school = area_schools[0] if age <= 10 else area_schools[1]
                child.temporary_upn = rng.random() < 0.02
                child.upn = self.numbers.upn(child.school, rng, temporary=child.temporary_upn)
                child.sen = "E" if rng.random() < 0.025 else "K" if rng.random() < 0.11 else None
                child.attendance_pct = 96 - int(rng.expovariate(1 / 3))

        address = _address(rng, area)
        old = _address(rng, area) if rng.random() < 0.1 else None
        knows = frozenset(
            a for a in ("health", "school", "police", "council") if rng.random() < 0.5
        )
        need_roll = rng.random()
        need = 1 if need_roll < 0.84 else 2 if need_roll < 0.93 else 3 if need_roll < 0.975 else 4
        if showcase:
            need = 3
        if showcase:
            for person in (*adults, *children):
                person.exact = True
        family = Family(
            index=index,
            area=area,
            address=address,
            old_address=old,
            knows_move=knows,
            adults=adults,
            children=children,
            ties=ties,
            need=need,
            structure=structure,
        )
        self._involve(rng, family, showcase)
        return family

    def _adult(
        self,
        rng: random.Random,
        index: int,
        n: int,
        sex: str,
        surname: str,
        *,
        older: bool = False,
    ) -> Person:
        given = (WOMEN if sex == "female" else MEN).pick(rng)
        low, high = (45, 70) if older else (19, 50)
        return Person(
            pid=f"T{index:07d}-A{n}",
            given=given,
            family=surname,
            born=_born(rng, self.as_of, low, high),
            sex=sex,
            nhs=self.numbers.nhs(),
            child=False,
        )

    @staticmethod
    def _ties(
        structure: str, adults: list[Person], child: Person, half: bool, ties: list[Tie]
    ) -> None:
        mother = adults[0]
        if structure == "kinship-carer":
            ties.append(
                Tie(mother.pid, child.pid, "parent-with-parental-responsibility", "MTH", "PAM")
            )
            ties.append(
                Tie(
                    adults[1].pid,
                    child.pid,
                    "carer-without-parental-responsibility",
                    "GRMTH",
                    "REL",
                )
            )
            return
        ties.append(Tie(mother.pid, child.pid, "parent-with-parental-responsibility", "MTH", "PAM"))
        if len(adults) > 1:
            if structure == "two-parents" or half:
                ties.append(
                    Tie(
                        adults[1].pid,
                        child.pid,
                        "parent-with-parental-responsibility",
                        "FTH",
                        "PAF",
                    )
                )
            else:
                ties.append(
                    Tie(
                        adults[1].pid,
                        child.pid,
                        "carer-without-parental-responsibility",
                        "STPFTH",
                        "STF",
                    )
                )

    # --- involvements, consents, police events --------------------------------------------

    def _involve(self, rng: random.Random, family: Family, showcase: bool) -> None:
        as_of = self.as_of
        add = family.involvements.append

        def worker(prefix: str, role: str) -> tuple[str, str, str]:
            n = rng.randrange(1, 400)
            name = f"{(WOMEN if rng.random() < 0.7 else MEN).pick(rng)} {SURNAMES.pick(rng)}"
            return f"{prefix}-{n:03d}", name, role

        def started(max_days: int) -> date:
            return as_of - timedelta(days=rng.randrange(14, max_days))

        for child in family.children:
            age = _age(child.born, as_of)
            if age < 5:
                w = worker("HV", "health-visitor")
                add(
                    Involvement(
                        "health",
                        child.pid,
                        "health-visiting",
                        "Health visiting",
                        "universal",
                        1,
                        False,
                        None,
                        child.born + timedelta(days=14),
                        None,
                        *w,
                    )
                )
            elif age >= 5:
                w = worker("SN", "school-nurse")
                add(
                    Involvement(
                        "health",
                        child.pid,
                        "school-nursing",
                        "School nursing",
                        "universal",
                        1,
                        False,
                        None,
                        started(900),
                        None,
                        *w,
                    )
                )
            if child.school is not None:
                w = worker("DSL", "designated-safeguarding-lead")
                add(
                    Involvement(
                        "school",
                        child.pid,
                        "school",
                        child.school.name,
                        "universal",
                        1,
                        False,
                        None,
                        started(1500),
                        None,
                        *w,
                    )
                )
                if child.sen is not None:
                    w = worker("SENCO", "senco")
                    level = 3 if child.sen == "E" else 2
                    add(
                        Involvement(
                            "school",
                            child.pid,
                            "senco",
                            "Special educational needs",
                            "targeted",
                            level,
                            False,
                            None,
                            started(700),
                            None,
                            *w,
                        )
                    )
                if child.attendance_pct < 90:
                    w = worker("ATT", "teacher")
                    add(
                        Involvement(
                            "school",
                            child.pid,
                            "attendance",
                            "Attendance support",
                            "targeted",
                            2,
                            False,
                            None,
                            started(200),
                            None,
                            *w,
                        )
                    )
            if 2 <= age <= 7 and rng.random() < 0.02:
                w = worker("SALT", "health-visitor")
                add(
                    Involvement(
                        "health",
                        child.pid,
                        "speech-and-language",
                        "Speech and language therapy",
                        "targeted",
                        2,
                        False,
                        None,
                        started(300),
                        None,
                        *w,
                    )
                )
            if age >= 11 and (rng.random() < 0.025 or (family.need == 4 and rng.random() < 0.3)):
                w = worker("CAMHS", "mental-health-practitioner")
                add(
                    Involvement(
                        "health",
                        child.pid,
                        "camhs",
                        "Child and adolescent mental health",
                        "specialist",
                        4,
                        False,
                        "PSY",
                        started(400),
                        None,
                        *w,
                    )
                )
            if age >= 13 and rng.random() < 0.012:
                w = worker("SH", "school-nurse")
                add(
                    Involvement(
                        "health",
                        child.pid,
                        "sexual-health",
                        "Sexual health service",
                        "targeted",
                        2,
                        False,
                        "SEX",
                        started(200),
                        None,
                        *w,
                    )
                )

        if family.need == 3:
            w = worker("EH", "lead-professional")
            for child in family.children:
                add(
                    Involvement(
                        "council",
                        child.pid,
                        "early-help",
                        "Early help family support",
                        "targeted",
                        3,
                        True,
                        None,
                        started(300),
                        None,
                        *w,
                        case_type="early-help",
                    )
                )
            self._consents(rng, family, showcase)
        elif family.need == 4:
            roll = rng.random()
            case = (
                "child-in-need"
                if roll < 0.55
                else "child-protection"
                if roll < 0.85
                else "looked-after"
            )
            w = worker("SW", "social-worker")
            for child in family.children:
                add(
                    Involvement(
                        "council",
                        child.pid,
                        case,
                        case.replace("-", " ").capitalize(),
                        "specialist",
                        4,
                        True,
                        None,
                        started(500),
                        None,
                        *w,
                        case_type=case,
                    )
                )
        if rng.random() < 0.04 or family.index == 0:
            self._closed_case(rng, family, w=worker("EH", "early-help-worker"))
        if (rng.random() < 0.03 or family.index in (0, 2)) and len(family.adults) >= 1:
            self._domestic_abuse(rng, family)

    def _closed_case(self, rng: random.Random, family: Family, w: tuple[str, str, str]) -> None:
        child = family.children[0]
        start = self.as_of - timedelta(days=rng.randrange(500, 900))
        family.involvements.append(
            Involvement(
                "council",
                child.pid,
                "early-help",
                "Early help family support",
                "targeted",
                2,
                False,
                None,
                start,
                start + timedelta(days=180),
                *w,
                case_type="early-help",
            )
        )

    def _consents(self, rng: random.Random, family: Family, showcase: bool) -> None:
        if showcase:
            story = ["given", "refused", "withdrawn", "expired"][family.index]
        elif rng.random() < 0.1:
            return  # not yet asked: no consent recorded
        else:
            roll = rng.random()
            story = (
                "given"
                if roll < 0.65
                else "refused"
                if roll < 0.77
                else "withdrawn"
                if roll < 0.87
                else "expired"
            )
        grantor = family.adults[0]
        for child in family.children:
            by_child = _age(child.born, self.as_of) >= 14 and rng.random() < 0.3
            if story == "expired":
                start = self.as_of - timedelta(days=rng.randrange(400, 700))
                end = start + timedelta(days=365)
            else:
                start = self.as_of - timedelta(days=rng.randrange(10, 300))
                end = start + timedelta(days=365)
            withdrawn = (
                start + timedelta(days=rng.randrange(1, 9)) if story == "withdrawn" else None
            )
            family.consents.append(
                Consent(child.pid, None if by_child else grantor.pid, story, start, end, withdrawn)
            )

    def _domestic_abuse(self, rng: random.Random, family: Family) -> None:
        suspect = family.adults[1].pid if len(family.adults) > 1 else None
        occurred = self.as_of - timedelta(days=rng.randrange(1, 200))
        urns = tuple(sorted({c.school.urn for c in family.children if c.school is not None}))
        family.events.append(
            PoliceEvent(
                event_id=f"OCC-{family.index:07d}-1",
                kind="domestic-abuse-incident",
                occurred=occurred,
                suspect=suspect,
                victim=family.adults[0].pid,
                children=tuple(c.pid for c in family.children),
                school_urns=urns,
            )
        )
        for child in family.children:
            family.involvements.append(
                Involvement(
                    "police",
                    child.pid,
                    "operation-encompass",
                    "Operation Encompass notification",
                    "targeted",
                    3,
                    False,
                    "SDV",
                    occurred,
                    None,
                    f"PPU-{rng.randrange(1, 90):03d}",
                    f"{MEN.pick(rng)} {SURNAMES.pick(rng)}",
                    "police-safeguarding",
                )
            )
