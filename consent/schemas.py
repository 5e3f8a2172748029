"""A consent (or refusal) as an agency records it with the hub."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hub.vocab import AgencyKind, ConsentGiver, ConsentMethod, Purpose, Sensitivity

CATEGORY_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{1,47}$"


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: str = Field(
        min_length=1, max_length=64, description="Your local id of the person it is about."
    )
    status: Literal["active", "refused"] = "active"
    given_by: ConsentGiver
    grantor_record: str | None = Field(
        default=None, max_length=64, description="Your local id of the parent or carer who gave it."
    )
    competence_assessed_by: str | None = Field(default=None, max_length=64)
    practitioner: str = Field(min_length=1, max_length=64, description="Who recorded it.")
    method: ConsentMethod
    form_reference: str | None = Field(default=None, max_length=100)
    purposes: list[Purpose] = Field(default_factory=list, max_length=20)
    recipient_agencies: list[str] = Field(default_factory=list, max_length=50)
    recipient_kinds: list[AgencyKind] = Field(default_factory=list, max_length=5)
    categories: list[str] = Field(default_factory=list, max_length=20)
    excluded_categories: list[str] = Field(default_factory=list, max_length=20)
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ConsentIn:
        if self.given_by == ConsentGiver.CHILD and not self.competence_assessed_by:
            raise ValueError("a child's own consent needs competence_assessed_by")
        if self.given_by != ConsentGiver.CHILD and not self.grantor_record:
            raise ValueError("a parent's or carer's consent needs grantor_record")
        if not self.recipient_agencies and not self.recipient_kinds:
            raise ValueError("name the agencies or kinds of agency it covers")
        for category in [*self.categories, *self.excluded_categories]:
            if category not in {s.value for s in Sensitivity} and category not in {
                "involvement",
                "family",
            }:
                raise ValueError(f"unknown category '{category}'")
        if self.period_start and self.period_end and self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        return self


class ConsentOut(BaseModel):
    id: str
    status: str
    period_start: datetime
    period_end: datetime | None
