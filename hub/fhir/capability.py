"""The CapabilityStatement: exactly what this FHIR face serves, and nothing it does not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from hub.settings import Settings

FHIR_VERSION = "4.3.0"  # fhir.resources' R4B models validate everything served here
SMART_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
TOPIC_CANONICAL = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "capabilitystatement-subscriptiontopic-canonical"
)
REQUESTER_HEADERS = (
    "Every request names the practitioner on whose behalf the system asks (X-Practitioner), "
    "their role (X-Practitioner-Role) and the purpose (X-Purpose); the hub decides from the "
    "sharing rules, the family's consent and the shielding of sensitive services, and records "
    "every decision, permit or deny, in its disclosure log. An unknown child and a refusal "
    "answer alike (403)."
)
PAGING = "Results are paged with _count (0 to 100, default 20); follow the Bundle's links."


def _search(name: str, kind: str, documentation: str) -> dict[str, str]:
    return {"name": name, "type": kind, "documentation": documentation}


def capability_statement(
    settings: Settings, *, started: datetime, topics: list[str]
) -> CapabilityStatement:
    base = f"{settings.public_url}/fhir"
    patient_param = _search(
        "patient",
        "reference",
        "The child, as Patient/<id> or chained as patient.identifier=system|value "
        "(NHS number, UPN or an agency's own id). " + PAGING,
    )
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                _search(
                    "identifier",
                    "token",
                    "system|value: the NHS number (https://fhir.nhs.uk/Id/nhs-number), the UPN "
                    "(urn:ehh:upn) or an agency's own id (urn:ehh:agency:CODE).",
                )
            ],
            "documentation": "Returns the child's linked identifiers the requester may see. "
            "Needs system/Patient.read.",
        },
        {
            "type": "CareTeam",
            "interaction": [{"code": "search-type"}],
            "searchParam": [patient_param],
            "documentation": "Who else is involved: one team around the child, a participant "
            "for each involvement. Needs system/CareTeam.read.",
        },
        {
            "type": "EpisodeOfCare",
            "interaction": [{"code": "search-type"}],
            "searchParam": [patient_param],
            "documentation": "Each agency's open work with the child. "
            "Needs system/EpisodeOfCare.read.",
        },
        {
            "type": "Consent",
            "interaction": [
                {"code": "create"},
                {"code": "read"},
                {"code": "vread"},
                {"code": "update"},
                {"code": "search-type"},
                {"code": "history-instance"},
            ],
            "searchParam": [
                _search(
                    "patient:identifier",
                    "token",
                    "urn:ehh:agency:CODE|id: your agency's own id for the person.",
                )
            ],
            "documentation": "Consents and refusals your agency recorded. Update with status "
            "inactive withdraws, entered-in-error voids, active amends. Needs "
            "system/Consent.write to write and system/Consent.read to read.",
        },
        {
            "type": "AuditEvent",
            "interaction": [{"code": "search-type"}],
            "searchParam": [
                patient_param,
                _search("date", "date", "ge/gt and le/lt bounds on when it was recorded."),
                _search("outcome", "token", "The decision: permit, partial or deny."),
            ],
            "documentation": "The disclosure log as IHE BALP AuditEvents, for information "
            "governance; each search is itself logged. Needs system/AuditEvent.read.",
        },
    ]
    if topics:
        resources.append(
            {
                "type": "Subscription",
                "extension": [{"url": TOPIC_CANONICAL, "valueCanonical": t} for t in topics],
                "interaction": [{"code": "create"}, {"code": "read"}, {"code": "delete"}],
                "documentation": "rest-hook subscriptions to the topics listed (criteria = the "
                "topic's canonical URL); notifications are FHIR Bundles signed with the hub's "
                "key (detached JWS in X-Hub-Signature, keys at /.well-known/jwks.json), retried "
                "with back-off, each one decided and logged as a disclosure. "
                "Needs system/Subscription.write.",
            }
        )
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": started.isoformat(),
            "publisher": "Early Help Hub",
            "kind": "instance",
            "software": {"name": "Early Help Hub", "version": "0.1.0"},
            "implementation": {"description": "Early Help Hub FHIR face", "url": base},
            "fhirVersion": FHIR_VERSION,
            "format": ["application/fhir+json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": REQUESTER_HEADERS,
                    "security": {
                        "cors": False,
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/"
                                        "restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ],
                        "extension": [
                            {
                                "url": SMART_OAUTH_URIS,
                                "extension": [
                                    {"url": "token", "valueUri": settings.token_endpoint}
                                ],
                            }
                        ],
                        "description": "SMART backend services: client credentials with "
                        "private_key_jwt; discovery at /.well-known/smart-configuration.",
                    },
                    "resource": resources,
                }
            ],
        }
    )
