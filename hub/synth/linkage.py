"""A ``hub synth`` county as the linkage model sees it: every person's records, truth, twins.

The agencies' files are read through the same adapters an import uses, so the benchmark
links exactly what the hub would hold; rows an adapter quarantines never reach the index.
Truth is ``truth.csv`` (agency and local id to the true person); twins come from the
generator itself (children of one family born the same day).
"""

from __future__ import annotations

import csv
import pickle
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Final

from hub.linkage.records import SourceRecord
from hub.vocab import CARER_KINDS, PersonKind

AS_OF: Final = date(2026, 9, 1)  # fixed, so a county is the same whichever day it is made
CACHE_FORMAT: Final = 3


@dataclass
class SynthCounty:
    records: list[SourceRecord]
    truth: dict[str, str]  # record id -> true person id
    twins: list[tuple[str, str]]
    folder: Path | None = None
    children: int = 0
    quarantined: int = 0
    by_agency: dict[str, int] = field(default_factory=dict)


def record_id(agency: str, local_id: str) -> str:
    return f"{agency}|{local_id}"


def agency_files(folder: Path) -> list[tuple[str, Path]]:
    files = [("health", folder / "health.ndjson")]
    files += [("school", p) for p in sorted((folder / "school").glob("*.xml"))]
    files += [("police", folder / "police.jsonl"), ("council", folder / "council.csv")]
    return [(kind, path) for kind, path in files if path.exists()]


def read_records(folder: Path) -> tuple[list[SourceRecord], int]:
    """Every record the adapters accept, children's and adults', as plain SourceRecord rows.

    An adult's ``carer_of`` lists the children's records of the same agency that name them
    as a parent or carer (the agency's own relationships: FHIR RelatedPerson, CTF contacts,
    the council's related person column).
    """
    from adapters import ADAPTERS
    from adapters.base import Quarantined, RecordOp
    from adapters.run import DEFAULT_AGENCIES
    from adapters.school_ctf import SchoolCtfAdapter
    from hub.people.service import source_of

    records: dict[str, SourceRecord] = {}  # a later row of the same local id updates it
    cares: dict[str, set[str]] = {}  # adult's record id -> children's record ids
    quarantined = 0
    for kind, path in agency_files(folder):
        adapter = ADAPTERS[kind]()
        if kind == "school":
            agency = SchoolCtfAdapter().source(path).agency_code
        else:
            agency = DEFAULT_AGENCIES[kind][0]
        for item in adapter.read(path):
            if isinstance(item, Quarantined):
                quarantined += 1
                continue
            if not isinstance(item, RecordOp):
                continue
            payload = item.payload
            ids = {i.system: i.value for i in payload.identifiers}
            rid = record_id(agency, item.local_id)
            for tie in payload.relationships:
                if tie.kind in CARER_KINDS:
                    cares.setdefault(record_id(agency, tie.record), set()).add(rid)
            records[rid] = source_of(
                payload, record_id=rid, agency=agency, identifiers=ids, postcode=payload.postcode
            )
    for rid, children in cares.items():
        held = records.get(rid)
        if held is not None and held.kind == PersonKind.ADULT:
            mine = tuple(sorted(c for c in children if c in records))
            records[rid] = replace(held, carer_of=mine)
    return list(records.values()), quarantined


def read_truth(folder: Path) -> dict[str, str]:
    with open(folder / "truth.csv", encoding="utf-8", newline="") as handle:
        return {
            record_id(row["agency"], row["local_id"]): row["person_id"]
            for row in csv.DictReader(handle)
        }


def twins_of(children: int, seed: int) -> list[tuple[str, str]]:
    """Pairs of children of one family born the same day, from the generator's own truth."""
    from hub.synth.county import County

    pairs: list[tuple[str, str]] = []
    for family in County(children=children, seed=seed, as_of=AS_OF).families():
        kids = family.children
        for i, a in enumerate(kids):
            pairs.extend((a.pid, b.pid) for b in kids[i + 1 :] if a.born == b.born)
    return pairs


def load(children: int, seed: int, cache: Path) -> SynthCounty:
    """Write (once) and read a county; both are cached under ``cache`` by size and seed."""
    from hub.synth import synthesise

    folder = cache / f"county-{children}-{seed}"
    parsed = cache / f"county-{children}-{seed}.pickle"
    if parsed.exists():
        with open(parsed, "rb") as handle:
            stored = pickle.load(handle)  # noqa: S301 - our own cache file, written below
        if stored.get("format") == CACHE_FORMAT:
            county: SynthCounty = stored["county"]
            return county
    if not (folder / "truth.csv").exists() or not (folder / ".complete").exists():
        synthesise(folder, children=children, seed=seed, as_of=AS_OF)
        (folder / ".complete").write_text("ok", encoding="utf-8")
    records, quarantined = read_records(folder)
    truth = read_truth(folder)
    records = [r for r in records if r.record_id in truth]
    county = SynthCounty(
        records=records,
        truth={r.record_id: truth[r.record_id] for r in records},
        twins=twins_of(children, seed),
        folder=folder,
        children=len({truth[r.record_id] for r in records if r.kind == PersonKind.CHILD}),
        quarantined=quarantined,
    )
    for r in records:
        kind = "SCHOOL" if r.agency.startswith("SCHOOL-") else r.agency
        county.by_agency[kind] = county.by_agency.get(kind, 0) + 1
    with open(parsed, "wb") as handle:
        pickle.dump({"format": CACHE_FORMAT, "county": county}, handle)
    return county
