"""Adults around children: a school's contacts, known by name alone, placed through the child."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from hub.linkage.bulk import People, Thresholds, pairwise_scores
from hub.linkage.county import (
    adults_around_children,
    family_prior,
    link_county,
    link_through_children,
)
from hub.linkage.features import features
from hub.linkage.model import Scorer
from hub.linkage.records import SourceRecord
from hub.synth.linkage import load
from hub.vocab import LinkOutcome

THRESHOLDS = Thresholds(link=-4.0, review=-14.0)
PRIOR = -1.0

MOTHER = SourceRecord(
    record_id="HEALTH|rp-1",
    agency="HEALTH",
    nhs_number="9434765919",
    given_name="Shazia",
    family_name="Hall",
    birth_date=date(1986, 5, 4),
    address="14 Mill Lane",
    postcode="LE1 6AB",
    kind="adult",
    carer_of=("HEALTH|pat-1",),
)
FATHER = replace(
    MOTHER,
    record_id="HEALTH|rp-2",
    nhs_number="9434765927",
    given_name="Daniel",
    birth_date=date(1984, 1, 9),
)


def contact(n: int, given: str, family: str, child: str = "SCHOOL|upn-1") -> SourceRecord:
    return SourceRecord(
        record_id=f"{child}-C{n}",
        agency="SCHOOL",
        given_name=given,
        family_name=family,
        kind="adult",
        carer_of=(child,),
    )


def place(scorer: Scorer, *adults: SourceRecord) -> tuple[People, list[LinkOutcome], dict]:
    # The health and the school record of the child are one linked child.
    child_person_of = {"HEALTH|pat-1": "child-1", "SCHOOL|upn-1": "child-1"}
    rows = {a.record_id: features(a) for a in adults}
    people = People(rows.values())
    around = adults_around_children(adults, child_person_of, {})
    pairs = link_through_children(around, rows, people, scorer, THRESHOLDS, PRIOR)
    return people, [p.outcome for p in pairs], {(p.left, p.right): p for p in pairs}


def test_a_contact_known_by_name_alone_joins_the_parent_around_the_same_child(
    scorer: Scorer,
) -> None:
    mum, dad = contact(1, "Shazia", "Hall"), contact(2, "Danny", "Hall")
    people, _, pairs = place(scorer, MOTHER, FATHER, mum, dad)
    assert people.find(mum.record_id) == people.find(MOTHER.record_id)
    assert people.find(dad.record_id) == people.find(FATHER.record_id)  # Danny: Daniel
    assert people.find(MOTHER.record_id) != people.find(FATHER.record_id)
    # The link carries its reasons: the name fields and their weights, not the address.
    link = pairs[tuple(sorted((mum.record_id, MOTHER.record_id)))]
    assert link.method == "through-child" and link.outcome is LinkOutcome.LINK
    assert {name for name, _, _ in link.fields} == {
        "given_name",
        "family_name",
        "birth_date",
        "sex",
    }


def test_a_contact_is_never_placed_around_a_child_it_is_not_tied_to(scorer: Scorer) -> None:
    stranger = contact(1, "Shazia", "Hall", child="SCHOOL|upn-9")
    people, outcomes, _ = place(scorer, MOTHER, stranger)
    assert people.find(stranger.record_id) == stranger.record_id
    assert outcomes == []


def test_two_adults_of_one_name_around_a_child_send_the_contact_to_review(
    scorer: Scorer,
) -> None:
    # A mother and her partner both called Shazia Hall: the contact could be either.
    partner = replace(FATHER, given_name="Shazia", birth_date=date(1990, 2, 2))
    mum = contact(1, "Shazia", "Hall")
    people, outcomes, _ = place(scorer, MOTHER, partner, mum)
    assert people.find(mum.record_id) == mum.record_id
    assert LinkOutcome.REVIEW in outcomes and LinkOutcome.LINK not in outcomes
    assert people.find(MOTHER.record_id) != people.find(partner.record_id)


def test_adults_whose_given_names_differ_stay_apart_unreviewed(scorer: Scorer) -> None:
    mum, gran = contact(1, "Shazia", "Hall"), contact(2, "Maureen", "Hall")
    people, outcomes, _ = place(scorer, mum, gran)
    assert people.find(mum.record_id) != people.find(gran.record_id)
    assert outcomes == []


def test_the_prior_around_a_child_comes_from_pairs_whose_nhs_numbers_tell() -> None:
    same = replace(MOTHER, record_id="COUNCIL|1", carer_of=())
    nhs_of = {r.record_id: r.nhs_number for r in (MOTHER, FATHER, same)}
    # One pair in three carries the same NHS number: 1/3 is -1 bit.
    prior = family_prior([[MOTHER.record_id, FATHER.record_id, same.record_id]], nhs_of)
    assert abs(prior - (-1.0)) < 1e-9
    assert family_prior([], nhs_of) == 0.0


def test_a_synth_county_links_its_adults_as_well_as_its_children(tmp_path: Path) -> None:
    county = load(1500, 5, tmp_path)
    result = link_county(county.records, THRESHOLDS)
    scores = pairwise_scores(result.person_of, county.truth)
    adults = {r.record_id for r in county.records if r.kind == "adult"}
    adult_scores = pairwise_scores(
        {r: p for r, p in result.person_of.items() if r in adults},
        {r: p for r, p in county.truth.items() if r in adults},
    )
    assert scores["precision"] >= 0.999
    assert adult_scores["recall"] >= 0.97
    # No record of a child is ever a person with an adult's record.
    kind = {r.record_id: r.kind for r in county.records}
    members: dict[str, set[str]] = {}
    for record, person in result.person_of.items():
        members.setdefault(person, set()).add(kind[record])
    assert all(len(kinds) == 1 for kinds in members.values())
