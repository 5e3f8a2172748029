"""Health: FHIR R4 (UK Core conventions) as NDJSON, or a Bundle, of Patient, RelatedPerson
and EpisodeOfCare.

Each resource is validated with fhir.resources (R4B models, which read R4 Patient,
RelatedPerson and EpisodeOfCare unchanged) and then against the hub's own rules (NHS number
check digit, full dates, UK postcodes). Ties come from RelatedPerson: the related adult
becomes a record of its own and the child's record carries the tie. A RelatedPerson usually
comes before its Patient; one that comes after re-sends the Patient with the tie added.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.relatedperson import RelatedPerson
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
from hub.identifiers import NHS_NUMBER_SYSTEM
from hub.involvements.schemas import InvolvementIn, PractitionerIn
from hub.people.schemas import IdentifierIn, RecordIn, RelationshipIn
from hub.vocab import AgencyKind, RelationshipKind, Sensitivity

READS: Final = ("Patient", "RelatedPerson", "EpisodeOfCare")
MODELS: Final[dict[str, Any]] = {
    "Patient": Patient,
    "RelatedPerson": RelatedPerson,
    "EpisodeOfCare": EpisodeOfCare,
}
# v3-RoleCode relationship codes and what they mean for parental responsibility.
TIES: Final = {
    "MTH": RelationshipKind.PARENT_WITH_PR,
    "FTH": RelationshipKind.PARENT_WITH_PR,
    "PRN": RelationshipKind.PARENT_WITH_PR,
    "NMTH": RelationshipKind.PARENT_WITH_PR,
    "NFTH": RelationshipKind.PARENT_WITH_PR,
    "ADOPTMTH": RelationshipKind.PARENT_WITH_PR,
    "ADOPTFTH": RelationshipKind.PARENT_WITH_PR,
    "GUARD": RelationshipKind.CARER_WITH_PR,
    "STPMTH": RelationshipKind.CARER_WITHOUT_PR,
    "STPFTH": RelationshipKind.CARER_WITHOUT_PR,
    "STPPRN": RelationshipKind.CARER_WITHOUT_PR,
    "GRMTH": RelationshipKind.CARER_WITHOUT_PR,
    "GRFTH": RelationshipKind.CARER_WITHOUT_PR,
    "GRPRN": RelationshipKind.CARER_WITHOUT_PR,
    "AUNT": RelationshipKind.CARER_WITHOUT_PR,
    "UNCLE": RelationshipKind.CARER_WITHOUT_PR,
    "FAMMEMB": RelationshipKind.CARER_WITHOUT_PR,
}
RECENT_PATIENTS: Final = 5000


def _resources(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(row, resource or None, why not) for each NDJSON line or Bundle entry."""
    with open(path, encoding="utf-8-sig") as handle:
        first = handle.read(1)
        while first and first.isspace():
            first = handle.read(1)
        handle.seek(0)
        if first != "{":
            raise StructuralError(f"{path.name} is not FHIR JSON: it does not start with '{{'.")
        head = handle.readline()
        try:
            one = json.loads(head)
        except (ValueError, RecursionError):
            one = None
        if (isinstance(one, dict) and one.get("resourceType") == "Bundle") or one is None:
            handle.seek(0)
            try:
                document = json.load(handle)
            except (ValueError, RecursionError) as exc:
                if one is None and head.strip().startswith("{"):
                    handle.seek(0)
                    yield from _lines(handle)
                    return
                why = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
                raise StructuralError(f"{path.name} is {why}.") from None
            if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
                raise StructuralError(f"{path.name} is neither NDJSON nor a FHIR Bundle.")
            entries = document.get("entry") or []
            if not isinstance(entries, list):
                raise StructuralError(f"{path.name}: Bundle.entry is not a list of entries.")
            for n, entry in enumerate(entries, start=1):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict):
                    yield n, resource, ""
                else:
                    yield n, None, "The Bundle entry has no resource."
            return
        handle.seek(0)
        yield from _lines(handle)


def _lines(handle: Any) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    for n, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except ValueError:
            yield n, None, "The line is not valid JSON."
            continue
        except RecursionError:
            yield n, None, "The line is nested too deeply to be a FHIR resource."
            continue
        if not isinstance(resource, dict):
            yield n, None, "The line is not a FHIR resource."
            continue
        yield n, resource, ""


def _reference(to: Any) -> str | None:
    """A Reference's text; None when the element itself is absent (sent as null)."""
    return None if to is None else to.reference


def _reference_id(reference: str | None, kind: str, field: str) -> str:
    text = v.required(reference, field)
    prefix = f"{kind}/"
    if not text.startswith(prefix) or len(text) == len(prefix):
        raise RowError(field, f"{field} must be a reference to a {kind} in this file.")
    return text[len(prefix) :]


def _name(names: list[Any] | None) -> tuple[str | None, str | None]:
    if not names:
        return None, None
    chosen = next((n for n in names if n.use == "official"), names[0])
    given = chosen.given[0] if chosen.given else None
    return given, chosen.family


def _address(addresses: list[Any] | None) -> tuple[str | None, str | None]:
    if not addresses:
        return None, None
    home = next((a for a in addresses if a.use == "home"), addresses[0])
    parts = [*(line for line in home.line or [] if line), *([home.city] if home.city else [])]
    return (", ".join(parts) or None), v.postcode(home.postalCode, "address.postalCode")


def _birth_date(value: Any, field: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, date):
        raise RowError(field, f"{field} must be a full date (year, month and day).")
    if value > date.today():
        raise RowError(field, f"{field} is in the future.")
    return value


