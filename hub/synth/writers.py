"""Write the county in each agency's own format, streaming, one family at a time.

Health: FHIR R4 NDJSON (RelatedPerson, Patient, EpisodeOfCare). Schools: one Common Transfer
File per school (root ``CTfile``). Police: a POLE-shaped JSON Lines export of locations,
persons and events. Council: a CSV case export. The truth goes to ``truth.csv``.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Final
from xml.sax.saxutils import escape

from hub.identifiers import NHS_NUMBER_SYSTEM
from hub.synth.county import Family, Involvement, Person, School, Tie
from hub.synth.noise import View, view

NHS_VERIFICATION_URL: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
NHS_VERIFICATION_SYSTEM: Final = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)
SERVICE_SYSTEM: Final = "https://early-help-hub.example/CodeSystem/service"
ROLE_CODE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ACT_CODE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
COUNCIL_COLUMNS: Final = [
    "person_id",
    "person_role",
    "forename",
    "surname",
    "date_of_birth",
    "gender",
    "address",
    "postcode",
    "upn",
    "nhs_number",
    "related_person_id",
    "relationship",
    "case_id",
    "case_type",
    "level_of_need",
    "allocated_worker_id",
    "allocated_worker_name",
    "allocated_worker_role",
    "lead_professional",
    "case_start_date",
    "case_end_date",
    "consent_id",
    "consent_status",
    "consent_given_by",
    "consent_date",
    "consent_end_date",
    "consent_withdrawn_date",
]
TRUTH_COLUMNS: Final = ["agency_kind", "agency", "local_id", "person_id", "defect"]
HEALTH_AGENCY: Final = "COUNTY-HEALTH"
POLICE_AGENCY: Final = "COUNTY-POLICE"
COUNCIL_AGENCY: Final = "COUNTY-COUNCIL"


def school_agency(school: School) -> str:
    """The hub's agency code for a school: its LAESTAB (DfE number)."""
    return f"SCHOOL-{school.laestab}"


def _dumps(resource: dict[str, object]) -> str:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False)


def _gender_code(sex: str) -> str:
    return "F" if sex == "female" else "M"


@dataclass
class _OpenSchool:
    school: School
    handle: IO[str]
    pupils: int = 0


