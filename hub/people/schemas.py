"""What an agency system sends to register a person record, and what it gets back."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.vocab import PersonKind, RelationshipKind

Text100 = Field(default=None, min_length=1, max_length=100)


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str = Field(
        min_length=1, max_length=100, examples=["https://fhir.nhs.uk/Id/nhs-number"]
    )
    value: str = Field(min_length=1, max_length=64, examples=["9434765919"])


class RelationshipIn(BaseModel):
    """A tie to another record this agency holds, named by that record's local id."""

    model_config = ConfigDict(extra="forbid")

    record: str = Field(min_length=1, max_length=64)
    kind: RelationshipKind


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: PersonKind
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=10)
    given_name: str | None = Text100
    family_name: str | None = Text100
    birth_date: date | None = None
    sex: Literal["male", "female", "other", "unknown"] | None = None
    address: str | None = Field(default=None, min_length=1, max_length=300)
    postcode: str | None = Field(default=None, min_length=2, max_length=10)
    relationships: list[RelationshipIn] = Field(default_factory=list, max_length=20)


class RecordOut(BaseModel):
    local_id: str
    status: Literal["created", "updated"]
