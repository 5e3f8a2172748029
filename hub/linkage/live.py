"""Link one incoming record against the index with the trained model, without the batch.

Candidates come from the same blocking keys the bulk run joins on, through an index (in
memory for the benchmark, keyed hashes in the database for the API); each candidate pair is
scored by :class:`~hub.linkage.model.Scorer` from the saved m and u.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hub.linkage.bulk import Thresholds
from hub.linkage.features import Features
from hub.linkage.model import PairScore, Scorer, current_model_path
from hub.vocab import LinkOutcome


def block_keys(f: Features) -> list[str]:
    """The keys a record is indexed under, one family per rule in spec.BLOCKING_RULES."""
    keys: list[str] = []
    if f.dob_key:
        keys.append(f"dob:{f.dob_key}")
    if f.names_key:
        keys.append(f"names:{f.names_key}")  # found only by a record without a date
        if f.dob is None:
            keys.append(f"names-nodob:{f.names_key}")
        else:
            keys.append(f"names-y:{f.names_key}|{f.dob_y}")
            keys.append(f"names-md:{f.names_key}|{f.dob_m}-{f.dob_d}")
    keys.extend(_place_keys(f))
    return keys


def query_keys(f: Features) -> list[str]:
    """The keys to look a record's candidates up by: the pairs the bulk rules would make."""
    keys: list[str] = []
    if f.dob_key:
        keys.append(f"dob:{f.dob_key}")
    if f.names_key:
        if f.dob is None:
            keys.append(f"names:{f.names_key}")
        else:
            keys.append(f"names-y:{f.names_key}|{f.dob_y}")
            keys.append(f"names-md:{f.names_key}|{f.dob_m}-{f.dob_d}")
            keys.append(f"names-nodob:{f.names_key}")
    keys.extend(_place_keys(f))
    return keys


def _place_keys(f: Features) -> list[str]:
    keys: list[str] = []
    if f.postcode and f.given_ph:
        keys.append(f"pc-given:{f.postcode}|{f.given_ph}")
    if f.postcode and f.family_ph:
        keys.append(f"pc-family:{f.postcode}|{f.family_ph}")
    return keys


@dataclass(frozen=True)
class Candidate:
    record_id: str
    person_id: str
    features: Features


class CandidateSource(Protocol):
    def candidates(self, keys: Sequence[str]) -> Iterable[Candidate]: ...


class MemoryIndex:
    """Blocking keys to records, in memory: what the benchmark links one record against."""

    def __init__(self) -> None:
        self._items: list[Candidate] = []
        self._by_key: dict[str, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, candidate: Candidate) -> None:
        n = len(self._items)
        self._items.append(candidate)
        for key in block_keys(candidate.features):
            self._by_key[key].append(n)

    def candidates(self, keys: Sequence[str]) -> Iterable[Candidate]:
        seen: set[int] = set()
        for key in keys:
            for n in self._by_key.get(key, ()):
                if n not in seen:
                    seen.add(n)
                    yield self._items[n]


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: PairScore


@dataclass
class LiveDecision:
    outcome: LinkOutcome
    person_id: str | None = None
    best: Scored | None = None
    reviews: list[Scored] = field(default_factory=list)


def decide(
    scorer: Scorer,
    thresholds: Thresholds,
    incoming: Features,
    source: CandidateSource,
    conflicting: set[str] | None = None,
) -> LiveDecision:
    """Link to one person only when exactly one clears the threshold; doubt goes to review.

    ``conflicting`` names people already known to hold a different NHS number.
    """
    conflicting = set(conflicting or ())
    best_by_person: dict[str, Scored] = {}
    score_against = scorer.against(incoming, floor=thresholds.review)  # below it: apart
    for candidate in source.candidates(query_keys(incoming)):
        other = candidate.features
        if incoming.nhs and other.nhs and incoming.nhs != other.nhs:
            conflicting.add(candidate.person_id)  # a different child, whatever else agrees
            continue
        score = score_against(other)
        if score is None:
            continue
        held = best_by_person.get(candidate.person_id)
        if held is None or score.weight > held.score.weight:
            best_by_person[candidate.person_id] = Scored(candidate, score)
    ranked = sorted(
        (s for p, s in best_by_person.items() if p not in conflicting),
        key=lambda s: -s.score.weight,
    )
    linkable = [s for s in ranked if s.score.weight >= thresholds.link and not s.score.vetoed()]
    doubtful = [s for s in ranked if s.score.weight >= thresholds.review]
    if len(linkable) == 1:
        best = linkable[0]
        others = [s for s in doubtful if s is not best][:3]
        return LiveDecision(LinkOutcome.LINK, best.candidate.person_id, best, others)
    if doubtful:
        return LiveDecision(LinkOutcome.REVIEW, None, doubtful[0], doubtful[:3])
    return LiveDecision(LinkOutcome.APART)


class LiveLinker:
    """The current trained model for this hub, reloaded when a new version is saved."""

    def __init__(self, data_dir: Path, thresholds: Thresholds) -> None:
        self.data_dir = data_dir
        self.thresholds = thresholds
        self._path: Path | None = None
        self._mtime: float = 0.0
        self._scorer: Scorer | None = None

    def scorer(self) -> Scorer | None:
        """None until a model has been trained: linking is then by identifiers alone."""
        path = current_model_path(self.data_dir)
        if path is None:
            return None
        mtime = path.stat().st_mtime
        if self._scorer is None or path != self._path or mtime != self._mtime:
            self._scorer = Scorer.load(path)
            self._path, self._mtime = path, mtime
        return self._scorer
