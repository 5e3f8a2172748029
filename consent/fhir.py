"""Consents as FHIR R4 Consent resources (``fhir.resources.R4B``), both ways.

fhir.resources checks structure and primitive formats only, so every code, system and
identifier the hub relies on is checked here. How the hub's consent maps onto R4:

- status: active (a consent: provision.type permit; a refusal: provision.type deny),
  inactive (withdrawn or expired), entered-in-error; the hub's own state (active, refused,
  withdrawn, expired, entered-in-error) is also carried in an extension;
- patient and performer: the recording agency's own record ids (``urn:ehh:agency:CODE``);
  performer type Patient when the child gave it (competence assessment in an extension),
  RelatedPerson for a parent or carer;
- provision.actor (role IRCP, information recipient): agencies by code, or kinds of agency;
  provision.purpose, provision.class (involvement, family) and provision.securityLabel
  (sensitive services); nested provisions are exceptions ("everything except SEX").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.consent import Consent
from pydantic import ValidationError

from consent.check import SENSITIVE
from consent.models import ConsentRecord
from consent.schemas import CATEGORIES, ConsentIn
from hub.identifiers import agency_system
from hub.vocab import AgencyKind, ConsentGiver, ConsentMethod, ConsentStatus, Purpose

SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
LOINC = "http://loinc.org"
CONSENT_CATEGORY = ("59284-0", "Patient Consent")
AGENCY_CODE_SYSTEM = "urn:ehh:agency"
AGENCY_KIND_SYSTEM = "urn:ehh:agency-kind"
PURPOSE_SYSTEM = "urn:ehh:purpose"
CATEGORY_SYSTEM = "urn:ehh:data-category"
LOCAL_SENSITIVITY_SYSTEM = "urn:ehh:sensitivity"
FORM_SYSTEM = "urn:ehh:consent-form"
EXT = "urn:ehh:extension:"
EXT_STATE = EXT + "consent-state"
EXT_SUBJECT_KIND = EXT + "subject-kind"
EXT_GIVEN_BY = EXT + "given-by"
EXT_METHOD = EXT + "consent-method"
EXT_RECORDED_BY = EXT + "recorded-by"
EXT_COMPETENCE = EXT + "competence-assessment"
ACTIONS = frozenset({"collect", "access", "use", "disclose", "correct"})
ACT_CODE_SENSITIVITIES = frozenset({"SEX", "PSY", "ETH", "SDV"})


@dataclass(frozen=True)
class Issue:
    expression: str
    message: str


class FhirInvalid(ValueError):
    """The resource cannot be accepted; each issue names where and why."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.expression}: {i.message}" for i in issues))
        self.issues = issues


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def _category_coding(category: str) -> tuple[str, dict[str, Any]]:
    if category in SENSITIVE:
        system = ACT_CODE if category in ACT_CODE_SENSITIVITIES else LOCAL_SENSITIVITY_SYSTEM
        return "securityLabel", _coding(system, category)
    return "class", _coding(CATEGORY_SYSTEM, category)


def _provision(
    kind: str,
    *,
    purposes: list[str],
    agencies: list[str],
    kinds: list[str],
    categories: list[str],
    nested: list[dict[str, Any]],
) -> dict[str, Any]:
    provision: dict[str, Any] = {"type": kind}
    actors = [
        {
            "role": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
            "reference": {"identifier": {"system": system, "value": value}},
        }
        for system, values in ((AGENCY_CODE_SYSTEM, agencies), (AGENCY_KIND_SYSTEM, kinds))
        for value in values
    ]
    if actors:
        provision["actor"] = actors
    if purposes:
        provision["purpose"] = [_coding(PURPOSE_SYSTEM, p) for p in purposes]
    for category in categories:
        element, coding = _category_coding(category)
        provision.setdefault(element, []).append(coding)
    if nested:
        provision["provision"] = nested
    return provision


