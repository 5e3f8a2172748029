"""The hub's FHIR R4 (R4B models) face: the same decisions and log as /v1, in FHIR's shapes."""
