"""Link a whole county: the children first, then the adults around them (Think Family).

Children are linked by the model on their own records. Adults who carry a date of birth or
an address (health's RelatedPerson, the council's parents and carers, police nominals) are
linked by the same model trained on the adults' records, since an adult's records differ
from a child's in other ways (no UPN, more NHS numbers, older dates).

Many adult records carry a name alone: a school's contacts hold a forename, a surname and a
relationship. On their own they can be scored against nobody (half the county is a Smith or
a Jones to the model), but each is tied to a child, and that child is now linked. Among the
records tied to one child (their parents, carers and contacts, as every agency names them)
two records are the same adult when their given names agree and nothing else (family name,
sex, date of birth, NHS number) says otherwise. This is weighed with the model's own field
weights over a prior for two adult records around the same child, learnt from the pairs
whose NHS numbers tell; a family's shared address and postcode are no evidence there, so
they are left out.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hub.linkage.bulk import BulkResult, Pair, People, Thresholds, link_bulk
from hub.linkage.families import household_key
from hub.linkage.features import Features, features
from hub.linkage.model import Scorer
from hub.linkage.records import SourceRecord
from hub.linkage.spec import VETO_LEVELS
from hub.vocab import LinkMethod, LinkOutcome, PersonKind

OTHER_FIELDS = ("family_name", "birth_date", "sex")
"""With the given name, what tells two adults around one child apart; they share the
address and postcode, so those are no evidence here."""

GIVEN_NAME_AGREES = frozenset(
    {
        "exact",
        "nickname",
        "jaro-winkler >= 0.92",
        "sounds alike",
        "one edit apart",
        "swapped with family name",
        "spelt another way",
    }
)
"""Around one child, a mother and a grandmother share the surname: the given name decides."""

PRIOR_BOUNDS = (0.05, 0.95)
DEFAULT_PRIOR = -1.0
"""Bits, for a model that did not learn it: a 100,000-child county learns about -0.9."""
PRIOR_KEY = "around_a_child_prior"

FieldLevel = tuple[str, str, float]
Weighed = tuple[float, tuple[FieldLevel, ...], bool]
"""A pair's weight around one child, its fields, and whether a field vetoes a link."""


@dataclass
class CountyResult:
    person_of: dict[str, str]
    pairs: list[Pair]
    children: BulkResult
    adults: BulkResult | None
    family_prior: float
    seconds: dict[str, float] = field(default_factory=dict)

    def reviews(self) -> list[Pair]:
        return [p for p in self.pairs if p.outcome is LinkOutcome.REVIEW]


def can_be_scored(record: SourceRecord) -> bool:
    """A date of birth or an address: enough for the model to tell a namesake apart."""
    return bool(record.birth_date or record.postcode or record.nhs_number)


