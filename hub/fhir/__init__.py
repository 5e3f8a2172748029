"""FHIR R4 endpoints under /fhir: one router module per resource, one way to report errors."""
