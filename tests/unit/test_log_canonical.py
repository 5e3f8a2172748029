"""The fast canonical encoder gives exactly RFC 8785's bytes (the rfc8785 package's)."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.disclosure.log import canonical

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
