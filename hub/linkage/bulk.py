"""Link whole agency extracts at once: identifiers first, then the trained model over DuckDB.

Every candidate pair ends as one of three outcomes (link, review, keep apart). People are
then formed by joining linked records strongest link first, never joining two records that
carry different NHS numbers (or different UPNs), however the names and dates agree.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hub.linkage.features import Features, features
from hub.linkage.model import Scorer, train
from hub.linkage.records import SourceRecord
from hub.linkage.spec import COMPARISONS, VETO_LEVELS
from hub.vocab import LinkOutcome

AMBIGUITY_MARGIN = 8.0
"""Bits within which a second person's match counts as just as good (2^8: 256 times)."""


@dataclass(frozen=True)
class Thresholds:
    link: float
    review: float


@dataclass(frozen=True)
class Pair:
    left: str
    right: str
    weight: float
    outcome: LinkOutcome
    method: str
    fields: tuple[tuple[str, str, float], ...] = ()


@dataclass
class BulkResult:
    person_of: dict[str, str]  # record id -> person key (the smallest record id in it)
    pairs: list[Pair]
    model: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)

    def reviews(self) -> list[Pair]:
        return [p for p in self.pairs if p.outcome is LinkOutcome.REVIEW]


class People:
    """Union-find over records that refuses any union joining two different NHS numbers."""

    def __init__(self, rows: Iterable[Features]) -> None:
        self.parent: dict[str, str] = {}
        self.nhs: dict[str, set[str]] = {}
        self.upn: dict[str, set[str]] = {}
        for row in rows:
            self.parent[row.record_id] = row.record_id
            self.nhs[row.record_id] = {row.nhs} if row.nhs else set()
            self.upn[row.record_id] = {row.upn} if row.upn else set()

    def find(self, item: str) -> str:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def conflict(self, a: str, b: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        return bool(
            (self.nhs[ra] and self.nhs[rb] and self.nhs[ra] != self.nhs[rb])
            or (self.upn[ra] and self.upn[rb] and self.upn[ra] != self.upn[rb])
        )

    def union(self, a: str, b: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.conflict(ra, rb):
            return False
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.nhs[ra] |= self.nhs.pop(rb)
        self.upn[ra] |= self.upn.pop(rb)
        return True


def deterministic_pairs(rows: Sequence[Features]) -> list[tuple[str, str, str]]:
    """Records sharing a valid NHS number, or a UPN where NHS numbers do not conflict."""
    out: list[tuple[str, str, str]] = []
    for attr in ("nhs", "upn"):
        groups: dict[str, list[Features]] = defaultdict(list)
        for row in rows:
            value = getattr(row, attr)
            if value:
                groups[value].append(row)
        for members in groups.values():
            first = members[0]
            for other in members[1:]:
                if attr == "upn" and first.nhs and other.nhs and first.nhs != other.nhs:
                    continue
                out.append((first.record_id, other.record_id, attr))
    return out


def _level_lookup(scorer: Scorer) -> dict[str, list[tuple[float, str]]]:
    return {
        name: [(w, label) for label, w in levels.items()]
        for name, levels in scorer.level_weights().items()
    }


def _label(lookup: list[tuple[float, str]], weight: float) -> str:
    return min(lookup, key=lambda item: abs(item[0] - weight))[1]


def _doubt_the_ambiguous(scored: list[Pair], people: People) -> list[Pair]:
    """A record that would link to two people who can never be one (their NHS numbers or
    UPNs differ) is linked to neither: identical twins look exactly like this, and a person,
    not the strongest weight, decides which twin the record is. Live linking does the same
    (it links only when exactly one person clears the threshold)."""
    targets: dict[str, dict[str, float]] = defaultdict(dict)
    for pair in scored:
        if pair.outcome is not LinkOutcome.LINK:
            continue
        for here, there in ((pair.left, pair.right), (pair.right, pair.left)):
            root = people.find(there)
            if root != people.find(here):
                held = targets[here].get(root)
                if held is None or pair.weight > held:
                    targets[here][root] = pair.weight
    ambiguous: set[str] = set()
    for record, roots in targets.items():
        if len(roots) < 2:
            continue
        best = max(roots.values())
        close = sorted(r for r, w in roots.items() if w >= best - AMBIGUITY_MARGIN)
        if any(people.conflict(a, b) for i, a in enumerate(close) for b in close[i + 1 :]):
            ambiguous.add(record)
    return [
        replace(pair, outcome=LinkOutcome.REVIEW)
        if pair.outcome is LinkOutcome.LINK and (pair.left in ambiguous or pair.right in ambiguous)
        else pair
        for pair in scored
    ]


def link_bulk(
    records: Sequence[SourceRecord],
    thresholds: Thresholds,
    *,
    model: dict[str, Any] | None = None,
    rows: Sequence[Features] | None = None,
) -> BulkResult:
    """Link a whole county's records; trains the model on them unless one is given.

    ``rows`` are the records' features when the caller has them already, in the same order.
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    rows = [features(r) for r in records] if rows is None else list(rows)
    by_id = {row.record_id: row for row in rows}
    seconds["features"] = time.perf_counter() - started

    mark = time.perf_counter()
    if model is None:
        model, linker = train(rows)
    else:
        from splink import DuckDBAPI, Linker

        from hub.linkage.model import arrow_table

        db = DuckDBAPI()
        linker = Linker(db.register(arrow_table(rows)), model["splink"], log_level="WARNING")
    seconds["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_weight=thresholds.review)
    table = predictions.as_pyarrow_table()
    seconds["predict"] = time.perf_counter() - mark

    mark = time.perf_counter()
    scorer = Scorer(model, version="bulk")
    lookup = _level_lookup(scorer)
    names = [c.name for c in COMPARISONS]
    columns = {name: table.column(f"mw_{name}").to_pylist() for name in names}
    lefts = table.column("unique_id_l").to_pylist()
    rights = table.column("unique_id_r").to_pylist()
    weights = table.column("match_weight").to_pylist()

    pairs: list[Pair] = []
    people = People(rows)
    for left, right, method in deterministic_pairs(rows):
        if people.union(left, right):
            pairs.append(
                Pair(left, right, float("inf"), LinkOutcome.LINK, f"deterministic:{method}")
            )

    scored: list[Pair] = []
    for i, (left, right, weight) in enumerate(zip(lefts, rights, weights, strict=True)):
        a, b = by_id[left], by_id[right]
        if a.nhs and b.nhs:
            continue  # identifiers decided this pair already, one way or the other
        fields = tuple(
            (name, _label(lookup[name], columns[name][i]), columns[name][i]) for name in names
        )
        vetoed = any(level in VETO_LEVELS.get(f, ()) for f, level, _ in fields)
        outcome = (
            LinkOutcome.LINK if weight >= thresholds.link and not vetoed else LinkOutcome.REVIEW
        )
        scored.append(Pair(left, right, weight, outcome, "probabilistic", fields))
    scored = _doubt_the_ambiguous(scored, people)
    scored.sort(key=lambda p: -p.weight)
    for pair in scored:
        if pair.outcome is LinkOutcome.LINK:
            if people.union(pair.left, pair.right):
                pairs.append(pair)
            else:
                pairs.append(
                    Pair(
                        pair.left,
                        pair.right,
                        pair.weight,
                        LinkOutcome.APART,
                        pair.method,
                        pair.fields,
                    )
                )
    for pair in scored:
        if pair.outcome is LinkOutcome.REVIEW and people.find(pair.left) != people.find(pair.right):
            if people.conflict(pair.left, pair.right):
                continue
            pairs.append(pair)
    person_of = {row.record_id: people.find(row.record_id) for row in rows}
    seconds["cluster"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    return BulkResult(person_of=person_of, pairs=pairs, model=model, seconds=seconds)


def pairwise_scores(person_of: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a clustering against the true people."""

    def pairs_in(groups: Iterable[int]) -> int:
        return sum(n * (n - 1) // 2 for n in groups)

    predicted: dict[str, int] = defaultdict(int)
    actual: dict[str, int] = defaultdict(int)
    both: dict[tuple[str, str], int] = defaultdict(int)
    for record, person in person_of.items():
        predicted[person] += 1
        actual[truth[record]] += 1
        both[(person, truth[record])] += 1
    tp = pairs_in(both.values())
    pp = pairs_in(predicted.values())
    ap = pairs_in(actual.values())
    precision = tp / pp if pp else 1.0
    recall = tp / ap if ap else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": float(ap),
        "predicted_pairs": float(pp),
        "wrong_pairs": float(pp - tp),
    }
