"""Involvements as agency systems write them, and as "who else is involved" shows them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.vocab import AgencyKind, Role, Sensitivity, Tier

CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


class PractitionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9 +()-]{5,40}$")


class InvolvementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: str = Field(min_length=1, max_length=64, description="Your local id of the person.")
    service: str = Field(pattern=CODE_PATTERN, examples=["health-visiting"])
    service_name: str = Field(min_length=1, max_length=200, examples=["Health visiting"])
    tier: Tier
    level_of_need: int = Field(ge=1, le=4)
    lead_professional: bool = False
    sensitivity: Sensitivity | None = None
    practitioner: PractitionerIn | None = None
    start_date: date
    end_date: date | None = None

    @model_validator(mode="after")
    def _period(self) -> InvolvementIn:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class InvolvementEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_date: date


class InvolvementWritten(BaseModel):
    local_id: str
    status: str


class AgencyOut(BaseModel):
    code: str
    name: str
    kind: AgencyKind


class PractitionerOut(BaseModel):
    name: str
    role: str
    email: str | None
    phone: str | None


class InvolvementOut(BaseModel):
    """One involvement; a shielded one says only that a service is involved and whom to ask."""

    id: str
    shielded: bool
    agency: AgencyOut | None
    service: str | None
    service_name: str
    tier: Tier | None
    level_of_need: int | None
    lead_professional: bool
    practitioner: PractitionerOut | None
    start_date: date | None
    end_date: date | None
    contact: str | None
