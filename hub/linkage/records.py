"""The one shape every linkage step reads: an agency's record of a person, in plain text.

Bulk linkage, live linking, the test generator and (later) ``hub synth`` extracts all meet
here, so the model never depends on where a record came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """What one agency holds about one person; ``record_id`` is unique across agencies."""

    record_id: str
    agency: str
    nhs_number: str | None = None
    upn: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    address: str | None = None
    postcode: str | None = None
    kind: str = "child"
    # The same agency's records of the children this adult is a parent or carer of: for an
    # adult known by name alone (a school contact) this is all that places them.
    carer_of: tuple[str, ...] = ()
