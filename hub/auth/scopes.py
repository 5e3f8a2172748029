"""Scopes an agency system may hold, in SMART's ``system/Resource.permission`` form."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    RECORDS_WRITE = "system/Patient.write"
    INVOLVEMENTS_WRITE = "system/EpisodeOfCare.write"
    INVOLVEMENTS_READ = "system/CareTeam.read"
    CONSENT_WRITE = "system/Consent.write"
    CONSENT_READ = "system/Consent.read"


ALL_SCOPES = tuple(str(s) for s in Scope)
