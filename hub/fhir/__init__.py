"""The hub's FHIR R4 face (R4B models): the same decisions and log as /v1, in FHIR's shapes."""
