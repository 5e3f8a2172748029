"""Scopes an agency system may hold, in SMART's ``system/Resource.permission`` form."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    RECORDS_WRITE = "system/Patient.write"
    INVOLVEMENTS_WRITE = "system/EpisodeOfCare.write"
    INVOLVEMENTS_READ = "system/CareTeam.read"
    CONSENT_WRITE = "system/Consent.write"
    LINKAGE_REVIEW = "system/Linkage.review"


ALL_SCOPES = tuple(str(s) for s in Scope)
# Deciding who is whom is for the hub's stewards: a client gets it only when asked for.
DEFAULT_SCOPES = tuple(s for s in ALL_SCOPES if s != Scope.LINKAGE_REVIEW)