def link_county(records: Sequence[SourceRecord], thresholds: Thresholds) -> CountyResult:
    """Children by the model, adults by the model where they can be, then through children."""
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    children = [r for r in records if r.kind == PersonKind.CHILD]
    adults = [r for r in records if r.kind != PersonKind.CHILD]

    every = {r.record_id: features(r) for r in records}
    seconds["features"] = time.perf_counter() - started

    mark = time.perf_counter()
    child_result = link_bulk(children, thresholds, rows=[every[r.record_id] for r in children])
    seconds["children"] = time.perf_counter() - mark

    mark = time.perf_counter()
    scorable = [r for r in adults if can_be_scored(r)]
    adult_result = (
        link_bulk(scorable, thresholds, rows=[every[r.record_id] for r in scorable])
        if scorable
        else None
    )
    seconds["adults"] = time.perf_counter() - mark

    mark = time.perf_counter()
    rows = {r.record_id: every[r.record_id] for r in adults}
    people = People(rows.values())
    pairs = list(child_result.pairs)
    if adult_result is not None:
        for record, person in adult_result.person_of.items():
            people.union(record, person)
        pairs += adult_result.pairs
    scorer = Scorer((adult_result or child_result).model, version="county")
    homes = {
        r.record_id: key for r in children if (key := household_key(every[r.record_id])) is not None
    }
    around = adults_around_children(adults, child_result.person_of, homes)
    prior = family_prior(around, {r: f.nhs for r, f in rows.items()})
    if adult_result is not None:
        adult_result.model[PRIOR_KEY] = prior  # saved with the model, for live linking
    pairs += link_through_children(around, rows, people, scorer, thresholds, prior)
    person_of = dict(child_result.person_of)
    person_of.update((record, people.find(record)) for record in rows)
    seconds["through_children"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    return CountyResult(person_of, pairs, child_result, adult_result, prior, seconds)


def adults_around_children(
    adults: Iterable[SourceRecord], child_person_of: dict[str, str], homes: dict[str, str]
) -> list[list[str]]:
    """Groups of adult records that may name the same adult: those any agency ties to one
    linked child, and those tied to children living at one address (a child a school knows
    but health does not is still their sibling's sibling at home)."""
    around: dict[str, list[str]] = defaultdict(list)
    for record in adults:
        groups = {child_person_of[c] for c in record.carer_of if c in child_person_of}
        groups |= {homes[c] for c in record.carer_of if c in homes}
        for group in sorted(groups):
            around[group].append(record.record_id)
    return [members for members in around.values() if len(members) > 1]


def family_prior(around: Sequence[Sequence[str]], nhs_of: Mapping[str, str | None]) -> float:
    """How often two adult records around one child are one adult, from the pairs where both
    carry an NHS number (which say so for certain), bounded away from 0 and 1."""
    same = told = 0
    for members in around:
        held = [n for m in members if (n := nhs_of.get(m))]
        for i, a in enumerate(held):
            for b in held[i + 1 :]:
                told += 1
                same += a == b
    low, high = PRIOR_BOUNDS
    share = min(high, max(low, same / told)) if told else 0.5
    return math.log2(share / (1.0 - share))


def weigh_around_a_child(scorer: Scorer, a: Features, b: Features, prior: float) -> Weighed | None:
    """The pair's weight around one child, its fields, and whether a field vetoes a link;
    None when the given names do not agree (two adults of one family)."""
    given = scorer.field("given_name", a, b)
    if given.level not in GIVEN_NAME_AGREES:
        return None
    found = [given] + [scorer.field(name, a, b) for name in OTHER_FIELDS]
    fields = tuple((f.field, f.level, f.weight) for f in found)
    vetoed = any(f.level in VETO_LEVELS.get(f.field, ()) for f in found)
    return prior + sum(f.weight for f in found), fields, vetoed


def _signature(f: Features) -> tuple[object, ...]:
    return (f.given, f.family, f.dob, f.sex)


def link_through_children(
    around: Sequence[Sequence[str]],
    rows: dict[str, Features],
    people: People,
    scorer: Scorer,
    thresholds: Thresholds,
    prior: float,
) -> list[Pair]:
    """Join adult records around the same child whose names agree; strongest first.

    Within a group, records of one person that read alike are compared once. A record that
    agrees with two adults around the child who can never be one (their NHS numbers differ)
    joins neither and goes to review, as in bulk linkage of children.
    """
    scored: dict[tuple[str, str], Pair] = {}
    compared: dict[tuple[tuple[object, ...], tuple[object, ...]], Weighed | None] = {}
    for members in around:
        distinct: dict[tuple[str, tuple[object, ...]], str] = {}
        for m in members:
            distinct.setdefault((people.find(m), _signature(rows[m])), m)
        keys = list(distinct.items())
        for i, ((root_a, sig_a), a) in enumerate(keys):
            for (root_b, sig_b), b in keys[i + 1 :]:
                if root_a == root_b:
                    continue
                pair_key = (a, b) if a < b else (b, a)
                if pair_key in scored:
                    continue
                seen = (sig_a, sig_b)
                if seen in compared:
                    weighed = compared[seen]
                else:
                    weighed = compared[seen] = weigh_around_a_child(scorer, rows[a], rows[b], prior)
                if weighed is None:
                    continue
                weight, fields, vetoed = weighed
                if weight < thresholds.review:
                    continue
                outcome = LinkOutcome.REVIEW
                if weight >= thresholds.link and not vetoed:
                    outcome = LinkOutcome.LINK
                method = str(LinkMethod.THROUGH_CHILD)
                scored[pair_key] = Pair(*pair_key, weight, outcome, method, fields)
    ambiguous = _agrees_with_two_people(scored.values(), people)
    pairs: list[Pair] = []
    for pair in sorted(scored.values(), key=lambda p: -p.weight):
        outcome = pair.outcome
        if outcome is LinkOutcome.LINK and (pair.left in ambiguous or pair.right in ambiguous):
            outcome = LinkOutcome.REVIEW
        if outcome is LinkOutcome.LINK:
            joined = people.union(pair.left, pair.right)
            outcome = LinkOutcome.LINK if joined else LinkOutcome.APART
        elif people.conflict(pair.left, pair.right):
            continue
        pairs.append(Pair(pair.left, pair.right, pair.weight, outcome, pair.method, pair.fields))
    return pairs


def _agrees_with_two_people(pairs: Iterable[Pair], people: People) -> set[str]:
    targets: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        if pair.outcome is LinkOutcome.LINK:
            targets[pair.left].add(people.find(pair.right))
            targets[pair.right].add(people.find(pair.left))
    ambiguous: set[str] = set()
    for record, roots in targets.items():
        close = sorted(roots - {people.find(record)})
        if any(people.conflict(a, b) for i, a in enumerate(close) for b in close[i + 1 :]):
            ambiguous.add(record)
    return ambiguous


def prior_of(model: dict[str, object]) -> float:
    value = model.get(PRIOR_KEY)
    return float(value) if isinstance(value, int | float) else DEFAULT_PRIOR


@dataclass(frozen=True)
class AroundDecision:
    outcome: LinkOutcome
    person_id: str | None = None
    matched_record: str | None = None
    weight: float = 0.0
    fields: tuple[FieldLevel, ...] = ()


def decide_around_a_child(
    scorer: Scorer,
    thresholds: Thresholds,
    prior: float,
    incoming: Features,
    carers: dict[str, list[Features]],
) -> AroundDecision:
    """Live linking of an adult known by name alone, among the carers of their child: linked
    only when exactly one carer clears the threshold, as live linking does elsewhere."""
    best: dict[str, AroundDecision] = {}
    linkable: set[str] = set()
    for person_id, records in carers.items():
        for record in records:
            weighed = weigh_around_a_child(scorer, incoming, record, prior)
            if weighed is None or weighed[0] < thresholds.review:
                continue
            weight, fields, vetoed = weighed
            if weight >= thresholds.link and not vetoed:
                linkable.add(person_id)
            held = best.get(person_id)
            if held is None or weight > held.weight:
                best[person_id] = AroundDecision(
                    LinkOutcome.LINK, person_id, record.record_id, weight, fields
                )
    if len(linkable) == 1 and len(best) == 1:
        return best[next(iter(linkable))]
    if best:
        top = max(best.values(), key=lambda d: d.weight)
        return AroundDecision(LinkOutcome.REVIEW, None, top.matched_record, top.weight, top.fields)
    return AroundDecision(LinkOutcome.APART)
