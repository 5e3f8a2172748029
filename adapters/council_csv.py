"""Council: a children's social care / early help case export as CSV.

One row per person per case, as case management systems export them (Liquidlogic, Mosaic):
the person's details, UPN and NHS number where known, then the case (type, level of need,
allocated worker, lead professional, dates) and the family's consent to share where the
case records one. Parents and carers come as rows of their own before the children who
name them in ``related_person_id``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from adapters import validate as v
from adapters.base import (
    ConsentOp,
    InvolvementOp,
    Item,
    Quarantined,
    RecordOp,
    RowError,
    StructuralError,
    require_utf8,
)
from adapters.services import SERVICES
from consent.schemas import ConsentIn
from hub.identifiers import NHS_NUMBER_SYSTEM, UPN_SYSTEM
from hub.involvements.schemas import InvolvementIn, PractitionerIn
from hub.people.schemas import IdentifierIn, RecordIn, RelationshipIn
from hub.vocab import AgencyKind, ConsentMethod, Purpose, RelationshipKind, Role

REQUIRED_COLUMNS: Final = (
    "person_id",
    "person_role",
    "forename",
    "surname",
    "date_of_birth",
    "postcode",
    "upn",
    "nhs_number",
    "case_id",
    "case_type",
)
CASE_TYPES: Final = ("early-help", "child-in-need", "child-protection", "looked-after")
CONSENT_PURPOSES: Final = [
    Purpose.TEAM_AROUND_THE_FAMILY,
    Purpose.EARLY_HELP_ASSESSMENT,
    Purpose.LEAD_PROFESSIONAL_CHECK,
]
CONSENT_RECIPIENTS: Final = [AgencyKind.HEALTH, AgencyKind.SCHOOL, AgencyKind.COUNCIL]


def _start_of(day: str | None, field: str) -> datetime | None:
    parsed = v.iso_date(day, field)
    return None if parsed is None else datetime.combine(parsed, time(0, 0), tzinfo=UTC)


class CouncilCsvAdapter:
    kind = AgencyKind.COUNCIL

    def check(self, path: Path) -> None:
        require_utf8(path)
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader, None)
                for _ in reader:  # a row the csv module cannot parse stops a whole import
                    pass
            except csv.Error as exc:
                raise StructuralError(
                    f"{path.name}, line {reader.line_num}: not a CSV row this hub can read ({exc})."
                ) from None
        if not header:
            raise StructuralError(f"{path.name} is empty: a case export starts with a header.")
        missing = [c for c in REQUIRED_COLUMNS if c not in {h.strip() for h in header}]
        if missing:
            raise StructuralError(
                f"{path.name} is not a council case export: the header lacks {', '.join(missing)}."
            )

    def read(self, path: Path) -> Iterator[Item]:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                n = reader.line_num
                try:
                    yield from self._row(n, {k.strip(): (val or "") for k, val in row.items() if k})
                except RowError as exc:
                    yield Quarantined(n, exc.field, exc.reason)
                except ValidationError as exc:
                    error = v.first_error(exc)
                    yield Quarantined(n, error.field, error.reason)

    def _row(self, n: int, row: dict[str, str]) -> Iterator[Item]:
        local = v.required(row.get("person_id"), "person_id")
        role = (row.get("person_role") or "").strip().lower()
        surname = v.required(row.get("surname"), "surname")
        born = v.birth_date(row.get("date_of_birth"), "date_of_birth")
        identifiers = []
        nhs = v.nhs_number(row.get("nhs_number"), "nhs_number")
        if nhs:
            identifiers.append(IdentifierIn(system=NHS_NUMBER_SYSTEM, value=nhs))
        upn = v.upn(row.get("upn"), "upn")
        if upn:
            identifiers.append(IdentifierIn(system=UPN_SYSTEM, value=upn))
        ties = []
        related = v.optional(row.get("related_person_id"))
        if related:
            try:
                kind = RelationshipKind(v.required(row.get("relationship"), "relationship"))
            except ValueError:
                raise RowError(
                    "relationship", "The relationship is not one the hub knows."
                ) from None
            ties.append(RelationshipIn(record=related, kind=kind))
        gender = {"M": "male", "F": "female"}.get((row.get("gender") or "").strip().upper())
        default = "child" if role == "child" else "adult"
        ops: list[Item] = [
            RecordOp(
                n,
                local,
                RecordIn(
                    kind=v.kind_for(born, default=default),
                    identifiers=identifiers,
                    given_name=v.optional(row.get("forename")),
                    family_name=surname,
                    birth_date=born,
                    sex=gender,
                    address=v.optional(row.get("address")),
                    postcode=v.postcode(row.get("postcode"), "postcode"),
                    relationships=ties,
                ),
            )
        ]
        case_id = v.optional(row.get("case_id"))
        if case_id:
            ops.append(self._case(n, local, case_id, row))
            consent = self._consent(n, local, related, row)
            if consent is not None:
                ops.append(consent)
        yield from ops

    @staticmethod
    def _case(n: int, local: str, case_id: str, row: dict[str, str]) -> InvolvementOp:
        case_type = v.required(row.get("case_type"), "case_type").lower()
        if case_type not in CASE_TYPES:
            raise RowError("case_type", f"The case type is not one of {', '.join(CASE_TYPES)}.")
        service = SERVICES[case_type]
        level_text = v.optional(row.get("level_of_need"))
        if level_text is not None and level_text not in ("1", "2", "3", "4"):
            raise RowError("level_of_need", "level_of_need must be 1, 2, 3 or 4.")
        start = v.iso_date(row.get("case_start_date"), "case_start_date", needed=True)
        assert start is not None
        worker_ref = v.optional(row.get("allocated_worker_id"))
        worker_name = v.optional(row.get("allocated_worker_name"))
        practitioner = None
        if worker_ref and worker_name:
            role_text = v.optional(row.get("allocated_worker_role"))
            try:
                role = Role(role_text) if role_text else service.role
            except ValueError:
                raise RowError("allocated_worker_role", "The worker's role is not known.") from None
            practitioner = PractitionerIn(ref=worker_ref, name=worker_name, role=role)
        lead = (row.get("lead_professional") or "").strip().upper() in ("Y", "YES", "TRUE", "1")
        return InvolvementOp(
            n,
            case_id,
            InvolvementIn(
                record=local,
                service=case_type,
                service_name=service.name,
                tier=service.tier,
                level_of_need=int(level_text) if level_text else service.level,
                lead_professional=lead,
                practitioner=practitioner,
                start_date=start,
                end_date=v.iso_date(row.get("case_end_date"), "case_end_date"),
            ),
        )

    @staticmethod
    def _consent(n: int, local: str, related: str | None, row: dict[str, str]) -> ConsentOp | None:
        consent_id = v.optional(row.get("consent_id"))
        if consent_id is None:
            return None
        status = (row.get("consent_status") or "").strip().lower()
        if status not in ("given", "refused"):
            raise RowError("consent_status", "consent_status must be given or refused.")
        by = (row.get("consent_given_by") or "").strip().lower()
        if by not in ("child", "parent", "carer"):
            raise RowError("consent_given_by", "consent_given_by must be child, parent or carer.")
        if by != "child" and not related:
            raise RowError("related_person_id", "A parent's consent needs the parent's person id.")
        worker = v.optional(row.get("allocated_worker_id")) or "unknown"
        start = _start_of(row.get("consent_date"), "consent_date")
        if start is None:
            raise RowError("consent_date", "consent_date is required with a consent.")
        withdrawn = v.iso_date(row.get("consent_withdrawn_date"), "consent_withdrawn_date")
        payload = ConsentIn(
            record=local,
            status="active" if status == "given" else "refused",
            given_by=by,
            grantor_record=None if by == "child" else related,
            competence_assessed_by=worker if by == "child" else None,
            practitioner=worker,
            method=ConsentMethod.WRITTEN,
            form_reference=consent_id,
            purposes=CONSENT_PURPOSES,
            recipient_kinds=CONSENT_RECIPIENTS,
            period_start=start,
            period_end=_start_of(row.get("consent_end_date"), "consent_end_date"),
        )
        return ConsentOp(n, consent_id, payload, withdrawn_on=withdrawn)
