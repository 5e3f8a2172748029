"""The benchmark's county: a ``hub synth`` county read back through the agencies' adapters."""

from __future__ import annotations

from pathlib import Path

from hub.linkage.bulk import pairwise_scores
from hub.synth.linkage import load


def test_a_synth_county_loads_with_truth_and_twins(tmp_path: Path) -> None:
    county = load(400, 3, tmp_path)
    ids = [r.record_id for r in county.records]
    assert len(ids) == len(set(ids))
    assert set(county.truth) == set(ids)
    assert {r.agency.split("-")[0] for r in county.records} >= {"COUNTY", "SCHOOL"}
    kinds = {r.record_id: r.kind for r in county.records}
    for record, pid in county.truth.items():
        # A child of the county's day may be 18 by today: the adapters say adult then.
        assert kinds[record] == "adult" or pid.split("-")[1].startswith("C")
    # Every adult's ties name records the county holds (a child's, or one now 18).
    children = {r for r, kind in kinds.items() if kind == "child"}
    tied = [r for r in county.records if r.carer_of]
    assert len(tied) > len(children) // 2
    assert all(set(r.carer_of) <= set(ids) and r.kind == "adult" for r in tied)
    assert sum(len(set(r.carer_of) & children) for r in tied) > len(tied) * 0.9
    # Children held by more than one agency are what there is to link.
    perfect = pairwise_scores({r: county.truth[r] for r in ids}, county.truth)
    assert perfect["true_pairs"] > 200
    for a, b in county.twins:
        assert a.split("-")[0] == b.split("-")[0]  # one family


def test_a_cached_county_is_read_back_the_same(tmp_path: Path) -> None:
    first = load(150, 4, tmp_path)
    again = load(150, 4, tmp_path)
    assert again.records == first.records
    assert again.truth == first.truth
