"""The model itself: identifiers first, twins apart, the same score in bulk and live."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from hub.linkage.bulk import People, Thresholds, link_bulk, pairwise_scores
from hub.linkage.features import features
from hub.linkage.live import Candidate, MemoryIndex, decide
from hub.linkage.model import Scorer
from hub.linkage.records import SourceRecord
from hub.linkage.testdata import County, nhs_number
from hub.vocab import LinkOutcome

THRESHOLDS = Thresholds(link=0.0, review=-8.0)

JAYDEN = SourceRecord(
    record_id="GP-1",
    agency="GP",
    nhs_number="9434765919",
    given_name="Jayden",
    family_name="Smyth",
    birth_date=date(2015, 4, 3),
    sex="male",
    address="14 Mill Lane",
    postcode="LE1 6AB",
)


def index_of(*records: SourceRecord) -> MemoryIndex:
    index = MemoryIndex()
    for n, record in enumerate(records):
        index.add(Candidate(record.record_id, f"person-{n}", features(record)))
    return index


def test_the_issue_example_links_live(scorer: Scorer) -> None:
    school = replace(
        JAYDEN,
        record_id="SCH-1",
        agency="SCHOOL",
        nhs_number=None,
        upn="B801200005001",
        given_name="Jaydon",
        family_name="Smith",
        birth_date=date(2015, 3, 4),
    )
    decision = decide(scorer, THRESHOLDS, features(school), index_of(JAYDEN))
    assert decision.outcome is LinkOutcome.LINK
    assert decision.person_id == "person-0"
    assert decision.best is not None
    levels = {f.field: f.level for f in decision.best.score.fields}
    assert levels["birth_date"] == "day and month transposed"


def test_conflicting_nhs_numbers_are_never_linked_live(scorer: Scorer) -> None:
    same_but_other_number = replace(JAYDEN, record_id="HOSP-1", nhs_number="9876544322")
    decision = decide(scorer, THRESHOLDS, features(same_but_other_number), index_of(JAYDEN))
    assert decision.outcome is LinkOutcome.APART
    assert decision.reviews == []


def test_conflicting_nhs_numbers_are_never_joined_in_bulk() -> None:
    a = features(JAYDEN)
    b = features(replace(JAYDEN, record_id="HOSP-1", nhs_number="9876544322"))
    c = features(replace(JAYDEN, record_id="SCH-1", nhs_number=None))
    people = People([a, b, c])
    assert people.union("GP-1", "SCH-1")
    assert not people.union("HOSP-1", "SCH-1")  # SCH-1 now carries GP-1's number
    assert people.find("HOSP-1") != people.find("GP-1")


def test_a_twin_is_sent_to_review_not_linked(scorer: Scorer) -> None:
    twin = replace(JAYDEN, record_id="SCH-2", nhs_number=None, given_name="Jade", sex="female")
    decision = decide(scorer, THRESHOLDS, features(twin), index_of(JAYDEN))
    assert decision.outcome is LinkOutcome.REVIEW
    assert decision.person_id is None


def test_live_score_equals_splink_weight(county: County, trained: dict[str, Any]) -> None:
    from splink import DuckDBAPI, Linker

    from hub.linkage.model import arrow_table

    rows = [features(r) for r in county.records[:400]]
    linker = Linker(DuckDBAPI().register(arrow_table(rows)), trained["splink"])
    table = linker.inference.predict().as_pyarrow_table()
    by_id = {r.record_id: r for r in rows}
    scorer = Scorer(trained, version="test")
    checked = 0
    for left, right, weight in zip(
        table.column("unique_id_l").to_pylist(),
        table.column("unique_id_r").to_pylist(),
        table.column("match_weight").to_pylist(),
        strict=True,
    ):
        assert scorer.score(by_id[left], by_id[right]).weight == pytest.approx(weight, abs=1e-6)
        checked += 1
    assert checked > 50


@pytest.mark.slow
def test_bulk_linkage_keeps_twins_apart(county: County, trained: dict[str, Any]) -> None:
    result = link_bulk(county.records, THRESHOLDS, model=trained)
    scores = pairwise_scores(result.person_of, county.truth)
    people_of_child: dict[str, set[str]] = {}
    for record, person in result.person_of.items():
        people_of_child.setdefault(county.truth[record], set()).add(person)
    merged = [(a, b) for a, b in county.twins if people_of_child[a] & people_of_child[b]]
    assert county.twins, "the generator made no twins"
    assert merged == []
    assert scores["precision"] >= 0.995
    assert scores["recall"] >= 0.9


def test_generated_nhs_numbers_are_valid() -> None:
    import random

    from hub.identifiers import normalise_nhs_number

    rng = random.Random(5)
    for _ in range(50):
        number = nhs_number(rng)
        assert normalise_nhs_number(number) == number
