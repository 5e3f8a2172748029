"""The identifiers agencies hold for one person, as candidates for disclosure.

An agency's own id for a child says that agency knows the child, so it is only a candidate
while that agency has an open involvement, and it carries the sensitivity of that work when
all of the agency's open work with the child is sensitive: the shield then hides it just as
it hides the service. A police national computer id says the police hold a record and is
labelled as police information.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from hub.crypto.fields import FieldCipher
from hub.db.engine import Reads
from hub.identifiers import AGENCY_SYSTEM_PREFIX, PNC_SYSTEM, Identifier
from hub.involvements.views import OpenInvolvement
from hub.people.models import AgencyRecord, RecordIdentifier
from hub.vocab import Sensitivity


@dataclass(frozen=True)
class LinkedIdentifier:
    item_id: str
    identifier: Identifier
    sensitivity: str | None


def linked_identifiers(
    reads: Reads,
    cipher: FieldCipher,
    *,
    person_id: str,
    open_involvements: list[OpenInvolvement],
    requester_agency: str,
) -> list[LinkedIdentifier]:
    sensitivity_by_agency: dict[str, str | None] = {}
    for involvement in open_involvements:
        code = involvement.agency.code.upper()
        if code not in sensitivity_by_agency or involvement.sensitivity is None:
            sensitivity_by_agency[code] = involvement.sensitivity
    rows = reads.execute(
        select(
            RecordIdentifier.id,
            RecordIdentifier.system,
            RecordIdentifier.blind_index,
            RecordIdentifier.value_enc,
        )
        .join(AgencyRecord, RecordIdentifier.record_id == AgencyRecord.id)
        .where(AgencyRecord.person_id == person_id)
        .order_by(RecordIdentifier.system, RecordIdentifier.id)
    )
    found: list[LinkedIdentifier] = []
    seen: set[tuple[str, str]] = set()
    for stored in rows:
        if (stored.system, stored.blind_index) in seen:
            continue
        sensitivity: str | None = None
        if stored.system.startswith(AGENCY_SYSTEM_PREFIX):
            owner = stored.system.removeprefix(AGENCY_SYSTEM_PREFIX)
            if owner != requester_agency.upper():
                if owner not in sensitivity_by_agency:
                    continue
                sensitivity = sensitivity_by_agency[owner]
        elif stored.system == PNC_SYSTEM:
            sensitivity = Sensitivity.POLICE_INTELLIGENCE
        value = cipher.decrypt(stored.value_enc, column="record_identifier.value")
        if value is None:
            continue
        seen.add((stored.system, stored.blind_index))
        found.append(
            LinkedIdentifier(
                item_id=f"identifier:{stored.id}",
                identifier=Identifier(system=stored.system, value=value),
                sensitivity=sensitivity,
            )
        )
    return found
