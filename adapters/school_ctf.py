"""Schools: the DfE Common Transfer File (CTF) XML, root ``CTfile`` (DOMAIN.md §3).

Parsed with defusedxml (no DTDs, entities or external references) as a stream, one Pupil
at a time, so a whole county's file needs little memory. Each pupil becomes a record under
their UPN (temporary UPNs accepted), their contacts become adult records tied to them with
or without parental responsibility, and the school's own involvements come from the file:
the school itself (universal), SEN support or an EHC plan (the SENCO), and persistent
absence below 90% attendance (attendance support). Both ``Sex`` and the older ``Gender``
are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final
from xml.etree.ElementTree import Element, ParseError

from defusedxml.ElementTree import iterparse
from pydantic import ValidationError

from adapters import validate as v
from adapters.base import InvolvementOp, Item, Quarantined, RecordOp, RowError, StructuralError
from adapters.services import SERVICES
from hub.identifiers import UPN_SYSTEM
from hub.involvements.schemas import InvolvementIn
from hub.people.schemas import IdentifierIn, RecordIn, RelationshipIn
from hub.vocab import AgencyKind, RelationshipKind

ROOT: Final = "CTfile"
PARENT_CODES: Final = frozenset({"PAM", "PAF", "PAR", "PAO", "MOT", "FAT"})
PERSISTENT_ABSENCE: Final = 90.0


@dataclass(frozen=True)
class SourceSchool:
    laestab: str
    urn: str | None
    name: str | None
    academic_year_start: date

    @property
    def agency_code(self) -> str:
        return f"SCHOOL-{self.laestab}"


def _events(path: Path, events: tuple[str, ...]) -> Iterator[tuple[str, Element]]:
    try:
        yield from iterparse(str(path), events=events, forbid_dtd=True)
    except ParseError as exc:
        raise StructuralError(f"{path.name} is not well-formed XML ({exc}).") from None


def _text(element: Element | None, tag: str) -> str | None:
    if element is None:
        return None
    found = element.find(tag)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _int(element: Element, tag: str) -> int:
    text = _text(element, tag)
    if text is None or not text.isdigit():
        raise RowError(tag, f"{tag} must be a whole number.")
    return int(text)


class SchoolCtfAdapter:
    kind = AgencyKind.SCHOOL

    def check(self, path: Path) -> None:
        root_seen = False
        header: SourceSchool | None = None
        for event, element in _events(path, ("start", "end")):
            if event == "start" and not root_seen:
                root_seen = True
                if element.tag != ROOT:
                    raise StructuralError(
                        f"{path.name} is not a Common Transfer File: its root element is "
                        f"<{element.tag}>, not <{ROOT}>."
                    )
            elif event == "end" and element.tag == "Header":
                header = self._header(element, path)
            elif event == "end" and element.tag == "Pupil":
                element.clear()
        if header is None:
            raise StructuralError(f"{path.name} has no CTF Header naming the source school.")

    def source(self, path: Path) -> SourceSchool:
        for event, element in _events(path, ("end",)):
            if event == "end" and element.tag == "Header":
                return self._header(element, path)
        raise StructuralError(f"{path.name} has no CTF Header naming the source school.")

    @staticmethod
    def _header(header: Element, path: Path) -> SourceSchool:
        school = header.find("SourceSchool")
        lea, estab = _text(school, "LEA"), _text(school, "Estab")
        if not lea or not estab or not (lea + estab).isdigit() or len(lea + estab) != 7:
            raise StructuralError(
                f"{path.name}: the header's SourceSchool needs a 3-digit LEA and a 4-digit Estab."
            )
        year_text = _text(school, "AcademicYear")
        today = date.today()
        year = int(year_text) if year_text and year_text.isdigit() else today.year
        start = date(year, 9, 1)
        if start > today:
            start = date(year - 1, 9, 1)
        return SourceSchool(
            laestab=lea + estab,
            urn=_text(school, "URN"),
            name=_text(school, "SchoolName"),
            academic_year_start=start,
        )

    def read(self, path: Path) -> Iterator[Item]:
        school: SourceSchool | None = None
        pupil_number = 0
        for _event, element in _events(path, ("end",)):
            if element.tag == "Header":
                school = self._header(element, path)
            elif element.tag == "Pupil":
                pupil_number += 1
                if school is None:
                    raise StructuralError(f"{path.name}: pupils come before the CTF Header.")
                try:
                    yield from self._pupil(pupil_number, element, school)
                except RowError as exc:
                    yield Quarantined(pupil_number, f"Pupil.{exc.field}", exc.reason)
                except ValidationError as exc:
                    error = v.first_error(exc)
                    yield Quarantined(pupil_number, f"Pupil.{error.field}", error.reason)
                element.clear()

    def _pupil(self, n: int, pupil: Element, school: SourceSchool) -> Iterator[Item]:
        """The pupil's contacts, then the pupil; contacts are named after the UPN.

        A pupil refused for anything but the UPN still lets its contacts in: they are good
        records of their own, and the pupil's row, once corrected, ties them again.
        """
        upn = v.upn(v.required(_text(pupil, "UPN"), "UPN"), "UPN")
        assert upn is not None
        ops: list[Item] = []
        ties: list[RelationshipIn] = []
        for contact in pupil.iterfind("Contacts/Contact"):
            try:
                op, tie = self._contact(n, upn, contact)
            except RowError as exc:
                ops.append(Quarantined(n, f"Contact.{exc.field}", exc.reason))
                continue
            ops.append(op)
            ties.append(tie)
        try:
            surname = v.required(_text(pupil, "Surname"), "Surname")
            forename = v.required(_text(pupil, "Forename"), "Forename")
            born = v.birth_date(v.required(_text(pupil, "DOB"), "DOB"), "DOB")
            sex_code = _text(pupil, "Sex") or _text(pupil, "Gender")
            sex = {"M": "male", "F": "female"}.get((sex_code or "").upper())
            address, postcode = self._address(pupil.find("Address"))
        except (RowError, ValidationError):
            yield from ops
            raise
        ops.append(
            RecordOp(
                n,
                upn,
                RecordIn(
                    kind="child",
                    identifiers=[IdentifierIn(system=UPN_SYSTEM, value=upn)],
                    given_name=forename,
                    family_name=surname,
                    birth_date=born,
                    sex=sex,
                    address=address,
                    postcode=postcode,
                    relationships=ties,
                ),
            )
        )
        ops.extend(self._involvements(n, upn, pupil, school))
        yield from ops

    @staticmethod
    def _address(address: Element | None) -> tuple[str | None, str | None]:
        if address is None:
            return None, None
        bs7666 = address.find("BS7666Address")
        if bs7666 is not None:
            number = " ".join(t for t in (_text(bs7666, "SAON"), _text(bs7666, "PAON")) if t)
            street = _text(bs7666, "Street")
            lines = [" ".join(t for t in (number, street) if t)]
            lines += [t for t in (_text(bs7666, "Locality"), _text(bs7666, "Town")) if t]
            postcode = _text(bs7666, "PostCode")
        else:
            lines = [line.text.strip() for line in address.iter("AddressLine") if line.text]
            postcode = _text(address, "PostCode")
        joined = ", ".join(line for line in lines if line) or None
        return joined, v.postcode(postcode, "Address.PostCode")

    @staticmethod
    def _contact(n: int, upn: str, contact: Element) -> tuple[RecordOp, RelationshipIn]:
        order = v.required(_text(contact, "Order"), "Contact.Order")
        surname = v.required(_text(contact, "Surname"), "Surname")
        code = (_text(contact, "Relationship") or "").upper()
        responsible = (_text(contact, "Responsibility") or "").lower() in ("true", "1")
        parent = code in PARENT_CODES
        if responsible:
            kind = RelationshipKind.PARENT_WITH_PR if parent else RelationshipKind.CARER_WITH_PR
        else:
            kind = (
                RelationshipKind.PARENT_WITHOUT_PR if parent else RelationshipKind.CARER_WITHOUT_PR
            )
        local = f"{upn}-C{order}"
        payload = RecordIn(kind="adult", given_name=_text(contact, "Forename"), family_name=surname)
        return RecordOp(n, local, payload), RelationshipIn(record=local, kind=kind)

    @staticmethod
    def _involvements(
        n: int, upn: str, pupil: Element, school: SourceSchool
    ) -> Iterator[InvolvementOp]:
        def involvement(code: str, start: date, level: int | None = None) -> InvolvementOp:
            service = SERVICES[code]
            name = school.name if code == "school" and school.name else service.name
            return InvolvementOp(
                n,
                f"{upn}-{code}",
                InvolvementIn(
                    record=upn,
                    service=code,
                    service_name=name,
                    tier=service.tier,
                    level_of_need=level or service.level,
                    start_date=start,
                ),
            )

        yield involvement("school", school.academic_year_start)
        sen = pupil.find("SENhistory/SEN")
        if sen is not None:
            provision = (_text(sen, "SENprovision") or "").upper()
            if provision in ("K", "E"):
                started = v.iso_date(_text(sen, "StartDate"), "SEN.StartDate")
                yield involvement(
                    "senco", started or school.academic_year_start, 3 if provision == "E" else 2
                )
        years = pupil.findall("Attendance/YearData")
        if years:
            latest = years[-1]
            possible = _int(latest, "SessionsPossible")
            missed = _int(latest, "SessionsAuthorised") + _int(latest, "SessionsUnauthorised")
            if possible > 0 and 100.0 * (possible - missed) / possible < PERSISTENT_ABSENCE:
                yield involvement("attendance", school.academic_year_start)