def _nested(data: dict[str, Any]) -> dict[str, Any]:
    return _provision(
        data["type"],
        purposes=list(data.get("purposes", [])),
        agencies=list(data.get("recipient_agencies", [])),
        kinds=list(data.get("recipient_kinds", [])),
        categories=list(data.get("categories", [])),
        nested=[_nested(p) for p in data.get("provisions", [])],
    )


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def to_fhir(record: ConsentRecord, *, agency_code: str, at: datetime) -> dict[str, Any]:
    """The consent as an R4 Consent resource, validated by fhir.resources before it leaves."""
    local = agency_system(agency_code)
    state = _state(record, at)
    fhir_status = {
        ConsentStatus.ACTIVE: "active",
        ConsentStatus.REFUSED: "active",
        ConsentStatus.WITHDRAWN: "inactive",
        ConsentStatus.EXPIRED: "inactive",
        ConsentStatus.ENTERED_IN_ERROR: "entered-in-error",
    }[ConsentStatus(state)]
    refused = record.status == ConsentStatus.REFUSED
    extensions: list[dict[str, Any]] = [
        {"url": EXT_STATE, "valueCode": state},
        {"url": EXT_SUBJECT_KIND, "valueCode": record.subject_kind},
        {"url": EXT_GIVEN_BY, "valueCode": record.given_by},
        {"url": EXT_METHOD, "valueCode": record.method},
        {
            "url": EXT_RECORDED_BY,
            "valueIdentifier": {"system": local, "value": record.recorded_by_practitioner},
        },
    ]
    if record.competence_assessed_by:
        parts: list[dict[str, Any]] = [
            {
                "url": "assessor",
                "valueIdentifier": {"system": local, "value": record.competence_assessed_by},
            }
        ]
        if record.competence_assessed_on:
            parts.append({"url": "date", "valueDate": record.competence_assessed_on.isoformat()})
        extensions.append({"url": EXT_COMPETENCE, "extension": parts})
    by_child = record.given_by == ConsentGiver.CHILD
    root = _provision(
        "deny" if refused else "permit",
        purposes=json.loads(record.purposes),
        agencies=json.loads(record.recipient_agencies),
        kinds=json.loads(record.recipient_kinds),
        categories=json.loads(record.categories),
        nested=[
            _provision("deny", purposes=[], agencies=[], kinds=[], categories=[c], nested=[])
            for c in json.loads(record.excluded_categories)
        ]
        + [_nested(p) for p in json.loads(record.provisions)],
    )
    root["action"] = [{"coding": [_coding(ACTION_SYSTEM, "disclose")]}]
    period = {"start": _instant(record.period_start)}
    if record.period_end:
        period["end"] = _instant(record.period_end)
    root["period"] = period
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": record.id,
        "meta": {"versionId": str(record.version), "lastUpdated": _instant(record.updated_at)},
        "extension": extensions,
        "status": fhir_status,
        "scope": {"coding": [_coding(SCOPE_SYSTEM, "patient-privacy")]},
        "category": [{"coding": [_coding(LOINC, *CONSENT_CATEGORY)]}],
        "patient": {"identifier": {"system": local, "value": record.subject_record}},
        "dateTime": _instant(record.created_at),
        "performer": [
            {
                "type": "Patient" if by_child else "RelatedPerson",
                "identifier": {
                    "system": local,
                    "value": record.subject_record if by_child else record.grantor_record,
                },
            }
        ],
        "organization": [{"identifier": {"system": AGENCY_CODE_SYSTEM, "value": agency_code}}],
        "policyRule": {"coding": [_coding(ACT_CODE, "OPTOUT" if refused else "OPTIN")]},
        "provision": root,
    }
    if record.form_reference:
        resource["sourceReference"] = {
            "identifier": {"system": FORM_SYSTEM, "value": record.form_reference},
            "display": "the signed consent form",
        }
    Consent.model_validate(resource)
    return resource


def _state(record: ConsentRecord, at: datetime) -> str:
    if record.status in (ConsentStatus.ACTIVE, ConsentStatus.REFUSED) and (
        record.period_end is not None and at >= record.period_end
    ):
        return ConsentStatus.EXPIRED
    return record.status


# --- reading a Consent an agency sends ---------------------------------------------------


class _Reader:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def fail(self, where: str, message: str) -> None:
        self.issues.append(Issue(where, message))

    def codes(self, where: str, codings: list[dict[str, Any]], system: str) -> list[str]:
        found = []
        for n, coding in enumerate(codings):
            if coding.get("system") != system:
                self.fail(f"{where}[{n}].system", f"must be {system}")
            else:
                found.append(str(coding.get("code")))
        return found


