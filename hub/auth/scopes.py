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


ALL_SCOPES = tuple(str(s) for s in Scope)
