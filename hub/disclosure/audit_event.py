"""Disclosure-log entries as FHIR R4B AuditEvents, shaped by IHE BALP PrivacyDisclosure.

One function, ``to_audit_event``, turns a stored entry (the parsed canonical JSON) into a
validated ``fhir.resources.R4B`` AuditEvent, so the IG exports here and a FHIR AuditEvent
search endpoint elsewhere give the same resource. The hub is the disclosing party, so a
decision is an Export (DCM 110106) at the Source with the iso-21089 ``disclose`` subtype; the
hub is the source agent and the asking agency the recipient (and requestor). Entities name
the child by pseudonymous id and the disclosed items by id and kind: never names or content.
Other log events (consent recorded, link made, review...) become plain AuditEvents that
carry the hub's event code.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent

BALP_SOURCE = (
    "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PrivacyDisclosure.Source"
)
DCM = "http://dicom.nema.org/resources/ontology/DCM"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
NETWORK_URI = "5"
DISCLOSED = "hub:disclosure:decided"
OUTCOME_CODE = {"permit": "0", "partial": "0", "deny": "4"}
"""audit-event-outcome: a refusal is a minor failure of the request, not of the hub."""


def systems(base_url: str) -> dict[str, str]:
    """The hub's own code and identifier systems, under its public address."""
    base = base_url.rstrip("/")
    return {
        "person": f"{base}/fhir/NamingSystem/person-id",
        "agency": f"{base}/fhir/NamingSystem/agency-code",
        "practitioner": f"{base}/fhir/NamingSystem/practitioner",
        "item": f"{base}/fhir/NamingSystem/involvement-id",
        "entry": f"{base}/fhir/NamingSystem/disclosure-log-entry",
        "purpose": f"{base}/fhir/CodeSystem/purpose",
        "legal-basis": f"{base}/fhir/CodeSystem/legal-basis",
        "role": f"{base}/fhir/CodeSystem/role",
        "event": f"{base}/fhir/CodeSystem/log-event",
        "reason": f"{base}/fhir/CodeSystem/decision-reason",
    }


def to_audit_event(entry: dict[str, Any], *, base_url: str, origin: str) -> AuditEvent:
    """A validated AuditEvent for one stored log entry (raises if it would not validate)."""
    sys = systems(base_url)
    if entry.get("event") == DISCLOSED:
        data = _disclosure(entry, sys, origin)
    else:
        data = _other(entry, sys, origin)
    return AuditEvent.model_validate(data)


def to_json(entry: dict[str, Any], *, base_url: str, origin: str) -> str:
    return to_audit_event(entry, base_url=base_url, origin=origin).model_dump_json(
        exclude_none=True
    )


def _hub_agent(origin: str) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "who": {"identifier": {"value": origin}, "display": "Early Help Hub"},
        "requestor": False,
        "network": {"address": origin.split("/", 1)[0], "type": NETWORK_URI},
    }


def _source(origin: str) -> dict[str, Any]:
    return {"site": origin, "observer": {"display": "Early Help Hub disclosure log"}}


def _entry_entity(entry: dict[str, Any], sys: dict[str, str]) -> dict[str, Any]:
    return {
        "what": {"identifier": {"system": sys["entry"], "value": entry["id"]}},
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
        "description": f"disclosure log entry {entry['seq']}",
    }


def _child_entity(subject: str, sys: dict[str, str]) -> dict[str, Any]:
    return {
        "what": {"identifier": {"system": sys["person"], "value": subject}},
        "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
        "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
    }


def _disclosure(entry: dict[str, Any], sys: dict[str, str], origin: str) -> dict[str, Any]:
    decision = entry.get("decision") or {}
    requester = entry.get("requester") or {}
    outcome = decision.get("outcome") or entry.get("outcome") or "deny"
    purposes: list[dict[str, Any]] = []
    if entry.get("purpose"):
        purposes.append({"coding": [{"system": sys["purpose"], "code": entry["purpose"]}]})
    if decision.get("legal_basis"):
        purposes.append(
            {"coding": [{"system": sys["legal-basis"], "code": decision["legal_basis"]}]}
        )
    agents = [_hub_agent(origin)]
    if requester.get("agency"):
        agents.append(
            {
                "type": {
                    "coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]
                },
                "who": {"identifier": {"system": sys["agency"], "value": requester["agency"]}},
                "requestor": True,
                "network": {"address": requester.get("client") or "unknown", "type": NETWORK_URI},
            }
        )
    if requester.get("practitioner"):
        agents.append(
            {
                "who": {
                    "identifier": {
                        "system": f"{sys['practitioner']}/{requester.get('agency')}",
                        "value": requester["practitioner"],
                    }
                },
                "role": [{"coding": [{"system": sys["role"], "code": requester.get("role")}]}]
                if requester.get("role")
                else None,
                "requestor": True,
            }
        )
    entities = [_entry_entity(entry, sys)]
    if entry.get("subject"):
        entities.insert(0, _child_entity(entry["subject"], sys))
    shielded = set(decision.get("shielded") or ())
    for item in [*(decision.get("disclosed") or ()), *shielded]:
        entities.append(
            {
                "what": {"identifier": {"system": sys["item"], "value": item}},
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "3", "display": "Report"},
                "description": "involvement (shown as 'a service is involved' only)"
                if item in shielded
                else "involvement",
            }
        )
    reasons = ", ".join(decision.get("reasons") or ())
    rules = ", ".join(decision.get("rule_ids") or ())
    return {
        "resourceType": "AuditEvent",
        "id": entry["id"],
        "meta": {"profile": [BALP_SOURCE]},
        "type": {"system": DCM, "code": "110106", "display": "Export"},
        "subtype": [
            {"system": LIFECYCLE, "code": "disclose", "display": "Disclose Record Lifecycle Event"}
        ],
        "action": "R",
        "recorded": entry["time"],
        "outcome": OUTCOME_CODE.get(outcome, "4"),
        "outcomeDesc": f"{outcome}: {reasons or 'no reason recorded'}; rules: {rules or 'none'}; "
        f"policy {decision.get('policy_version', 'unknown')}",
        "purposeOfEvent": purposes or None,
        "agent": agents,
        "source": _source(origin),
        "entity": entities,
    }


def _other(entry: dict[str, Any], sys: dict[str, str], origin: str) -> dict[str, Any]:
    entities = [_entry_entity(entry, sys)]
    if entry.get("subject"):
        entities.insert(0, _child_entity(entry["subject"], sys))
    agents = [_hub_agent(origin)]
    if entry.get("agency"):
        agents.append(
            {
                "who": {"identifier": {"system": sys["agency"], "value": entry["agency"]}},
                "requestor": True,
            }
        )
    return {
        "resourceType": "AuditEvent",
        "id": entry["id"],
        "type": {"system": DCM, "code": "110110", "display": "Patient Record"},
        "subtype": [{"system": sys["event"], "code": entry.get("event", "unknown")}],
        "action": "C",
        "recorded": entry["time"],
        "outcome": "0",
        "agent": agents,
        "source": _source(origin),
        "entity": entities,
    }