def _extension(resource: dict[str, Any], url: str) -> dict[str, Any] | None:
    for ext in resource.get("extension", []) or []:
        if ext.get("url") == url:
            return dict(ext)
    return None


def _read_provision(
    reader: _Reader, where: str, data: dict[str, Any], *, root: bool
) -> dict[str, Any]:
    kind = data.get("type")
    if kind not in ("permit", "deny"):
        reader.fail(f"{where}.type", "must be 'permit' or 'deny'")
    agencies: list[str] = []
    kinds: list[str] = []
    for n, actor in enumerate(data.get("actor", []) or []):
        role = (actor.get("role") or {}).get("coding") or []
        if not any(c.get("system") == PARTICIPATION and c.get("code") == "IRCP" for c in role):
            reader.fail(f"{where}.actor[{n}].role", f"must be {PARTICIPATION}#IRCP")
        identifier = (actor.get("reference") or {}).get("identifier") or {}
        system, value = identifier.get("system"), str(identifier.get("value", ""))
        if system == AGENCY_CODE_SYSTEM and value:
            agencies.append(value)
        elif system == AGENCY_KIND_SYSTEM and value in {k.value for k in AgencyKind}:
            kinds.append(value)
        else:
            reader.fail(
                f"{where}.actor[{n}].reference.identifier",
                f"name an agency ({AGENCY_CODE_SYSTEM}) or a kind of agency "
                f"({AGENCY_KIND_SYSTEM}: {', '.join(k.value for k in AgencyKind)})",
            )
    purposes = reader.codes(f"{where}.purpose", data.get("purpose", []) or [], PURPOSE_SYSTEM)
    for purpose in purposes:
        if purpose not in {p.value for p in Purpose}:
            reader.fail(f"{where}.purpose", f"unknown purpose '{purpose}'")
    categories = reader.codes(f"{where}.class", data.get("class", []) or [], CATEGORY_SYSTEM)
    for n, label in enumerate(data.get("securityLabel", []) or []):
        code, system = str(label.get("code")), label.get("system")
        expected = ACT_CODE if code in ACT_CODE_SENSITIVITIES else LOCAL_SENSITIVITY_SYSTEM
        if code not in SENSITIVE or system != expected:
            reader.fail(f"{where}.securityLabel[{n}]", f"unknown sensitivity {system}#{code}")
        else:
            categories.append(code)
    for category in categories:
        if category not in CATEGORIES:
            reader.fail(f"{where}.class", f"unknown data category '{category}'")
    for n, action in enumerate(data.get("action", []) or []):
        for code in reader.codes(
            f"{where}.action[{n}].coding", action.get("coding", []), ACTION_SYSTEM
        ):
            if code not in ACTIONS:
                reader.fail(f"{where}.action[{n}]", f"unknown consent action '{code}'")
    if not root and data.get("period"):
        reader.fail(f"{where}.period", "only the outermost provision may set a period")
    return {
        "type": kind,
        "purposes": purposes,
        "recipient_agencies": agencies,
        "recipient_kinds": kinds,
        "categories": categories,
        "provisions": [
            _read_provision(reader, f"{where}.provision[{n}]", p, root=False)
            for n, p in enumerate(data.get("provision", []) or [])
        ],
    }


