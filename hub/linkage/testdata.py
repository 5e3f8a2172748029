"""A small synthetic county of noisy agency records with known truth, for tests and the bench.

Deterministic by seed. Families share a surname (sometimes double-barrelled), an address
and a postcode; some have twins (same birth date, surname and address, different given
names). Each child is held by several agencies, each with its own kind of noise: typos,
nicknames, one part of a double-barrelled surname, given and family names swapped, day and
month transposed, a field off by one, a missing NHS number, an old address.

It returns plain :class:`SourceRecord` rows and a ``truth`` map (record id to child id), the
same pair a ``hub synth`` county's extracts and truth.csv give, so either can feed the model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import jellyfish

from hub.identifiers import upn_with_check_letter
from hub.linkage.records import SourceRecord

GIVEN_GIRLS = [
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Willow",
    "Freya",
    "Florence",
    "Emily",
    "Ella",
    "Poppy",
    "Evie",
    "Elsie",
    "Charlotte",
    "Evelyn",
    "Sienna",
    "Daisy",
    "Sofia",
    "Alice",
    "Matilda",
    "Harper",
    "Ruby",
    "Phoebe",
    "Jessica",
    "Elizabeth",
    "Victoria",
    "Katherine",
    "Margaret",
    "Rebecca",
    "Abigail",
    "Hannah",
    "Chloe",
    "Amira",
    "Zara",
    "Maryam",
    "Aisha",
    "Fatima",
    "Layla",
    "Nadia",
    "Priya",
    "Anaya",
    "Chidera",
    "Ngozi",
    "Zofia",
    "Maja",
    "Lena",
]
GIVEN_BOYS = [
    "Muhammad",
    "Noah",
    "Oliver",
    "George",
    "Leo",
    "Arthur",
    "Oscar",
    "Harry",
    "Archie",
    "Jack",
    "Henry",
    "Charlie",
    "Freddie",
    "Theodore",
    "Thomas",
    "Jacob",
    "Alfie",
    "Finley",
    "Isaac",
    "Joshua",
    "Alexander",
    "Edward",
    "William",
    "James",
    "Daniel",
    "Samuel",
    "Joseph",
    "Benjamin",
    "Matthew",
    "Christopher",
    "Jayden",
    "Tyler",
    "Riley",
    "Mason",
    "Logan",
    "Ethan",
    "Lucas",
    "Ibrahim",
    "Yusuf",
    "Omar",
    "Ali",
    "Hamza",
    "Arjun",
    "Rohan",
    "Kwame",
    "Tobi",
    "Emeka",
    "Jakub",
    "Szymon",
    "Mateusz",
    "Luca",
]
FAMILY = [
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Miller",
    "Cox",
    "Richards",
    "Khan",
    "Marshall",
    "Anderson",
    "Simpson",
    "Ellis",
    "Adams",
    "Singh",
    "Begum",
    "Wilkinson",
    "Foster",
    "Chapman",
    "Powell",
    "Webb",
    "Rogers",
    "Gray",
    "Mason",
    "Ali",
    "Hunt",
    "Hussain",
    "Campbell",
    "Matthews",
    "Owen",
    "Palmer",
    "Holmes",
    "Mills",
    "Barnes",
    "Knight",
    "Lloyd",
    "Butler",
    "Russell",
    "Barker",
    "Fisher",
    "Stevens",
    "Jenkins",
    "Murray",
    "Dixon",
    "Harvey",
    "Graham",
    "Pearson",
    "Ahmed",
    "Fletcher",
    "Walsh",
    "Kaur",
    "Gibson",
    "Howard",
    "Andrews",
    "Stewart",
    "Elliott",
    "Reynolds",
    "Saunders",
    "Payne",
    "Fox",
    "Ford",
    "Pearce",
    "Day",
    "Brooks",
    "West",
    "Lawrence",
    "Cole",
    "Atkinson",
    "Bradley",
    "Spencer",
    "Gill",
    "Dawson",
    "Ball",
    "Burton",
    "O'Brien",
    "Watts",
    "Rose",
    "Booth",
    "Perry",
    "Ryan",
    "Grant",
    "Wells",
    "Armstrong",
    "Francis",
    "Rees",
    "Hayes",
    "Hart",
    "Hudson",
    "Newman",
    "Barrett",
    "Gregory",
    "Lowe",
    "Okafor",
    "Adeyemi",
    "Nowak",
    "Kowalski",
    "Wisniewski",
    "Mensah",
    "Osei",
    "Chowdhury",
    "Rahman",
    "Miah",
    "Islam",
    "Uddin",
    "Sharma",
    "Kumar",
    "Gupta",
    "Mahmood",
    "Iqbal",
    "Akhtar",
    "Nguyen",
]
STREETS = [
    "High Street",
    "Station Road",
    "Church Lane",
    "Mill Lane",
    "Park Road",
    "Victoria Road",
    "Green Lane",
    "Manor Road",
    "Church Street",
    "Kings Road",
    "Queens Road",
    "New Road",
    "School Lane",
    "The Avenue",
    "Grange Road",
    "North Street",
    "London Road",
    "Albert Road",
    "Springfield Road",
    "Chapel Street",
    "Windsor Road",
    "York Road",
    "Highfield Road",
    "George Street",
    "Alexandra Road",
    "Main Street",
    "Orchard Close",
    "Meadow Way",
    "Willow Drive",
    "Beech Avenue",
    "Oak Road",
    "Elm Grove",
    "Ash Close",
    "Cedar Way",
    "Maple Drive",
    "Holly Close",
    "Hawthorn Road",
    "Rowan Way",
    "Birch Grove",
    "Larch Close",
]
NICKNAMES = {
    "William": ["Will", "Billy", "Bill"],
    "James": ["Jim", "Jimmy", "Jamie"],
    "Thomas": ["Tom", "Tommy"],
    "Alexander": ["Alex", "Sandy"],
    "Edward": ["Ed", "Eddie", "Ted"],
    "Joseph": ["Joe", "Joey"],
    "Benjamin": ["Ben", "Benny"],
    "Samuel": ["Sam", "Sammy"],
    "Daniel": ["Dan", "Danny"],
    "Matthew": ["Matt"],
    "Christopher": ["Chris", "Kit"],
    "Theodore": ["Theo", "Teddy"],
    "Henry": ["Harry", "Hal"],
    "Frederick": ["Freddie", "Fred"],
    "Elizabeth": ["Liz", "Beth", "Lizzie", "Betty"],
    "Katherine": ["Kate", "Katie", "Kathy"],
    "Margaret": ["Maggie", "Peggy", "Meg"],
    "Rebecca": ["Becky", "Becca"],
    "Abigail": ["Abby", "Gail"],
    "Victoria": ["Vicky", "Tori"],
    "Jessica": ["Jess", "Jessie"],
    "Isabella": ["Bella", "Izzy"],
    "Charlotte": ["Lottie", "Charlie"],
    "Florence": ["Flo", "Florrie"],
    "Matilda": ["Tilly", "Tilda"],
    "Sophia": ["Sophie"],
}
AGENCIES = (
    # code, chance of holding a child, chance its record carries the NHS number, of a UPN
    ("GP", 0.98, 0.92, 0.0),
    ("HOSP", 0.55, 0.85, 0.0),
    ("SCHOOL", 0.85, 0.25, 0.97),
    ("COUNCIL", 0.55, 0.55, 0.35),
    ("POLICE", 0.45, 0.0, 0.0),
)


@dataclass
class Child:
    child_id: str
    given: str
    family: str
    birth_date: date
    sex: str
    nhs_number: str
    upn: str
    address: str
    postcode: str
    old_address: str
    old_postcode: str
    twin_of: str | None = None


@dataclass
class County:
    children: list[Child]
    records: list[SourceRecord]
    truth: dict[str, str]  # record id -> child id
    twins: list[tuple[str, str]] = field(default_factory=list)
    households: dict[str, list[str]] = field(default_factory=dict)  # address -> child ids


def nhs_number(rng: random.Random) -> str:
    """A random NHS number that passes the modulus 11 check (synthetic, never issued)."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        if len(set(digits)) == 1:
            continue
        total = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check == 10:
            continue
        return "".join(map(str, digits)) + str(check)


