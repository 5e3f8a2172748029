"""A deterministic synthetic county, written in each agency's own format, with its truth.

Nothing here is real: every family is generated from the seed. See `synthesise`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hub.synth.county import County, Family
from hub.synth.writers import Writers

__all__ = ["Example", "Summary", "synthesise"]


@dataclass(frozen=True)
class Example:
    """A child the demo can point at: its NHS number and what its consent story is."""

    nhs: str
    story: str
    involvements: int


@dataclass
class Summary:
    children: int = 0
    adults: int = 0
    families: int = 0
    involvements: int = 0
    consents: int = 0
    events: int = 0
    schools: int = 0
    records: dict[str, int] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)


def _examples(family: Family) -> list[Example]:
    stories = {c.child: c.story for c in family.consents}
    label = {
        "given": "consent given",
        "refused": "consent refused",
        "withdrawn": "consent withdrawn",
        "expired": "consent expired",
    }
    found = []
    for child in family.children:
        count = sum(1 for i in family.involvements if i.child == child.pid and i.end is None)
        story = label.get(stories.get(child.pid, ""), "no consent recorded")
        found.append(Example(nhs=child.nhs, story=story, involvements=count))
    return found


def synthesise(
    out: Path,
    *,
    children: int,
    seed: int = 1,
    as_of: date | None = None,
    on_family: Callable[[int], None] | None = None,
    keep_examples: int = 40,
) -> Summary:
    """Write a county of `children` children to `out`; the same seed gives the same files."""
    county = County(children=children, seed=seed, as_of=as_of or date.today())
    writers = Writers(out=out, as_of=county.as_of, seed=seed)
    summary = Summary()
    try:
        for family in county.families():
            writers.write(family)
            summary.families += 1
            summary.children += len(family.children)
            summary.adults += len(family.adults)
            summary.involvements += len(family.involvements)
            summary.consents += len(family.consents)
            summary.events += len(family.events)
            if len(summary.examples) < keep_examples:
                summary.examples.extend(_examples(family))
            if on_family is not None:
                on_family(len(family.children))
    finally:
        writers.close()
    summary.records = dict(writers.records)
    summary.schools = writers.schools_written
    return summary