def _parse_instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def from_fhir(resource: dict[str, Any], *, agency_code: str) -> ConsentIn:
    """Read a Consent an agency sends into what the hub records; every code is checked."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Consent":
        raise FhirInvalid([Issue("resourceType", "must be 'Consent'")])
    try:
        Consent.model_validate(resource)
    except ValidationError as exc:
        raise FhirInvalid(
            [
                Issue(".".join(str(p) for p in e["loc"]) or "Consent", e["msg"])
                for e in exc.errors()[:20]
            ]
        ) from None
    reader = _Reader()
    local = agency_system(agency_code)
    status = resource.get("status")
    if status not in ("active", "rejected"):
        reader.fail("status", "record a consent as 'active' (or a refusal as 'rejected')")
    scope = reader.codes("scope.coding", resource["scope"].get("coding", []), SCOPE_SYSTEM)
    if scope != ["patient-privacy"]:
        reader.fail("scope", f"must be {SCOPE_SYSTEM}#patient-privacy")
    if not any(
        c.get("system") == LOINC and c.get("code") == CONSENT_CATEGORY[0]
        for cat in resource["category"]
        for c in cat.get("coding", []) or []
    ):
        reader.fail("category", f"must include {LOINC}#{CONSENT_CATEGORY[0]}")
    patient = ((resource.get("patient") or {}).get("identifier")) or {}
    if patient.get("system") != local or not patient.get("value"):
        reader.fail("patient.identifier", f"identify the person by your own record id ({local})")
    performers = resource.get("performer") or []
    performer = performers[0] if len(performers) == 1 else {}
    if len(performers) != 1:
        reader.fail("performer", "name exactly one person who gave (or refused) consent")
    performer_id = (performer.get("identifier") or {}) if performer else {}
    if performers and performer_id.get("system") != local:
        reader.fail("performer[0].identifier", f"identify them by your own record id ({local})")
    given_by_ext = _extension(resource, EXT_GIVEN_BY)
    by_child = performer.get("type") == "Patient"
    given_by = (given_by_ext or {}).get("valueCode") or ("child" if by_child else "parent")
    if given_by not in {g.value for g in ConsentGiver}:
        reader.fail("extension(given-by)", "must be child, parent or carer")
    if by_child != (given_by == ConsentGiver.CHILD):
        reader.fail("performer[0].type", "Patient when the child gave it, else RelatedPerson")
    method = (_extension(resource, EXT_METHOD) or {}).get("valueCode")
    if method not in {m.value for m in ConsentMethod}:
        reader.fail(f"extension({EXT_METHOD})", "say how it was given: written, verbal, electronic")
    recorded_by = ((_extension(resource, EXT_RECORDED_BY) or {}).get("valueIdentifier")) or {}
    if not recorded_by.get("value"):
        reader.fail(f"extension({EXT_RECORDED_BY})", "say which practitioner recorded it")
    assessor: str | None = None
    assessed_on: date | None = None
    competence = _extension(resource, EXT_COMPETENCE)
    for part in (competence or {}).get("extension", []) or []:
        if part.get("url") == "assessor":
            assessor = (part.get("valueIdentifier") or {}).get("value")
        elif part.get("url") == "date" and part.get("valueDate"):
            assessed_on = date.fromisoformat(str(part["valueDate"]))
    form = (((resource.get("sourceReference") or {}).get("identifier")) or {}).get("value")
    provision = resource.get("provision")
    if not provision:
        reader.fail("provision", "say what is permitted (or refused): a provision is needed")
        raise FhirInvalid(reader.issues)
    root = _read_provision(reader, "provision", provision, root=True)
    expected = "deny" if status == "rejected" else None
    if expected and root["type"] != expected:
        reader.fail("provision.type", "a refusal ('rejected') has provision.type 'deny'")
    refused = status == "rejected" or root["type"] == "deny"
    period = provision.get("period") or {}
    if reader.issues:
        raise FhirInvalid(reader.issues)
    try:
        return ConsentIn(
            record=str(patient["value"]),
            status="refused" if refused else "active",
            given_by=ConsentGiver(given_by),
            grantor_record=None if by_child else performer_id.get("value"),
            competence_assessed_by=assessor,
            competence_assessed_on=assessed_on,
            practitioner=str(recorded_by["value"]),
            method=ConsentMethod(str(method)),
            form_reference=form,
            purposes=root["purposes"],
            recipient_agencies=root["recipient_agencies"],
            recipient_kinds=root["recipient_kinds"],
            categories=root["categories"],
            provisions=root["provisions"],
            period_start=_parse_instant(period.get("start")),
            period_end=_parse_instant(period.get("end")),
        )
    except ValidationError as exc:
        raise FhirInvalid(
            [
                Issue(".".join(str(p) for p in e["loc"]) or "Consent", e["msg"])
                for e in exc.errors()[:20]
            ]
        ) from None