def _upn(rng: random.Random) -> str:
    return upn_with_check_letter(f"{rng.randrange(800, 999)}{rng.randrange(10**9):09d}")


def _postcode(rng: random.Random) -> str:
    area = rng.choice(["LS", "BD", "HX", "WF", "HD", "YO", "HG", "DN", "S", "M"])
    unit = rng.choice(_UNIT_LETTERS) + rng.choice(_UNIT_LETTERS)
    return f"{area}{rng.randrange(1, 30)} {rng.randrange(1, 10)}{unit}"


_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def _address(rng: random.Random) -> str:
    return f"{rng.randrange(1, 200)} {rng.choice(STREETS)}"


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word))
    kind = rng.randrange(4)
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind == 0:  # substitute
        return word[:i] + rng.choice(letters) + word[i + 1 :]
    if kind == 1:  # delete
        return word[:i] + word[i + 1 :]
    if kind == 2:  # insert
        return word[:i] + rng.choice(letters) + word[i:]
    if i < len(word) - 1:  # transpose neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word


def _given_for(rng: random.Random, sex: str, avoid: set[str]) -> str:
    """A name unlike the siblings': parents do not call twins Sophia and Sofia."""
    pool = GIVEN_GIRLS if sex == "female" else GIVEN_BOYS
    if rng.random() < 0.15:
        pool = [n for n in NICKNAMES if n in pool] or pool
    while True:
        name = rng.choice(pool)
        if not any(_alike(name, other) for other in avoid):
            return name


