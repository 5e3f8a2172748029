"""Scopes an agency system may hold, in SMART's ``system/Resource.permission`` form."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    RECORDS_WRITE = "system/Patient.write"
    INVOLVEMENTS_WRITE = "system/EpisodeOfCare.write"
    INVOLVEMENTS_READ = "system/CareTeam.read"
    PATIENT_READ = "system/Patient.read"
    EPISODES_READ = "system/EpisodeOfCare.read"
    SUBSCRIPTIONS_WRITE = "system/Subscription.write"
    CONSENT_WRITE = "system/Consent.write"
    AUDIT_READ = "system/AuditEvent.read"
    """Information governance: search the disclosure log, subject access reports, exports."""
    AUDIT_REVIEW = "system/AuditEvent.write"
    """Information governance: record a review of a logged decision."""
    CONSENT_READ = "system/Consent.read"
    LINKAGE_REVIEW = "system/Linkage.review"
    """Data stewards: decide doubtful matches, split and merge people."""


ALL_SCOPES = tuple(str(s) for s in Scope)

IG_SCOPES = (str(Scope.AUDIT_READ), str(Scope.AUDIT_REVIEW))
STEWARD_SCOPES = (str(Scope.LINKAGE_REVIEW),)
AGENCY_SCOPES = tuple(s for s in ALL_SCOPES if s not in IG_SCOPES + STEWARD_SCOPES)
"""What a system gets when none are named: never the IG or steward scopes, granted by name."""
DEFAULT_SCOPES = AGENCY_SCOPES