@dataclass
class Writers:
    """All the output files of one county; `close()` finishes every document."""

    out: Path
    as_of: date
    seed: int
    records: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("health", "school", "police", "council"), 0)
    )
    schools_written: int = 0

    def __post_init__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "school").mkdir(exist_ok=True)
        self._health = open(self.out / "health.ndjson", "w", encoding="utf-8")  # noqa: SIM115
        self._police = open(self.out / "police.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self._council_file = open(  # noqa: SIM115
            self.out / "council.csv", "w", encoding="utf-8", newline=""
        )
        self._council = csv.writer(self._council_file)
        self._council.writerow(COUNCIL_COLUMNS)
        self._truth_file = open(  # noqa: SIM115
            self.out / "truth.csv", "w", encoding="utf-8", newline=""
        )
        self._truth = csv.writer(self._truth_file)
        self._truth.writerow(TRUTH_COLUMNS)
        self._schools: dict[str, _OpenSchool] = {}
        self._area = -1

    def write(self, family: Family) -> None:
        if family.area != self._area:
            self._close_schools()
            self._area = family.area
        people = {p.pid: p for p in (*family.adults, *family.children)}
        self._write_health(family, people)
        self._write_school(family, people)
        self._write_police(family, people)
        self._write_council(family, people)

    def close(self) -> None:
        self._close_schools()
        for handle in (self._health, self._police, self._council_file, self._truth_file):
            handle.close()

    def _rng(self, family: Family, agency: str) -> random.Random:
        return random.Random(f"{self.seed}:{family.index}:{agency}")  # noqa: S311

    def _truth_row(self, kind: str, agency: str, local: str, pid: str, defect: str) -> None:
        self._truth.writerow((kind, agency, local, pid, defect))
        self.records[kind] += 1

    # --- health: FHIR R4 NDJSON ---------------------------------------------------------

    def _write_health(self, family: Family, people: dict[str, Person]) -> None:
        rng = self._rng(family, "health")
        address = family.address_for("health")
        known = [c for c in family.children if c.exact or rng.random() < 0.99]
        patient_ids = {c.pid: f"pat-{family.index:07d}-{n}" for n, c in enumerate(known)}
        lines: list[str] = []
        for tie in family.ties:
            if tie.child not in patient_ids:
                continue
            adult = people[tie.adult]
            v = view(adult, "health", address, rng)
            rp_id = f"rp-{family.index:07d}-{tie.adult[-2:]}-{patient_ids[tie.child][-1]}"
            lines.append(_dumps(self._related_person(rp_id, patient_ids[tie.child], tie, v)))
            self._truth_row("health", HEALTH_AGENCY, rp_id, adult.pid, v.defect)
        for child in known:
            v = view(child, "health", address, rng)
            pat = patient_ids[child.pid]
            lines.append(_dumps(self._patient(pat, child, v, rng)))
            self._truth_row("health", HEALTH_AGENCY, pat, child.pid, v.defect)
        for n, inv in enumerate(i for i in family.involvements if i.agency == "health"):
            if inv.child in patient_ids:
                lines.append(_dumps(self._episode(f"eoc-{family.index:07d}-{n}", inv, patient_ids)))
        if lines:
            self._health.write("\n".join(lines) + "\n")

    def _patient(self, pid: str, child: Person, v: View, rng: random.Random) -> dict[str, object]:
        resource: dict[str, object] = {
            "resourceType": "Patient",
            "id": pid,
            "name": [{"use": "official", "family": v.family, "given": [v.given]}],
            "gender": child.sex,
            "birthDate": v.born,
            "address": [
                {"use": "home", "line": [v.address], "city": v.town, "postalCode": v.postcode}
            ],
        }
        if v.nhs is not None:
            status = "01" if rng.random() < 0.97 else "02"
            resource["identifier"] = [
                {
                    "system": NHS_NUMBER_SYSTEM,
                    "value": v.nhs,
                    "extension": [
                        {
                            "url": NHS_VERIFICATION_URL,
                            "valueCodeableConcept": {
                                "coding": [{"system": NHS_VERIFICATION_SYSTEM, "code": status}]
                            },
                        }
                    ],
                }
            ]
        return resource

    @staticmethod
    def _related_person(rp_id: str, patient: str, tie: Tie, v: View) -> dict[str, object]:
        resource: dict[str, object] = {
            "resourceType": "RelatedPerson",
            "id": rp_id,
            "patient": {"reference": f"Patient/{patient}"},
            "relationship": [{"coding": [{"system": ROLE_CODE_SYSTEM, "code": tie.fhir_code}]}],
            "name": [{"family": v.family, "given": [v.given]}],
            "birthDate": v.born,
            "address": [{"line": [v.address], "city": v.town, "postalCode": v.postcode}],
        }
        if v.nhs is not None:
            resource["identifier"] = [{"system": NHS_NUMBER_SYSTEM, "value": v.nhs}]
        return resource

    @staticmethod
    def _episode(eid: str, inv: Involvement, patients: dict[str, str]) -> dict[str, object]:
        resource: dict[str, object] = {
            "resourceType": "EpisodeOfCare",
            "id": eid,
            "status": "finished" if inv.end else "active",
            "type": [
                {
                    "coding": [
                        {"system": SERVICE_SYSTEM, "code": inv.service, "display": inv.service_name}
                    ]
                }
            ],
            "patient": {"reference": f"Patient/{patients[inv.child]}"},
            "period": {"start": inv.start.isoformat()}
            | ({"end": inv.end.isoformat()} if inv.end else {}),
            "careManager": {
                "reference": f"Practitioner/{inv.worker_ref}",
                "display": inv.worker_name,
            },
        }
        if inv.sensitivity:
            resource["meta"] = {"security": [{"system": ACT_CODE_SYSTEM, "code": inv.sensitivity}]}
        return resource

    # --- schools: Common Transfer Files ----------------------------------------------------

    def _school_file(self, school: School) -> _OpenSchool:
        found = self._schools.get(school.laestab)
        if found is not None:
            return found
        handle = open(  # noqa: SIM115
            self.out / "school" / f"{school.laestab}.xml", "w", encoding="utf-8"
        )
        stamp = datetime.combine(self.as_of, time(9, 0)).isoformat()
        handle.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<CTfile><Header>'
            "<DocumentName>Common Transfer File</DocumentName><CTFversion>25.0</CTFversion>"
            f"<DateTime>{stamp}</DateTime><DocumentQualifier>full</DocumentQualifier>"
            "<DataDescriptor>CTF</DataDescriptor><SupplierID>EHH-SYNTH</SupplierID>"
            f"<SourceSchool><LEA>{school.laestab[:3]}</LEA><Estab>{school.laestab[3:]}</Estab>"
            f"<URN>{school.urn}</URN><SchoolName>{escape(school.name)}</SchoolName>"
            f"<AcademicYear>{self.as_of.year}</AcademicYear></SourceSchool>"
            "<DestSchool><LEA>MAT</LEA><Estab>MATC</Estab></DestSchool></Header>\n"
            "<CTFpupilData>\n"
        )
        opened = _OpenSchool(school, handle)
        self._schools[school.laestab] = opened
        self.schools_written += 1
        return opened

    def _close_schools(self) -> None:
        for opened in self._schools.values():
            opened.handle.write("</CTFpupilData></CTfile>\n")
            opened.handle.close()
        self._schools = {}

    def _write_school(self, family: Family, people: dict[str, Person]) -> None:
        rng = self._rng(family, "school")
        address = family.address_for("school")
        for child in family.children:
            if child.school is None or child.upn is None:
                continue
            opened = self._school_file(child.school)
            agency = school_agency(child.school)
            v = view(child, "school", address, rng)
            sex_tag = "Gender" if int(child.school.laestab[-1]) % 3 == 0 else "Sex"
            parts = [
                f"<Pupil><UPN>{child.upn}</UPN><Surname>{escape(v.family)}</Surname>"
                f"<Forename>{escape(v.given)}</Forename><DOB>{v.born}</DOB>"
                f"<{sex_tag}>{_gender_code(child.sex)}</{sex_tag}>"
                f"<BasicDetails><NCyearActual>{max(0, self.as_of.year - child.born.year - 5)}"
                "</NCyearActual></BasicDetails>"
                f"<Address><BS7666Address><PAON>{escape(v.address.split(' ', 1)[0])}</PAON>"
                f"<Street>{escape(v.address.split(' ', 1)[1])}</Street>"
                f"<Town>{escape(v.town)}</Town><PostCode>{v.postcode}</PostCode>"
                "</BS7666Address></Address><Contacts>"
            ]
            contact_rows = []
            for order, tie in enumerate((t for t in family.ties if t.child == child.pid), 1):
                adult = people[tie.adult]
                cv = view(adult, "school", address, rng)
                pr = "true" if "with-parental" in tie.kind else "false"
                parts.append(
                    f"<Contact><Order>{order}</Order><Surname>{escape(cv.family)}</Surname>"
                    f"<Forename>{escape(cv.given)}</Forename>"
                    f"<Relationship>{tie.ctf_code}</Relationship>"
                    f"<Responsibility>{pr}</Responsibility></Contact>"
                )
                contact_rows.append((f"{child.upn}-C{order}", adult.pid))
            parts.append("</Contacts>")
            sen = [i for i in family.involvements if i.child == child.pid and i.service == "senco"]
            if sen and child.sen:
                parts.append(
                    f"<SENhistory><SEN><StartDate>{sen[0].start.isoformat()}</StartDate>"
                    f"<SENprovision>{child.sen}</SENprovision></SEN></SENhistory>"
                )
            possible = 300
            missed = possible * (100 - child.attendance_pct) // 100
            unauthorised = missed // 2
            parts.append(
                f"<Attendance><YearData><Year>{self.as_of.year}</Year>"
                f"<SessionsPossible>{possible}</SessionsPossible>"
                f"<SessionsAuthorised>{missed - unauthorised}</SessionsAuthorised>"
                f"<SessionsUnauthorised>{unauthorised}</SessionsUnauthorised>"
                "</YearData></Attendance></Pupil>\n"
            )
            opened.handle.write("".join(parts))
            opened.pupils += 1
            self._truth_row("school", agency, child.upn, child.pid, v.defect)
            for local, pid in contact_rows:
                self._truth_row("school", agency, local, pid, "")

    # --- police: POLE JSON Lines ------------------------------------------------------------

    def _write_police(self, family: Family, people: dict[str, Person]) -> None:
        if not family.events:
            return
        rng = self._rng(family, "police")
        address = family.address_for("police")
        location = f"LOC-{family.index:07d}"
        lines = [
            _dumps(
                {
                    "entity": "location",
                    "location_id": location,
                    "address": address.line,
                    "town": address.town,
                    "postcode": address.postcode,
                }
            )
        ]
        nominals: dict[str, str] = {}
        for event in family.events:
            involved = [p for p in (event.victim, event.suspect, *event.children) if p]
            for pid in involved:
                if pid in nominals:
                    continue
                person = people[pid]
                v = view(person, "police", address, rng)
                nominal = f"NOM-{family.index:07d}-{pid[-2:]}"
                nominals[pid] = nominal
                row: dict[str, object] = {
                    "entity": "person",
                    "person_id": nominal,
                    "surname": v.family,
                    "forenames": v.given,
                    "date_of_birth": v.born,
                    "gender": _gender_code(person.sex),
                    "home_location_id": location,
                }
                if v.nhs is not None and person.child:
                    row["nhs_number"] = v.nhs
                if pid == event.suspect and rng.random() < 0.6:
                    row["pnc_id"] = _pnc_id(rng)
                lines.append(_dumps(row))
                self._truth_row("police", POLICE_AGENCY, nominal, pid, v.defect)
            roles = (
                [{"person_id": nominals[event.victim], "role": "victim"}] if event.victim else []
            )
            if event.suspect:
                roles.append({"person_id": nominals[event.suspect], "role": "suspect"})
            roles += [{"person_id": nominals[c], "role": "child-present"} for c in event.children]
            officer = next(
                (i for i in family.involvements if i.service == "operation-encompass"), None
            )
            lines.append(
                _dumps(
                    {
                        "entity": "event",
                        "event_id": event.event_id,
                        "type": event.kind,
                        "occurred_at": f"{event.occurred.isoformat()}T22:10:00Z",
                        "location_id": location,
                        "persons": roles,
                        "dash_risk": rng.choice(["standard", "medium", "high"]),
                        "officer": {"ref": officer.worker_ref, "name": officer.worker_name}
                        if officer
                        else None,
                        "encompass": [
                            {
                                "school_urn": urn,
                                "notified_at": f"{event.occurred.isoformat()}T23:30:00Z",
                            }
                            for urn in event.school_urns
                        ],
                    }
                )
            )
        self._police.write("\n".join(lines) + "\n")

    # --- council: CSV case export -------------------------------------------------------------

    def _write_council(self, family: Family, people: dict[str, Person]) -> None:
        cases = [i for i in family.involvements if i.agency == "council"]
        if not cases:
            return
        rng = self._rng(family, "council")
        address = family.address_for("council")
        blank_case = [""] * 15
        ids = {p.pid: f"LCS{family.index:07d}{p.pid[-2:]}" for p in people.values()}
        for adult in family.adults:
            v = view(adult, "council", address, rng)
            self._council.writerow(
                [
                    ids[adult.pid],
                    "parent" if adult.pid.endswith("A0") else "carer",
                    v.given,
                    v.family,
                    v.born,
                    _gender_code(adult.sex),
                    f"{v.address}, {v.town}",
                    v.postcode,
                    "",
                    v.nhs or "",
                    "",
                    "",
                    *blank_case,
                ]
            )
            self._truth_row("council", COUNCIL_AGENCY, ids[adult.pid], adult.pid, v.defect)
        consents = {c.child: c for c in family.consents}
        for child in family.children:
            mine = [c for c in cases if c.child == child.pid]
            if not mine:
                continue
            v = view(child, "council", address, rng)
            upn = child.upn if child.upn and (child.exact or rng.random() < 0.7) else ""
            tie = next(t for t in family.ties if t.child == child.pid)
            for n, case in enumerate(mine):
                consent = (
                    consents.get(child.pid)
                    if case.lead and case.case_type == "early-help"
                    else None
                )
                consent_cols = ["", "", "", "", "", ""]
                if consent is not None:
                    consent_cols = [
                        f"CON-{ids[child.pid]}-{n}",
                        "given" if consent.story in ("expired", "withdrawn") else consent.story,
                        "child" if consent.grantor is None else "parent",
                        consent.start.isoformat(),
                        consent.end.isoformat(),
                        consent.withdrawn_on.isoformat() if consent.withdrawn_on else "",
                    ]
                self._council.writerow(
                    [
                        ids[child.pid],
                        "child",
                        v.given,
                        v.family,
                        v.born,
                        _gender_code(child.sex),
                        f"{v.address}, {v.town}",
                        v.postcode,
                        upn,
                        v.nhs or "",
                        ids[tie.adult],
                        tie.kind,
                        f"CASE-{ids[child.pid]}-{n}",
                        case.case_type,
                        case.level,
                        case.worker_ref,
                        case.worker_name,
                        case.worker_role,
                        "Y" if case.lead else "N",
                        case.start.isoformat(),
                        case.end.isoformat() if case.end else "",
                        *consent_cols,
                    ]
                )
            self._truth_row("council", COUNCIL_AGENCY, ids[child.pid], child.pid, v.defect)


_PNC_LETTERS: Final = "ZABCDEFGHJKLMNPQRTUVWXY"


def _pnc_id(rng: random.Random) -> str:
    year = rng.randrange(2000, 2025)
    serial = rng.randrange(1, 9_999_999)
    check = _PNC_LETTERS[int(f"{year % 100:02d}{serial:07d}") % 23]
    return f"{year}/{serial:07d}{check}"