def _nhs(identifiers: list[Any] | None) -> list[IdentifierIn]:
    for identifier in identifiers or []:
        if identifier.system == NHS_NUMBER_SYSTEM:
            nhs = v.nhs_number(identifier.value, "identifier.nhs-number")
            if nhs is not None:
                return [IdentifierIn(system=NHS_NUMBER_SYSTEM, value=nhs)]
    return []


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _record(
    person: Patient | RelatedPerson, *, default_kind: str, ties: list[RelationshipIn] | None = None
) -> RecordIn:
    """A Patient or RelatedPerson as the hub's record: the two carry the same person fields."""
    born = _birth_date(person.birthDate, "birthDate")
    given, family = _name(person.name)
    address, postcode = _address(person.address)
    return RecordIn(
        kind=v.kind_for(born, default=default_kind),
        identifiers=_nhs(person.identifier),
        given_name=given,
        family_name=family,
        birth_date=born,
        sex=_sex(person.gender),
        address=address,
        postcode=postcode,
        relationships=ties or [],
    )


def _sex(gender: str | None) -> str | None:
    return gender if gender in ("male", "female", "other", "unknown") else None


class HealthFhirAdapter:
    kind = AgencyKind.HEALTH

    def check(self, path: Path) -> None:
        require_utf8(path)
        for n, resource, _ in _resources(path):
            if resource is None:
                continue
            found = resource.get("resourceType")
            if found not in READS:
                raise StructuralError(
                    f"{path.name}, row {n}: a {found or 'resource without a resourceType'} is "
                    f"not something the health adapter reads ({', '.join(READS)})."
                )

    def read(self, path: Path) -> Iterator[Item]:
        pending: dict[str, list[tuple[int, RelationshipIn]]] = {}
        recent: OrderedDict[str, tuple[int, RecordIn]] = OrderedDict()
        for n, resource, why in _resources(path):
            if resource is None:
                yield Quarantined(n, "resource", why)
                continue
            kind = resource.get("resourceType", "")
            try:
                model = MODELS[kind].model_validate(resource)
            except ValidationError as exc:
                error = v.first_error(exc)
                yield Quarantined(n, f"{kind}.{error.field}", error.reason)
                continue
            try:
                if isinstance(model, Patient):
                    op = self._patient(n, model, pending.pop(model.id or "", []))
                    recent[op.local_id] = (n, op.payload)
                    if len(recent) > RECENT_PATIENTS:
                        recent.popitem(last=False)
                    yield op
                elif isinstance(model, RelatedPerson):
                    adult, child_id, tie = self._related(n, model)
                    yield adult
                    if child_id in recent:
                        row, payload = recent[child_id]
                        payload = payload.model_copy(
                            update={"relationships": [*payload.relationships, tie]}
                        )
                        recent[child_id] = (row, payload)
                        yield RecordOp(n, child_id, payload)
                    else:
                        pending.setdefault(child_id, []).append((n, tie))
                else:
                    yield self._episode(n, model)
            except RowError as exc:
                yield Quarantined(n, f"{kind}.{exc.field}", exc.reason)
            except ValidationError as exc:
                error = v.first_error(exc)
                yield Quarantined(n, f"{kind}.{error.field}", error.reason)
        for rows in pending.values():
            for n, _ in rows:
                yield Quarantined(
                    n, "RelatedPerson.patient", "The Patient it refers to is not in this file."
                )

    @staticmethod
    def _patient(n: int, patient: Patient, ties: list[tuple[int, RelationshipIn]]) -> RecordOp:
        local = v.required(patient.id, "id")
        payload = _record(patient, default_kind="child", ties=[tie for _, tie in ties])
        return RecordOp(n, local, payload)

    @staticmethod
    def _related(n: int, related: RelatedPerson) -> tuple[RecordOp, str, RelationshipIn]:
        local = v.required(related.id, "id")
        child = _reference_id(_reference(related.patient), "Patient", "patient")
        codes = [c.code for r in related.relationship or [] for c in r.coding or []]
        kind = next((TIES[c] for c in codes if c in TIES), None)
        if kind is None:
            raise RowError(
                "relationship", "The relationship is not a parent or carer code the hub knows."
            )
        adult = _record(related, default_kind="adult")
        return RecordOp(n, local, adult), child, RelationshipIn(record=local, kind=kind)

    @staticmethod
    def _episode(n: int, episode: EpisodeOfCare) -> InvolvementOp:
        local = v.required(episode.id, "id")
        patient = _reference_id(_reference(episode.patient), "Patient", "patient")
        codes = [c.code for t in episode.type or [] for c in t.coding or []]
        code = next((c for c in codes if c in SERVICES), None)
        if code is None:
            raise RowError("type", "The episode's type is not a service the hub knows.")
        service = SERVICES[code]
        period = episode.period
        start = period.start if period else None
        if start is None:
            raise RowError("period.start", "The episode has no start date.")
        end = period.end if period else None
        labels = {s.code for s in (episode.meta.security if episode.meta else None) or []}
        sensitivity = next((s for s in Sensitivity if s.value in labels), service.sensitivity)
        manager = episode.careManager
        practitioner = None
        if manager is not None and manager.display:
            ref = (manager.reference or "").removeprefix("Practitioner/") or manager.display
            practitioner = PractitionerIn(ref=ref[:64], name=manager.display, role=service.role)
        payload = InvolvementIn(
            record=patient,
            service=code,
            service_name=service.name,
            tier=service.tier,
            level_of_need=service.level,
            sensitivity=sensitivity,
            practitioner=practitioner,
            start_date=_day(start),
            end_date=None if end is None else _day(end),
        )
        return InvolvementOp(n, local, payload)
