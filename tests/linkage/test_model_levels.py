"""What the synth county taught the model: spellings, moves, identical twins, fast blocks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from hub.linkage.bulk import Thresholds, link_bulk
from hub.linkage.features import Features, clean_name, features
from hub.linkage.live import MemoryIndex, block_keys, query_keys
from hub.linkage.model import Scorer
from hub.linkage.records import SourceRecord
from hub.linkage.spec import COMPARISONS
from hub.linkage.testdata import County
from hub.vocab import LinkOutcome

THRESHOLDS = Thresholds(link=0.0, review=-8.0)

OLIVIA = SourceRecord(
    record_id="HEALTH|pat-1",
    agency="HEALTH",
    nhs_number="9434765919",
    given_name="Olivia",
    family_name="Taylor",
    birth_date=date(2017, 12, 27),
    sex="female",
    address="210 Manor Way, Oakham Cross",
    postcode="LE23 8TP",
)


def level(scorer: Scorer, a: SourceRecord, b: SourceRecord, field: str) -> str | None:
    return scorer.score(features(a), features(b)).level(field)


def test_accents_are_folded_not_dropped() -> None:
    assert clean_name("Wiśniewski") == "WISNIEWSKI"
    assert clean_name("Nguyễn") == "NGUYEN"


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        ("George", "Gborge", "one edit apart"),
        ("Ivy", "Iy", "one edit apart"),
        ("Ibrahim", "Ebrahim", "one edit apart"),
        ("Aisha", "Ayesha", "spelt another way"),
        ("Jade", "Jayden", "jaro-winkler >= 0.8"),
    ],
)
def test_given_name_spellings(scorer: Scorer, one: str, other: str, expected: str) -> None:
    b = replace(OLIVIA, record_id="S", nhs_number=None, given_name=other)
    assert level(scorer, replace(OLIVIA, given_name=one), b, "given_name") == expected


def test_a_move_within_the_town_is_not_a_different_address(scorer: Scorer) -> None:
    moved = replace(OLIVIA, record_id="S", address="87 Hawthorn Rise, Oakham Cross")
    elsewhere = replace(OLIVIA, record_id="T", address="87 Hawthorn Rise, Millbrook")
    assert level(scorer, OLIVIA, moved, "address") == "same town"
    assert level(scorer, OLIVIA, elsewhere, "address") == "All other comparisons"
    weights = scorer.level_weights()["address"]
    assert weights["same town"] > weights["All other comparisons"]


def test_scoring_against_many_equals_scoring_each_pair(county: County, scorer: Scorer) -> None:
    rows = [features(r) for r in county.records[:300]]
    for a in rows[:20]:
        against = scorer.against(a)
        above = scorer.against(a, floor=-8.0)
        for b in rows:
            pair = scorer.score(a, b)
            assert against(b) == pair
            assert above(b) == (pair if pair.weight >= -8.0 else None)


class _Reads:
    """A Features stand-in that remembers which attributes were read."""

    def __init__(self, real: Features) -> None:
        self.real, self.read = real, set[str]()

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self.real, name)


def test_each_comparison_reads_only_the_features_its_sql_names(county: County) -> None:
    rows = [features(r) for r in county.records[:200]]
    for comparison in COMPARISONS:
        read: set[str] = set()
        for a in rows[:10]:
            for b in rows:
                spy = _Reads(b)
                for lv in comparison.levels:
                    if lv.test(a, spy):  # type: ignore[arg-type]
                        break
                read |= spy.read
        assert read <= set(comparison.inputs), comparison.name


def test_live_blocks_find_every_pair_the_bulk_rules_make(
    county: County, trained: dict[str, Any]
) -> None:
    from splink import DuckDBAPI, Linker

    from hub.linkage.model import arrow_table

    rows = [features(r) for r in county.records[:1500]]
    undated = features(replace(county.records[0], record_id="NODATE", birth_date=None))
    rows.append(undated)
    linker = Linker(DuckDBAPI().register(arrow_table(rows)), trained["splink"])
    table = linker.inference.predict().as_pyarrow_table()
    by_id = {r.record_id: r for r in rows}
    pairs = list(
        zip(
            table.column("unique_id_l").to_pylist(),
            table.column("unique_id_r").to_pylist(),
            strict=True,
        )
    )
    assert any("NODATE" in pair for pair in pairs)
    for left, right in pairs:
        a, b = by_id[left], by_id[right]
        assert set(query_keys(a)) & set(block_keys(b)), (left, right)
        assert set(query_keys(b)) & set(block_keys(a)), (left, right)


def test_identical_twins_stay_apart_in_bulk_and_go_to_review(trained: dict[str, Any]) -> None:
    twin = replace(OLIVIA, record_id="HEALTH|pat-2", nhs_number="9876544322")
    school = replace(OLIVIA, record_id="SCHOOL|U1", nhs_number=None, upn="A855201600040")
    padding = [
        replace(
            OLIVIA,
            record_id=f"PAD|{n}",
            nhs_number=None,
            given_name=f"Name{n}",
            family_name=f"Other{n}",
            birth_date=date(2010, 1, 1 + n),
            postcode=None,
            address=None,
        )
        for n in range(20)
    ]
    result = link_bulk([OLIVIA, twin, school, *padding], THRESHOLDS, model=trained)
    assert len({result.person_of[r] for r in ("HEALTH|pat-1", "HEALTH|pat-2", "SCHOOL|U1")}) == 3
    reviewed = {frozenset((p.left, p.right)) for p in result.reviews()}
    assert frozenset(("HEALTH|pat-1", "SCHOOL|U1")) in reviewed
    assert frozenset(("HEALTH|pat-2", "SCHOOL|U1")) in reviewed


def test_memory_index_finds_an_undated_record_by_its_names(scorer: Scorer) -> None:
    from hub.linkage.live import Candidate, decide

    index = MemoryIndex()
    index.add(Candidate(OLIVIA.record_id, "person-1", features(OLIVIA)))
    undated = replace(OLIVIA, record_id="POLICE|N1", nhs_number=None, birth_date=None)
    decision = decide(scorer, THRESHOLDS, features(undated), index)
    assert decision.outcome is not LinkOutcome.APART
