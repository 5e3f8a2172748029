"""Linkage benchmark: the hub's model against a plain Splink model, on one generated county.

    python bench/linkage.py [--children N] [--index-size M] [--seed S]

Prints a table, then (last line) one JSON object. The county is a ``hub synth`` county
(written once and cached under ``--cache``, by size and seed), every record (children's and
the adults' around them) read through the agencies' adapters, truth from its truth.csv.
Both models are trained by EM on the county itself and timed end to end (features or
cleaning, training, prediction, clustering). The hub links children, then adults, then
adults known by name alone through the children they are tied to (hub.linkage.county);
plain Splink links all records in one run. Link-one latency is measured against an
in-memory index of ``--index-size`` children (the county's children's records plus filler
children, each one record, from a ``hub synth`` county of another seed).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.linkage.bulk import Thresholds, pairwise_scores
from hub.linkage.county import link_county
from hub.linkage.features import features
from hub.linkage.live import Candidate, MemoryIndex, decide
from hub.linkage.model import Scorer
from hub.linkage.records import SourceRecord
from hub.settings import Settings
from hub.synth.county import County as SynthGenerator
from hub.synth.linkage import AS_OF, SynthCounty
from hub.synth.linkage import load as load_county
from hub.vocab import PersonKind

County = SynthCounty


def quality(person_of: dict[str, str], county: County) -> dict[str, float]:
    scores = pairwise_scores(person_of, county.truth)
    for kind in (PersonKind.CHILD, PersonKind.ADULT):
        mine = {r.record_id for r in county.records if r.kind == kind}
        part = pairwise_scores(
            {r: p for r, p in person_of.items() if r in mine},
            {r: p for r, p in county.truth.items() if r in mine},
        )
        for name in ("precision", "recall", "f1"):
            scores[f"{kind}_{name}"] = part[name]
    children_of: dict[str, set[str]] = defaultdict(set)
    for record, person in person_of.items():
        children_of[person].add(county.truth[record])
    wrongly_merged = sum(len(c) * (len(c) - 1) // 2 for c in children_of.values())
    together = {frozenset(c) for c in children_of.values() if len(c) > 1}
    twins = sum(1 for a, b in county.twins if any(a in group and b in group for group in together))
    n_children = len(set(county.truth.values()))
    scores["wrong_merges_per_10k"] = wrongly_merged * 10_000 / n_children
    scores["twins_merged"] = float(twins)
    return scores


def baseline(records: list[SourceRecord]) -> tuple[dict[str, str], float]:
    """Plain Splink: library comparisons on lightly cleaned columns, default-style training."""
    import pyarrow as pa
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    table = pa.table(
        {
            "unique_id": [r.record_id for r in records],
            "given_name": [(r.given_name or "").lower() or None for r in records],
            "family_name": [(r.family_name or "").lower() or None for r in records],
            "birth_date": [r.birth_date.isoformat() if r.birth_date else None for r in records],
            "sex": [r.sex for r in records],
            "postcode": [r.postcode for r in records],
            "address": [(r.address or "").lower() or None for r in records],
            "nhs_number": [r.nhs_number for r in records],
            "upn": [r.upn for r in records],
        }
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("family_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
            cl.LevenshteinAtThresholds("address", 2),
            cl.ExactMatch("nhs_number"),
            cl.ExactMatch("upn"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("given_name", "family_name"),
            block_on("postcode", "family_name"),
            block_on("nhs_number"),
            block_on("upn"),
        ],
    )
    linker = Linker(DuckDBAPI().register(table), settings, log_level="ERROR")
    linker.training.estimate_probability_two_random_records_match(
        ["l.nhs_number = r.nhs_number", "l.upn = r.upn"], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "family_name")
    )
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.95
    )
    out = clusters.as_pyarrow_table()
    person_of = dict(
        zip(
            [str(x) for x in out.column("unique_id").to_pylist()],
            [str(x) for x in out.column("cluster_id").to_pylist()],
            strict=True,
        )
    )
    return person_of, time.perf_counter() - started


def link_one_latency(
    county: County,
    person_of: dict[str, str],
    scorer: Scorer,
    thresholds: Thresholds,
    index_size: int,
    seed: int,
    queries: int = 1000,
) -> tuple[float, float, int]:
    """p50/p99 ms of linking one record against an index of ``index_size`` children."""
    index = MemoryIndex()
    held = [r for r in county.records if r.kind == PersonKind.CHILD]
    for record in held:
        index.add(Candidate(record.record_id, person_of[record.record_id], features(record)))
    children_in_index = len({county.truth[r.record_id] for r in held})
    filler = max(0, index_size - children_in_index)
    if filler:
        generator = SynthGenerator(children=filler, seed=seed * 1000 + 7, as_of=AS_OF)
        for family in generator.families():
            address = family.address
            for c in family.children:
                f = features(
                    SourceRecord(
                        record_id=f"FILL-{c.pid}",
                        agency="GP",
                        nhs_number=None,
                        given_name=c.given,
                        family_name=c.family,
                        birth_date=c.born,
                        sex=c.sex,
                        address=address.line,
                        postcode=address.postcode,
                    )
                )
                index.add(Candidate(f.record_id, f.record_id, f))
    children_in_index += filler
    gc.collect()
    gc.freeze()  # a long-lived index is no work for the collector: as a server would do
    rng = random.Random(seed)
    sample = rng.sample(held, min(queries, len(held)))
    timings: list[float] = []
    for record in sample[:20]:  # warm the name caches, as a running hub has them
        decide(scorer, thresholds, features(record), index)
    for record in sample:
        incoming = SourceRecord(
            record_id=f"NEW-{record.record_id}",
            agency="NEW",
            given_name=record.given_name,
            family_name=record.family_name,
            birth_date=record.birth_date,
            sex=record.sex,
            address=record.address,
            postcode=record.postcode,
        )
        start = time.perf_counter()
        decide(scorer, thresholds, features(incoming), index)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return p50, p99, children_in_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--index-size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "hub-bench-linkage",
        help="Where generated counties are kept between runs (never commit them).",
    )
    args = parser.parse_args()

    settings = Settings()
    thresholds = Thresholds(settings.linkage_link_weight, settings.linkage_review_weight)
    started = time.perf_counter()
    county = load_county(args.children, args.seed, args.cache)
    records = county.records
    adults = sum(1 for r in records if r.kind == PersonKind.ADULT)
    print(
        f"county: {args.children} children ({county.children} with a record), {len(records)}"
        f" records ({len(records) - adults} children's, {adults} adults'; {county.by_agency}),"
        f" {county.quarantined} rows quarantined, {len(county.twins)} twin pairs;"
        f" loaded in {time.perf_counter() - started:.1f} s"
    )

    result = link_county(records, thresholds)
    ours = quality(result.person_of, county)
    bulk_seconds = result.seconds["total"]
    print("hub model stages (s):", {k: round(v, 1) for k, v in result.seconds.items()})

    if args.skip_baseline:
        base, base_seconds = {"precision": 0.0, "recall": 0.0, "f1": 0.0}, 0.0
        for name in list(base):
            base[f"child_{name}"] = base[f"adult_{name}"] = 0.0
        base["wrong_merges_per_10k"] = base["twins_merged"] = 0.0
    else:
        base_person_of, base_seconds = baseline(records)
        base = quality(base_person_of, county)

    scorer = Scorer(result.children.model, version="bench")
    p50, p99, index_size = link_one_latency(
        county, result.person_of, scorer, thresholds, args.index_size, args.seed
    )

    rows = [
        ("precision", ours["precision"], base["precision"]),
        ("recall", ours["recall"], base["recall"]),
        ("F1", ours["f1"], base["f1"]),
        ("  children's records: precision", ours["child_precision"], base["child_precision"]),
        ("  children's records: recall", ours["child_recall"], base["child_recall"]),
        ("  adults' records: precision", ours["adult_precision"], base["adult_precision"]),
        ("  adults' records: recall", ours["adult_recall"], base["adult_recall"]),
        ("wrong merges / 10k children", ours["wrong_merges_per_10k"], base["wrong_merges_per_10k"]),
        ("twin pairs merged", ours["twins_merged"], base["twins_merged"]),
        ("bulk seconds", bulk_seconds, base_seconds),
        (
            "bulk records / s",
            len(records) / bulk_seconds,
            len(records) / base_seconds if base_seconds else 0.0,
        ),
    ]
    print(f"\n{'':32}{'hub model':>14}{'plain Splink':>14}")
    for name, a, b in rows:
        print(f"{name:32}{a:>14.5f}{b:>14.5f}")
    reviews = result.reviews()
    through = sum(1 for p in reviews if p.method == "through-child")
    print(
        f"review items: {len(reviews)} ({through} of them adults placed through a child);"
        f" thresholds {thresholds}; prior for two adult records around one child"
        f" {result.family_prior:.2f} bits"
    )
    print(f"link one record against {index_size} children: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    figures: dict[str, Any] = {
        "children": args.children,
        "records": len(records),
        "children_records": len(records) - adults,
        "adult_records": adults,
        "precision": round(ours["precision"], 6),
        "recall": round(ours["recall"], 6),
        "f1": round(ours["f1"], 6),
        "wrong_merges_per_10k": round(ours["wrong_merges_per_10k"], 3),
        "child_precision": round(ours["child_precision"], 6),
        "child_recall": round(ours["child_recall"], 6),
        "adult_precision": round(ours["adult_precision"], 6),
        "adult_recall": round(ours["adult_recall"], 6),
        "twins_merged": int(ours["twins_merged"]),
        "bulk_seconds": round(bulk_seconds, 2),
        "bulk_records_per_second": round(len(records) / bulk_seconds, 1),
        "review_items": len(reviews),
        "baseline_precision": round(base["precision"], 6),
        "baseline_recall": round(base["recall"], 6),
        "baseline_f1": round(base["f1"], 6),
        "baseline_adult_precision": round(base["adult_precision"], 6),
        "baseline_adult_recall": round(base["adult_recall"], 6),
        "baseline_twins_merged": int(base["twins_merged"]),
        "baseline_seconds": round(base_seconds, 2),
        "index_size": index_size,
        "link_one_p50_ms": round(p50, 3),
        "link_one_p99_ms": round(p99, 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
