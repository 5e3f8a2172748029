"""Malformed agency files, generated: an adapter refuses the file as a whole or quarantines
rows, and never fails in any other way.

Any other exception from an adapter is a 500 at the import API, and one raised after the
first batch has been committed leaves an import half done. Starting from a synthetic
county's own files, hypothesis corrupts the bytes (flips, cuts, bytes that are not UTF-8,
JSON nested past Python's recursion limit, a CSV field past the csv module's limit) and,
for the FHIR and POLE files, the JSON values themselves (wrong types, hostile text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters import ADAPTERS
from adapters.base import ConsentOp, InvolvementOp, Quarantined, RecordOp, StructuralError
from hub.runtime import Hub
from hub.synth import synthesise
from tests.adapters.helpers import run, snapshot

SAMPLES = {
    "council": "council.csv",
    "health": "health.ndjson",
    "police": "police.jsonl",
    "school": "school/8552000.xml",
}
HOSTILE = {  # by name, so that a failing example prints short
    "not utf-8": b"\xff\xfe",
    "half a character": b"\xc3",
    "nul": b"\x00",
    "nested json": b"[" * 5000 + b"]" * 5000,  # past the json module's recursion limit
    "nested xml": b"<A>" * 5000 + b"</A>" * 5000,
    "long field": b"a" * 140_000,  # past the csv module's field limit (131,072)
    "quote": b'"',
    "newline": b"\n",
    "script": b"<script>alert(1)</script>",
    "sql": b"'; DROP TABLE person; --",
    "byte order mark": b"\xef\xbb\xbf",
}
HOSTILE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["<script>alert(1)</script>", "'; DROP TABLE person; --", "\u0000", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("county")
    synthesise(out, children=6, seed=3)
    return out


def read_all(kind: str, path: Path) -> list[Any]:
    """What an import does with a file before writing: check it whole, then read each row."""
    adapter = ADAPTERS[kind]()
    try:
        adapter.check(path)
        items = list(adapter.read(path))
    except StructuralError as refused:
        assert str(refused), "a refusal says why"
        event("refused as a whole")
        return []
    event(
        "read, with quarantined rows" if any(isinstance(i, Quarantined) for i in items) else "read"
    )
    for item in items:
        assert isinstance(item, RecordOp | InvolvementOp | ConsentOp | Quarantined), item
        if isinstance(item, Quarantined):
            assert item.field and item.reason, item
    return items


def corrupted(data: bytes, edits: list[tuple[int, int, str | bytes]]) -> bytes:
    """Each edit: at a fraction of the file, replace up to n bytes with a hostile snippet
    (by name) or with the given bytes."""
    out = bytearray(data)
    for at, span, inserted in edits:
        position = at * len(out) // 1000
        out[position : position + span] = (
            HOSTILE[inserted] if isinstance(inserted, str) else inserted
        )
    return bytes(out)


EDITS = st.lists(
    st.tuples(
        st.integers(0, 1000),
        st.integers(0, 4),
        st.sampled_from(sorted(HOSTILE)) | st.binary(min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=4,
)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=EDITS, cut=st.none() | st.integers(0, 1000))
def test_corrupted_bytes_are_refused_or_quarantined(
    county: Path,
    tmp_path: Path,
    kind: str,
    edits: list[tuple[int, int, str | bytes]],
    cut: int | None,
) -> None:
    data = corrupted((county / SAMPLES[kind]).read_bytes(), edits)
    if cut is not None:
        data = data[: cut * len(data) // 1000]
    path = tmp_path / Path(SAMPLES[kind]).name
    path.write_bytes(data)
    read_all(kind, path)


@pytest.mark.parametrize("kind", ["health", "police"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_json_values_of_the_wrong_shape_are_quarantined(
    county: Path, tmp_path: Path, kind: str, data: st.DataObject
) -> None:
    lines = [json.loads(line) for line in (county / SAMPLES[kind]).read_text().splitlines()]
    row = data.draw(st.integers(0, len(lines) - 1))
    target: Any = lines[row]
    # Walk down to a random value, then replace it.
    while True:
        keys = list(target.items()) if isinstance(target, dict) else list(enumerate(target))
        containers = [(k, v) for k, v in keys if isinstance(v, dict | list) and v]
        if not keys or not containers or data.draw(st.booleans()):
            break
        key, target = data.draw(st.sampled_from(containers))
    if isinstance(target, dict) and target:
        key = data.draw(st.sampled_from(sorted(target)))
        target[key] = data.draw(HOSTILE_VALUES)
    elif isinstance(target, list) and target:
        target[data.draw(st.integers(0, len(target) - 1))] = data.draw(HOSTILE_VALUES)
    path = tmp_path / Path(SAMPLES[kind]).name
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    read_all(kind, path)


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        ("council", b"\xff\xfe"),
        ("council", b"a" * 140_000),
        ("health", b"\xff\xfe"),
        ("police", b"\xff\xfe"),
    ],
    ids=["council-not-utf8", "council-field-too-long", "health-not-utf8", "police-not-utf8"],
)
def test_a_fault_near_the_end_of_a_large_file_is_found_before_anything_is_written(
    hub: Hub, tmp_path: Path, kind: str, bad: bytes
) -> None:
    """Found only while importing, it would come after earlier batches were committed."""
    synthesise(tmp_path / "big", children=1200, seed=4)
    data = (tmp_path / "big" / SAMPLES[kind]).read_bytes()
    assert len(data) > 16_000  # past a text reader's first buffer (8 KB)
    end = data.rindex(b"\n", 0, len(data) - 1)
    path = tmp_path / Path(SAMPLES[kind]).name
    path.write_bytes(data[: end - 5] + bad + data[end - 5 :])
    with pytest.raises(StructuralError):
        run(hub, kind, path, batch_size=10)
    assert snapshot(hub)["counts"]["agency_record"] == 0
