"""Agency adapters: each agency's own export format in, the hub's records out."""

from __future__ import annotations

from adapters.base import Adapter
from adapters.council_csv import CouncilCsvAdapter
from adapters.health_fhir import HealthFhirAdapter
from adapters.police_pole import PolicePoleAdapter
from adapters.school_ctf import SchoolCtfAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "health": HealthFhirAdapter,
    "school": SchoolCtfAdapter,
    "police": PolicePoleAdapter,
    "council": CouncilCsvAdapter,
}

__all__ = ["ADAPTERS", "Adapter"]