def _alike(a: str, b: str) -> bool:
    return (
        a == b
        or jellyfish.metaphone(a) == jellyfish.metaphone(b)
        or jellyfish.jaro_winkler_similarity(a.upper(), b.upper()) >= 0.8
        or b in NICKNAMES.get(a, ())
        or a in NICKNAMES.get(b, ())
    )


def make_county(children: int, *, seed: int = 1, start_index: int = 0) -> County:
    """About ``children`` children in families, each held by ~3.4 agencies with noise."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    made: list[Child] = []
    twins: list[tuple[str, str]] = []
    households: dict[str, list[str]] = {}
    epoch = date(2008, 9, 1)
    latest = date(2026, 9, 1)
    n = start_index
    while len(made) < children:
        family = rng.choice(FAMILY)
        if rng.random() < 0.08:
            family = f"{family}-{rng.choice(FAMILY)}"
        address, postcode = _address(rng), _postcode(rng)
        old_address, old_postcode = _address(rng), _postcode(rng)
        size = rng.choice((1, 1, 1, 2, 2, 2, 3, 3, 4))
        used: set[str] = set()
        born = epoch + timedelta(days=rng.randrange(0, 15 * 365))
        members: list[Child] = []
        for k in range(size):
            if len(made) + len(members) >= children:
                break
            sex = rng.choice(("female", "male"))
            twin = k > 0 and rng.random() < 0.05
            if not twin and k > 0:
                born = born + timedelta(days=rng.randrange(300, 1500))
                if born > latest:  # the family's youngest: born some time in the last years
                    born = latest - timedelta(days=rng.randrange(0, 3 * 365))
            given = _given_for(rng, sex, used)
            used.add(given)
            child = Child(
                child_id=f"C{n:08d}",
                given=given,
                family=family,
                birth_date=born,
                sex=sex,
                nhs_number=nhs_number(rng),
                upn=_upn(rng),
                address=address,
                postcode=postcode,
                old_address=old_address,
                old_postcode=old_postcode,
                twin_of=members[-1].child_id if twin else None,
            )
            if twin:
                twins.append((members[-1].child_id, child.child_id))
            n += 1
            members.append(child)
        made.extend(members)
        households[f"{address}|{postcode}"] = [c.child_id for c in members]
    records: list[SourceRecord] = []
    truth: dict[str, str] = {}
    for child in made:
        for agency, held, with_nhs, with_upn in AGENCIES:
            if rng.random() >= held:
                continue
            record = _noisy(rng, child, agency, with_nhs, with_upn, len(records))
            records.append(record)
            truth[record.record_id] = child.child_id
    rng.shuffle(records)
    return County(children=made, records=records, truth=truth, twins=twins, households=households)


def _noisy(
    rng: random.Random, child: Child, agency: str, with_nhs: float, with_upn: float, n: int
) -> SourceRecord:
    sloppy = agency in ("POLICE", "COUNCIL")
    p = 2.0 if sloppy else 1.0
    given, family = child.given, child.family
    if given in NICKNAMES and rng.random() < 0.25 * p:
        given = rng.choice(NICKNAMES[given])
    if rng.random() < 0.06 * p:
        given = _typo(rng, given)
    if "-" in family and rng.random() < 0.4:
        family = rng.choice(family.split("-"))
    elif "-" in family and rng.random() < 0.2:
        family = family.replace("-", " ")
    if rng.random() < 0.05 * p:
        family = _typo(rng, family)
    if rng.random() < 0.015 * p:
        given, family = family, given
    born: date | None
    real = child.birth_date
    born = real
    roll = rng.random()
    if roll < 0.03 * p and real.day <= 12 and real.day != real.month:
        born = date(real.year, real.day, real.month)
    elif roll < 0.05 * p:
        part = rng.randrange(3)
        if part == 0 and not (real.month == 2 and real.day == 29):
            born = real.replace(year=real.year + rng.choice((-1, 1)))
        elif part == 1:
            born = real.replace(month=(real.month % 12) + 1) if real.day <= 28 else real
        else:
            born = real + timedelta(days=rng.choice((-1, 1)))
    elif roll < 0.06 * p:
        born = None
    address: str | None = child.address
    postcode: str | None = child.postcode
    if rng.random() < 0.07 * p:
        address, postcode = child.old_address, child.old_postcode
    if rng.random() < 0.04 * p:
        postcode = None
    if address and rng.random() < 0.2:
        address = address.replace("Road", "Rd").replace("Street", "St").replace("Avenue", "Ave")
    if rng.random() < 0.05 * p:
        address = None
    sex: str | None = child.sex
    if rng.random() < 0.04 * p:
        sex = None
    if rng.random() < 0.3:
        given, family = given.upper(), family.upper()
    return SourceRecord(
        record_id=f"{agency}-{n:09d}",
        agency=agency,
        nhs_number=child.nhs_number if rng.random() < with_nhs else None,
        upn=child.upn if rng.random() < with_upn else None,
        given_name=given,
        family_name=family,
        birth_date=born,
        sex=sex,
        address=address,
        postcode=postcode,
    )
