"""Decide what may be disclosed to whom, and say why.

Pure: everything it needs (who asks, the rules, the consents, the items, any safeguarding
override) is handed to it, so the same function serves every endpoint and can be tested and
measured on its own.

Order: rules first (deny unless a rule permits), then consent (needed unless the rule's
legal basis stands without it, or a safeguarding override names another basis), then
shielding (a sensitive service shows only that a service is involved and whom to contact,
unless a rule for sensitive detail and a consent naming that category both allow more).
Each item is decided under the rule for the kind of agency that holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consent.check import ConsentFinding, ConsentView, find_covering
from hub.vocab import AgencyKind, LegalBasis, Obligation, Outcome, Role
from policies.engine import RuleMatch, SharingRule, SharingRules

DEFAULT_DENY = "default-deny"
INVOLVEMENT = "involvement"
SENSITIVE_INVOLVEMENT = "sensitive-involvement"
SOURCES = tuple(k.value for k in AgencyKind)
OVERRIDE_ROLES = frozenset({Role.FRONT_DOOR.value, Role.SOCIAL_WORKER.value})
# Failure reasons, most telling first: what a practitioner should be told when nothing permits.
_DENIAL_ORDER = ("consent-refused", "excluded-by-consent", "no-consent", "denied-by-rule")


@dataclass(frozen=True)
class Requester:
    agency_code: str
    agency_kind: str
    client_id: str
    practitioner: str
    role: str


@dataclass(frozen=True, slots=True)
class Item:
    """One thing that could be disclosed: an involvement, who holds it, its sensitivity."""

    id: str
    kind: str
    source_kind: str = AgencyKind.OTHER.value
    sensitivity: str | None = None


@dataclass(frozen=True)
class Override:
    """A safeguarding disclosure without or against consent (DPA 2018 Sch 1 para 18)."""

    legal_basis: str
    reason: str
    justification: str
    family_told: bool = True
    not_told_reason: str | None = None

    def as_log(self) -> dict[str, Any]:
        return {
            "legal_basis": self.legal_basis,
            "para_18c_reason": self.reason,
            "justification": self.justification,
            "family_told": self.family_told,
            "not_told_reason": self.not_told_reason,
        }


@dataclass(frozen=True)
class Withheld:
    id: str
    reason: str


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...]
    policy_version: str
    legal_basis: str | None = None
    consent_ids: tuple[str, ...] = ()
    disclosed: tuple[str, ...] = ()
    shielded: tuple[str, ...] = ()
    withheld: tuple[Withheld, ...] = field(default=())
    obligations: tuple[str, ...] = ()
    override: Override | None = None

    @property
    def permitted(self) -> bool:
        return self.outcome is not Outcome.DENY

    @property
    def ig_review(self) -> bool:
        return Obligation.IG_REVIEW.value in self.obligations

    def as_log(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "reasons": list(self.reasons),
            "rule_ids": list(self.rule_ids),
            "policy_version": self.policy_version,
            "legal_basis": self.legal_basis,
            "consent_ids": list(self.consent_ids),
            "disclosed": list(self.disclosed),
            "shielded": list(self.shielded),
            "withheld": [{"id": w.id, "reason": w.reason} for w in self.withheld],
            "obligations": list(self.obligations),
            "ig_review": self.ig_review,
            "override": self.override.as_log() if self.override else None,
        }


def deny(reason: str, *, rules: SharingRules, rule_ids: Sequence[str] = ()) -> Decision:
    return Decision(
        outcome=Outcome.DENY,
        reasons=(reason,),
        rule_ids=tuple(rule_ids) or (DEFAULT_DENY,),
        policy_version=rules.version,
    )


@dataclass(frozen=True, slots=True)
class _Grant:
    rule: SharingRule
    basis: str
    consent_ids: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class _Refusal:
    reason: str
    rule_id: str | None
    consent_ids: tuple[str, ...] = ()


def _grant(match: RuleMatch, found: ConsentFinding, override: Override | None) -> _Grant | _Refusal:
    """Rules, then consent, for one kind of information from one kind of source."""
    if match.denied_by is not None:
        return _Refusal("denied-by-rule", match.denied_by.id)
    refusal_ids = (found.refusal.id,) if found.refusal is not None else ()
    if match.without_consent is not None:
        rule = match.without_consent
        note = "shared-despite-recorded-refusal" if found.refusal is not None else None
        return _Grant(rule, rule.legal_basis, refusal_ids, note)
    needs = match.with_consent
    if needs is None:
        return _Refusal("no-sharing-rule", None)
    if found.permits:
        return _Grant(needs, LegalBasis.CONSENT.value, tuple(c.id for c in found.permitting))
    if override is not None:
        return _Grant(needs, override.legal_basis, refusal_ids, "safeguarding-override")
    if found.refusal is not None:
        why = "consent-refused" if found.refused_outright else "excluded-by-consent"
        return _Refusal(why, needs.id, refusal_ids)
    return _Refusal("no-consent", needs.id)


class _Ordered:
    """An insertion-ordered set of strings (dict keys), for ids and reasons."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, *values: str) -> None:
        for value in values:
            self._seen[value] = None

    def __call__(self) -> tuple[str, ...]:
        return tuple(self._seen)


