"""The fast canonical encoder gives exactly RFC 8785's bytes (the rfc8785 package's), and the
faster ways a batch is numbered write what the plain ones did."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.db.base import time_ordered_ids
from hub.disclosure.log import canonical, format_time

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_canonical_is_rfc8785(entry: dict[str, Any]) -> None:
    try:
        expected = rfc8785.dumps(entry)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError):
        return  # values RFC 8785 refuses (lone surrogates, unsafe integers) are not entries
    assert canonical(entry) == expected


@settings(deadline=None)
@given(st.datetimes(timezones=st.none() | st.timezones()))
def test_an_entry_time_is_written_as_strftime_writes_it(moment: datetime) -> None:
    assert format_time(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_log_entry_ids_are_distinct_version_7_uuids_in_the_order_they_were_made() -> None:
    batch = time_ordered_ids(2000)
    time.sleep(0.002)
    later = time_ordered_ids(3)
    assert len(set(batch)) == 2000
    for value in batch + later:
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == value
    # Within a batch by position, across batches by time: each lands at the index's right edge.
    assert batch == sorted(batch)
    assert max(batch) < min(later)
    made_at_ms = int(batch[0].replace("-", "")[:12], 16)
    assert abs(made_at_ms - time.time() * 1000) < 60_000
