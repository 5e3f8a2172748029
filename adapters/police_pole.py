"""Police: a POLE-shaped (Person, Object, Location, Event) export as JSON Lines.

One entity per line, ``entity`` naming which: ``location``, ``person``, ``object`` or
``event``. A location must come before the persons living there. Persons become records
(with their PNC ID and, for children, an NHS number where the force holds it). An event
whose ``encompass`` list is not empty (an Operation Encompass notice to the child's school)
becomes the police's involvement with each child present; the notice's details stay with
the force. Objects are not the hub's business and are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from adapters import validate as v
from adapters.base import (
    InvolvementOp,
    Item,
    Quarantined,
    RecordOp,
    RowError,
    StructuralError,
    require_utf8,
)
from adapters.services import SERVICES
from hub.identifiers import NHS_NUMBER_SYSTEM, PNC_SYSTEM
from hub.involvements.schemas import InvolvementIn, PractitionerIn
from hub.people.schemas import IdentifierIn, RecordIn
from hub.vocab import AgencyKind

ENTITIES: Final = ("location", "person", "object", "event")
CHILD_ROLES: Final = frozenset({"child-present", "child-victim", "child"})


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    with open(path, encoding="utf-8-sig") as handle:
        for n, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):  # not JSON, or nested past the parser's limit
                yield n, None
                continue
            yield n, row if isinstance(row, dict) else None


def _text(row: dict[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(key, f"{key} must be text.")
    return value


class PolicePoleAdapter:
    kind = AgencyKind.POLICE

    def check(self, path: Path) -> None:
        require_utf8(path)
        good = 0
        for n, row in _rows(path):
            if row is None:
                if good == 0:
                    raise StructuralError(f"{path.name} is not a JSON Lines POLE export.")
                continue
            entity = row.get("entity")
            if entity not in ENTITIES:
                raise StructuralError(
                    f"{path.name}, line {n}: '{entity}' is not a POLE entity "
                    f"({', '.join(ENTITIES)})."
                )
            good += 1

    def read(self, path: Path) -> Iterator[Item]:
        locations: dict[str, tuple[str | None, str | None]] = {}
        persons: set[str] = set()
        for n, row in _rows(path):
            if row is None:
                yield Quarantined(n, "line", "The line is not a JSON object.")
                continue
            entity = row["entity"]
            try:
                if entity == "location":
                    local = v.required(_text(row, "location_id"), "location_id")
                    address = ", ".join(t for t in (_text(row, "address"), _text(row, "town")) if t)
                    locations[local] = (
                        address or None,
                        v.postcode(_text(row, "postcode"), "postcode"),
                    )
                elif entity == "person":
                    op = self._person(n, row, locations)
                    persons.add(op.local_id)
                    yield op
                elif entity == "event":
                    yield from self._event(n, row, persons)
            except RowError as exc:
                yield Quarantined(n, f"{entity}.{exc.field}", exc.reason)
            except ValidationError as exc:
                error = v.first_error(exc)
                yield Quarantined(n, f"{entity}.{error.field}", error.reason)

    @staticmethod
    def _person(
        n: int, row: dict[str, Any], locations: dict[str, tuple[str | None, str | None]]
    ) -> RecordOp:
        local = v.required(_text(row, "person_id"), "person_id")
        surname = v.required(_text(row, "surname"), "surname")
        born = v.birth_date(_text(row, "date_of_birth"), "date_of_birth")
        identifiers = []
        pnc = v.pnc_id(_text(row, "pnc_id"), "pnc_id")
        if pnc:
            identifiers.append(IdentifierIn(system=PNC_SYSTEM, value=pnc))
        nhs = v.nhs_number(_text(row, "nhs_number"), "nhs_number")
        if nhs:
            identifiers.append(IdentifierIn(system=NHS_NUMBER_SYSTEM, value=nhs))
        home = _text(row, "home_location_id")
        address, postcode = (None, None)
        if home:
            if home not in locations:
                raise RowError("home_location_id", "The location is not earlier in this export.")
            address, postcode = locations[home]
        gender = {"M": "male", "F": "female"}.get((_text(row, "gender") or "").upper())
        return RecordOp(
            n,
            local,
            RecordIn(
                kind=v.kind_for(born, default="adult"),
                identifiers=identifiers,
                given_name=_text(row, "forenames"),
                family_name=surname,
                birth_date=born,
                sex=gender,
                address=address,
                postcode=postcode,
            ),
        )

    @staticmethod
    def _event(n: int, row: dict[str, Any], persons: set[str]) -> Iterator[InvolvementOp]:
        event_id = v.required(_text(row, "event_id"), "event_id")
        occurred = v.timestamp(_text(row, "occurred_at"), "occurred_at")
        if occurred is None:
            raise RowError("occurred_at", "occurred_at is required but is empty.")
        notices = row.get("encompass") or []
        if not isinstance(notices, list):
            raise RowError("encompass", "encompass must be a list of notices.")
        if not notices:
            return
        roles = row.get("persons") or []
        if not isinstance(roles, list):
            raise RowError("persons", "persons must be a list.")
        officer = row.get("officer") if isinstance(row.get("officer"), dict) else None
        service = SERVICES["operation-encompass"]
        practitioner = None
        if officer and officer.get("ref") and officer.get("name"):
            practitioner = PractitionerIn(
                ref=str(officer["ref"]), name=str(officer["name"]), role=service.role
            )
        children = [
            str(p.get("person_id"))
            for p in roles
            if isinstance(p, dict) and isinstance(p.get("role"), str) and p["role"] in CHILD_ROLES
        ]
        if not any(child in persons for child in children):
            raise RowError("persons", "No child in the event is a person in this export.")
        for child in children:
            if child not in persons:
                continue  # that person's own row was quarantined; the others still count
            yield InvolvementOp(
                n,
                f"{event_id}:{child}"[:64],
                InvolvementIn(
                    record=child,
                    service="operation-encompass",
                    service_name=service.name,
                    tier=service.tier,
                    level_of_need=service.level,
                    sensitivity=service.sensitivity,
                    practitioner=practitioner,
                    start_date=occurred.date(),
                ),
            )
