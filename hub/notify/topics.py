"""The events an agency system can subscribe to, named by canonical URL as FHIR topics are."""

from __future__ import annotations

from typing import Final

NEW_AGENCY_INVOLVED: Final = "urn:ehh:topic:new-agency-involved"
CONSENT_CHANGED: Final = "urn:ehh:topic:consent-changed"

TOPICS: Final = {
    NEW_AGENCY_INVOLVED: "Another agency became involved with a child your agency works with.",
    CONSENT_CHANGED: "A consent about a child your agency works with was recorded or withdrawn.",
}
