"""The fast canonical encoder gives exactly RFC 8785's bytes (the rfc8785 package's), and the
faster ways a batch is numbered write what the plain ones did."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.db.base import new_ids
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


def test_ids_made_a_batch_at_a_time_are_distinct_version_4_uuids() -> None:
    ids = new_ids(2000)
    assert len(set(ids)) == 2000
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == value
