"""A consent (or refusal) as an agency records it with the hub, and the changes to it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hub.vocab import AgencyKind, ConsentGiver, ConsentMethod, Purpose, Sensitivity

CATEGORIES = frozenset({"involvement", "family", *(s.value for s in Sensitivity)})
AGENCY_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
MAX_DEPTH = 4


def check_categories(categories: list[str]) -> None:
    for category in categories:
        if category not in CATEGORIES:
            raise ValueError(
                f"unknown category '{category}'; use one of {', '.join(sorted(CATEGORIES))}"
            )


class ProvisionIn(BaseModel):
    """An exception to the provision around it: e.g. deny SEX inside "share everything"."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["permit", "deny"]
    purposes: list[Purpose] = Field(default_factory=list, max_length=20)
    recipient_agencies: list[str] = Field(default_factory=list, max_length=50)
    recipient_kinds: list[AgencyKind] = Field(default_factory=list, max_length=5)
    categories: list[str] = Field(default_factory=list, max_length=20)
    provisions: list[ProvisionIn] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _known(self) -> ProvisionIn:
        check_categories(self.categories)
        if _depth(self) > MAX_DEPTH:
            raise ValueError(f"provisions nest at most {MAX_DEPTH} deep")
        return self


def _permits_anything(provisions: list[ProvisionIn]) -> bool:
    return any(p.type == "permit" or _permits_anything(p.provisions) for p in provisions)


def _depth(provision: ProvisionIn) -> int:
    return 1 + max((_depth(p) for p in provision.provisions), default=0)


class ConsentScope(BaseModel):
    """What a consent covers; shared by recording and amending."""

    model_config = ConfigDict(extra="forbid")

    purposes: list[Purpose] = Field(default_factory=list, max_length=20)
    recipient_agencies: list[str] = Field(default_factory=list, max_length=50)
    recipient_kinds: list[AgencyKind] = Field(default_factory=list, max_length=5)
    categories: list[str] = Field(default_factory=list, max_length=20)
    excluded_categories: list[str] = Field(default_factory=list, max_length=20)
    provisions: list[ProvisionIn] = Field(default_factory=list, max_length=20)
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None

    def _check_scope(self) -> None:
        if not self.recipient_agencies and not self.recipient_kinds:
            raise ValueError("name the agencies or kinds of agency it covers")
        check_categories([*self.categories, *self.excluded_categories])
        if self.period_start and self.period_end and self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")


class ConsentIn(ConsentScope):
    record: str = Field(
        min_length=1, max_length=64, description="Your local id of the person it is about."
    )
    status: Literal["active", "refused"] = "active"
    given_by: ConsentGiver
    grantor_record: str | None = Field(
        default=None, max_length=64, description="Your local id of the parent or carer who gave it."
    )
    competence_assessed_by: str | None = Field(default=None, max_length=64)
    competence_assessed_on: date | None = None
    practitioner: str = Field(min_length=1, max_length=64, description="Who recorded it.")
    method: ConsentMethod
    form_reference: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _coherent(self) -> ConsentIn:
        if self.given_by == ConsentGiver.CHILD and not self.competence_assessed_by:
            raise ValueError("a child's own consent needs competence_assessed_by")
        if self.given_by != ConsentGiver.CHILD and not self.grantor_record:
            raise ValueError("a parent's or carer's consent needs grantor_record")
        if self.status == "refused" and _permits_anything(self.provisions):
            raise ValueError(
                "a refusal cannot carry permit exceptions; record a consent with deny "
                "exceptions instead"
            )
        if self.method == ConsentMethod.WRITTEN and not self.form_reference:
            raise ValueError("a written consent needs form_reference (the signed form)")
        self._check_scope()
        return self


class ConsentAmendment(ConsentScope):
    """A new version of what the consent covers; replaces the scope as a whole."""

    practitioner: str = Field(min_length=1, max_length=64, description="Who recorded the change.")
    method: ConsentMethod
    form_reference: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _coherent(self) -> ConsentAmendment:
        if self.method == ConsentMethod.WRITTEN and not self.form_reference:
            raise ValueError("a written consent needs form_reference (the signed form)")
        self._check_scope()
        return self


class ConsentOut(BaseModel):
    id: str
    status: str
    version: int
    subject_kind: str
    given_by: str
    method: str
    form_reference: str | None
    purposes: list[str]
    recipient_agencies: list[str]
    recipient_kinds: list[str]
    categories: list[str]
    excluded_categories: list[str]
    period_start: datetime
    period_end: datetime | None
    withdrawn_at: datetime | None
