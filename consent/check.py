"""Which recorded consents cover a disclosure: the consent step of every decision.

A consent is a tree of provisions, as in FHIR: the root permits (a consent) or denies (a
refusal) within its scope, and nested provisions are exceptions to it ("share everything
except sexual health"). Within one provision a matching deny exception beats a matching
permit exception. A consent that shares "everything" never covers a sensitive service unless
it names that category.

Across consents, the most recently recorded one that speaks to the request decides: a
refusal recorded after a consent stops it, and a consent recorded after a refusal replaces
it. Withdrawn and entered-in-error records never permit; expired ones are outside their
period and never permit either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import bindparam, select

from consent.models import ConsentRecord
from hub.db.engine import Reads
from hub.db.reads import fetch_rows
from hub.vocab import ConsentStatus, Sensitivity

SENSITIVE = frozenset(s.value for s in Sensitivity)
PERMIT = "permit"
DENY = "deny"


@dataclass(frozen=True, slots=True)
class Provision:
    type: str
    purposes: frozenset[str] = frozenset()
    recipient_agencies: frozenset[str] = frozenset()
    recipient_kinds: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    provisions: tuple[Provision, ...] = ()

    def in_scope(self, agency_code: str, agency_kind: str, purpose: str) -> bool:
        if self.purposes and purpose not in self.purposes:
            return False
        return not (self.recipient_agencies or self.recipient_kinds) or (
            agency_code in self.recipient_agencies or agency_kind in self.recipient_kinds
        )

    def covers_category(self, category: str) -> bool:
        if self.categories:
            return category in self.categories
        # "Everything" permits only what is not sensitive; a deny of everything denies all.
        return self.type == DENY or category not in SENSITIVE

    def verdict(
        self, agency_code: str, agency_kind: str, purpose: str, category: str
    ) -> str | None:
        """permit, deny, or None when this provision does not speak to the request.

        Nested provisions are exceptions within this one's scope: a matching deny beats a
        matching permit, and either beats this provision's own type.
        """
        if self.purposes and purpose not in self.purposes:
            return None
        if (self.recipient_agencies or self.recipient_kinds) and not (
            agency_code in self.recipient_agencies or agency_kind in self.recipient_kinds
        ):
            return None  # (in_scope, inlined: this runs for every consent of every decision)
        said = None
        for nested in self.provisions:
            found = nested.verdict(agency_code, agency_kind, purpose, category)
            if found == DENY:
                return DENY
            if found == PERMIT:
                said = PERMIT
        if said is not None:
            return said
        return self.type if self.covers_category(category) else None

    def names(self, category: str) -> bool:
        return category in self.categories or any(p.names(category) for p in self.provisions)


def provision_from(data: dict[str, Any]) -> Provision:
    return Provision(
        type=data["type"],
        purposes=frozenset(data.get("purposes", ())),
        recipient_agencies=frozenset(data.get("recipient_agencies", ())),
        recipient_kinds=frozenset(data.get("recipient_kinds", ())),
        categories=frozenset(data.get("categories", ())),
        provisions=tuple(provision_from(p) for p in data.get("provisions", ())),
    )


@dataclass(frozen=True, slots=True)
class ConsentView:
    id: str
    status: str
    root: Provision
    period_start: datetime
    period_end: datetime | None
    recorded_at: datetime

    def in_force(self, at: datetime) -> bool:
        return self.period_start <= at and (self.period_end is None or at < self.period_end)

    def state(self, at: datetime) -> str:
        """The state as the family would understand it now, "expired" included."""
        if self.status in (ConsentStatus.ACTIVE, ConsentStatus.REFUSED) and (
            self.period_end is not None and at >= self.period_end
        ):
            return ConsentStatus.EXPIRED
        return self.status

    @property
    def categories(self) -> frozenset[str]:
        return self.root.categories


class ConsentFinding(NamedTuple):
    permitting: tuple[ConsentView, ...] = ()
    refusal: ConsentView | None = None
    considered: tuple[str, ...] = ()

    @property
    def permits(self) -> bool:
        return bool(self.permitting)

    @property
    def refused_outright(self) -> bool:
        """A recorded refusal, rather than an exception inside a consent."""
        return self.refusal is not None and self.refusal.status == ConsentStatus.REFUSED


def view_of(record: ConsentRecord) -> ConsentView:
    """A record, or a row of the same columns (``consents_for``), as the checks read it."""

    def as_set(text: str) -> frozenset[str]:
        return frozenset(json.loads(text))

    excluded = tuple(
        Provision(type=DENY, categories=frozenset({category}))
        for category in json.loads(record.excluded_categories)
    )
    nested = tuple(provision_from(p) for p in json.loads(record.provisions))
    root = Provision(
        type=DENY if record.status == ConsentStatus.REFUSED else PERMIT,
        purposes=as_set(record.purposes),
        recipient_agencies=as_set(record.recipient_agencies),
        recipient_kinds=as_set(record.recipient_kinds),
        categories=as_set(record.categories),
        provisions=excluded + nested,
    )
    return ConsentView(
        id=record.id,
        status=record.status,
        root=root,
        period_start=record.period_start,
        period_end=record.period_end,
        recorded_at=record.created_at,
    )


class _ConsentColumns(NamedTuple):
    """The columns of a consent a decision reads, by name, as view_of reads a record."""

    id: str
    status: str
    purposes: str
    recipient_agencies: str
    recipient_kinds: str
    categories: str
    excluded_categories: str
    provisions: str
    period_start: datetime
    period_end: datetime | None
    created_at: datetime


_CONSENTS_ABOUT = (
    select(*(getattr(ConsentRecord, name) for name in _ConsentColumns._fields))
    .where(ConsentRecord.person_id == bindparam("person_id"))
    .order_by(ConsentRecord.period_start, ConsentRecord.created_at)
)
"""Only the columns a decision reads: every disclosure request runs this, and loading whole
ORM records (their FHIR copy included) cost more than the query."""


def consents_for(reads: Reads, person_id: str) -> list[ConsentView]:
    """Consents about a person, oldest first (the order find_covering relies on)."""
    rows = fetch_rows(reads, _CONSENTS_ABOUT, {"person_id": person_id})
    return [view_of(cast(ConsentRecord, _ConsentColumns(*row))) for row in rows]


def in_order(consents: Iterable[ConsentView]) -> list[ConsentView]:
    return sorted(consents, key=lambda c: (c.period_start, c.recorded_at))


LIVE = frozenset({ConsentStatus.ACTIVE.value, ConsentStatus.REFUSED.value})


def live(consents: Sequence[ConsentView], at: datetime) -> list[ConsentView]:
    """The consents and refusals in force at ``at``; nothing else can speak to a request."""
    return [
        c
        for c in consents
        if c.status in LIVE and c.period_start <= at and (c.period_end is None or at < c.period_end)
    ]


def find_covering(
    consents: Sequence[ConsentView],
    *,
    agency_code: str,
    agency_kind: str,
    purpose: str,
    category: str,
    at: datetime,
) -> ConsentFinding:
    """The consents that permit this disclosure now, or the refusal or exception that stops it.

    ``consents`` must be in recording order (``in_order``/``consents_for``).
    """
    return covering(live(consents, at), agency_code, agency_kind, purpose, category)


def covering(
    in_force: Sequence[ConsentView],
    agency_code: str,
    agency_kind: str,
    purpose: str,
    category: str,
) -> ConsentFinding:
    """find_covering over consents already known to be live (see ``live``)."""
    permitting: list[ConsentView] = []
    considered: list[str] = []
    refusal: ConsentView | None = None
    for consent in in_force:
        said = consent.root.verdict(agency_code, agency_kind, purpose, category)
        if said is None or (said == PERMIT and consent.status != ConsentStatus.ACTIVE):
            continue  # a refusal never permits, whatever exceptions it carries
        considered.append(consent.id)
        if said == DENY:
            permitting.clear()
            refusal = consent
        else:
            permitting.append(consent)
            refusal = None
    return ConsentFinding(
        permitting=tuple(permitting), refusal=refusal, considered=tuple(considered)
    )