def decide(
    *,
    requester: Requester,
    purpose: str,
    subject_known: bool,
    items: Sequence[Item],
    consents: Sequence[ConsentView],
    rules: SharingRules,
    at: datetime,
    override: Override | None = None,
) -> Decision:
    """The one decision for a disclosure. ``consents`` must be in recording order."""
    if override is not None and requester.role not in OVERRIDE_ROLES:
        return deny("override-not-allowed-for-role", rules=rules)
    recipient, role = requester.agency_kind, requester.role

    def match(source: str, information: str) -> RuleMatch:
        return rules.match(
            source_kind=source,
            recipient_kind=recipient,
            role=role,
            information=information,
            purpose=purpose,
        )

    # 1. Rules: is there any rule under which this recipient may learn who is involved?
    gate = [match(source, INVOLVEMENT) for source in SOURCES]
    if not any(m.permits_at_all for m in gate):
        denied = next((m.denied_by for m in gate if m.denied_by is not None), None)
        if denied is not None:
            return deny("denied-by-rule", rules=rules, rule_ids=[denied.id])
        return deny("no-sharing-rule", rules=rules)
    if not subject_known:
        return deny("subject-not-found", rules=rules)

    # 2. Consent, per category of information (found once per category).
    findings: dict[str, ConsentFinding] = {}

    def finding(category: str) -> ConsentFinding:
        found = findings.get(category)
        if found is None:
            found = findings[category] = find_covering(
                consents,
                agency_code=requester.agency_code,
                agency_kind=recipient,
                purpose=purpose,
                category=category,
                at=at,
            )
        return found

    general = finding(INVOLVEMENT)
    outcomes = [_grant(m, general, override) for m in gate]
    grant = next((o for o in outcomes if isinstance(o, _Grant)), None)
    if grant is None:
        refusals = [o for o in outcomes if isinstance(o, _Refusal)]
        for reason in _DENIAL_ORDER:
            hit = next((r for r in refusals if r.reason == reason), None)
            if hit is not None:
                ids = [hit.rule_id] if hit.rule_id else []
                return Decision(
                    outcome=Outcome.DENY,
                    reasons=(reason,),
                    rule_ids=tuple(ids) or (DEFAULT_DENY,),
                    policy_version=rules.version,
                    consent_ids=hit.consent_ids,
                )
        return deny("no-sharing-rule", rules=rules)

    reasons, rule_ids, consent_ids, obligations = _Ordered(), _Ordered(), _Ordered(), _Ordered()

    def used(granted: _Grant) -> None:
        rule_ids.add(granted.rule.id)
        consent_ids.add(*granted.consent_ids)
        obligations.add(*granted.rule.obligations)
        reasons.add(
            "consent-on-record"
            if granted.basis == LegalBasis.CONSENT
            else "safeguarding-override"
            if granted.note == "safeguarding-override"
            else "rule-needs-no-consent"
        )
        if granted.note == "shared-despite-recorded-refusal":
            reasons.add(granted.note)

    used(grant)

    # 3. Each item under the rule for its source; then shielding of sensitive services.
    disclosed: list[str] = []
    shielded: list[str] = []
    withheld: list[Withheld] = []
    for item in items:
        outcome = _grant(match(item.source_kind, INVOLVEMENT), general, override)
        if isinstance(outcome, _Refusal):
            withheld.append(Withheld(item.id, outcome.reason))
            if outcome.rule_id:
                rule_ids.add(outcome.rule_id)
            continue
        used(outcome)
        if Obligation.SHIELD in outcome.rule.obligations:
            shielded.append(item.id)
            withheld.append(Withheld(item.id, "rule-obliges-shielding"))
            continue
        if item.sensitivity is None:
            disclosed.append(item.id)
            continue
        detail = _grant(
            match(item.source_kind, SENSITIVE_INVOLVEMENT), finding(item.sensitivity), None
        )
        if (
            isinstance(detail, _Grant)
            and detail.basis == LegalBasis.CONSENT
            and Obligation.SHIELD not in detail.rule.obligations
        ):
            used(detail)
            disclosed.append(item.id)
        elif (
            isinstance(detail, _Refusal)
            and detail.reason == "excluded-by-consent"
            and (outcome.basis == LegalBasis.CONSENT)
        ):
            consent_ids.add(*detail.consent_ids)
            withheld.append(Withheld(item.id, "excluded-by-consent"))
        else:
            if (
                isinstance(detail, _Refusal)
                and detail.reason == "denied-by-rule"
                and detail.rule_id
            ):
                rule_ids.add(detail.rule_id)
            shielded.append(item.id)
            withheld.append(Withheld(item.id, "sensitive-service-shielded"))
    if shielded:
        reasons.add("sensitive-services-shielded")
    if override is not None:
        obligations.add(Obligation.IG_REVIEW.value)
    whole = len(disclosed) == len(items)
    return Decision(
        outcome=Outcome.PERMIT if whole else Outcome.PARTIAL,
        reasons=reasons(),
        rule_ids=rule_ids(),
        policy_version=rules.version,
        legal_basis=grant.basis,
        consent_ids=consent_ids(),
        disclosed=tuple(disclosed),
        shielded=tuple(shielded),
        withheld=tuple(withheld),
        obligations=obligations(),
        override=override,
    )
