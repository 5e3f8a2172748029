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
from typing import Any, NamedTuple

from consent.check import ConsentFinding, ConsentView, covering, live
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


class Withheld(NamedTuple):
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


class _Grant(NamedTuple):
    rule: SharingRule
    basis: str
    consent_ids: tuple[str, ...]
    note: str | None = None


class _Refusal(NamedTuple):
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


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the rules say for one (recipient kind, role, purpose), per kind of source.

    Built once per combination from the rules' cache and kept with the rules, so a decision
    costs dictionary look-ups, never a scan of the rules.
    """

    involvement: dict[str, RuleMatch]
    sensitive: dict[str, RuleMatch]
    permits_at_all: bool
    denied_by: SharingRule | None
    distinct: tuple[RuleMatch, ...]  # the different answers across sources, usually one or two
    answer_of: dict[str, int]  # source kind -> index into distinct


def _plan(rules: SharingRules, recipient: str, role: str, purpose: str) -> _Plan:
    def build() -> _Plan:
        def match(source: str, information: str) -> RuleMatch:
            return rules.match(
                source_kind=source,
                recipient_kind=recipient,
                role=role,
                information=information,
                purpose=purpose,
            )

        involvement = {source: match(source, INVOLVEMENT) for source in SOURCES}
        distinct: list[RuleMatch] = []
        for found in involvement.values():
            if found not in distinct:
                distinct.append(found)
        return _Plan(
            distinct=tuple(distinct),
            answer_of={source: distinct.index(found) for source, found in involvement.items()},
            involvement=involvement,
            sensitive={source: match(source, SENSITIVE_INVOLVEMENT) for source in SOURCES},
            permits_at_all=any(m.permits_at_all for m in involvement.values()),
            denied_by=next(
                (m.denied_by for m in involvement.values() if m.denied_by is not None), None
            ),
        )

    return rules.derived(("decision-plan", recipient, role, purpose), build)


def _reason_for(granted: _Grant) -> str:
    if granted.basis == LegalBasis.CONSENT:
        return "consent-on-record"
    if granted.note == "safeguarding-override":
        return "safeguarding-override"
    return "rule-needs-no-consent"


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
    recipient, code = requester.agency_kind, requester.agency_code

    # 1. Rules: is there any rule under which this recipient may learn who is involved?
    plan = _plan(rules, recipient, requester.role, purpose)
    if not plan.permits_at_all:
        if plan.denied_by is not None:
            return deny("denied-by-rule", rules=rules, rule_ids=[plan.denied_by.id])
        return deny("no-sharing-rule", rules=rules)
    if not subject_known:
        return deny("subject-not-found", rules=rules)

    # 2. Consent, per category of information (found once per category), under the rule for
    #    each kind of source.
    in_force = live(consents, at)
    findings: dict[str, ConsentFinding] = {}

    def finding(category: str) -> ConsentFinding:
        found = findings.get(category)
        if found is None:
            found = findings[category] = covering(in_force, code, recipient, purpose, category)
        return found

    general = finding(INVOLVEMENT)
    answers = [_grant(m, general, override) for m in plan.distinct]
    grant = next((g for g in answers if isinstance(g, _Grant)), None)
    if grant is None:
        return _denied([g for g in answers if isinstance(g, _Refusal)], rules)
    answer_of = plan.answer_of

    reasons: dict[str, None] = {}
    rule_ids: dict[str, None] = {}
    consent_ids: dict[str, None] = {}
    obligations: dict[str, None] = {}

    def used(granted: _Grant) -> None:
        rule_ids[granted.rule.id] = None
        consent_ids.update(dict.fromkeys(granted.consent_ids))
        obligations.update(dict.fromkeys(granted.rule.obligations))
        reasons[_reason_for(granted)] = None
        if granted.note == "shared-despite-recorded-refusal":
            reasons[granted.note] = None

    used(grant)

    # 3. Each item under the rule for its source; then shielding of sensitive services.
    disclosed: list[str] = []
    shielded: list[str] = []
    withheld: list[Withheld] = []
    for item in items:
        index = answer_of.get(item.source_kind)
        if index is None:  # a kind of agency the hub does not know: nothing matches
            withheld.append(Withheld(item.id, "no-sharing-rule"))
            continue
        outcome = answers[index]
        if isinstance(outcome, _Refusal):
            withheld.append(Withheld(item.id, outcome.reason))
            if outcome.rule_id:
                rule_ids[outcome.rule_id] = None
            continue
        if outcome is not grant:
            used(outcome)
        if Obligation.SHIELD in outcome.rule.obligations:
            shielded.append(item.id)
            withheld.append(Withheld(item.id, "rule-obliges-shielding"))
            continue
        if item.sensitivity is None:
            disclosed.append(item.id)
            continue
        detail = _grant(plan.sensitive[item.source_kind], finding(item.sensitivity), None)
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
            and outcome.basis == LegalBasis.CONSENT
        ):
            consent_ids.update(dict.fromkeys(detail.consent_ids))
            withheld.append(Withheld(item.id, "excluded-by-consent"))
        else:
            if (
                isinstance(detail, _Refusal)
                and detail.reason == "denied-by-rule"
                and detail.rule_id
            ):
                rule_ids[detail.rule_id] = None
            shielded.append(item.id)
            withheld.append(Withheld(item.id, "sensitive-service-shielded"))
    if shielded:
        reasons["sensitive-services-shielded"] = None
    if override is not None:
        obligations[Obligation.IG_REVIEW.value] = None
    return Decision(
        outcome=Outcome.PERMIT if len(disclosed) == len(items) else Outcome.PARTIAL,
        reasons=tuple(reasons),
        rule_ids=tuple(rule_ids),
        policy_version=rules.version,
        legal_basis=grant.basis,
        consent_ids=tuple(consent_ids),
        disclosed=tuple(disclosed),
        shielded=tuple(shielded),
        withheld=tuple(withheld),
        obligations=tuple(obligations),
        override=override,
    )


def _denied(refusals: list[_Refusal], rules: SharingRules) -> Decision:
    """Nothing permits: tell the most telling reason, with its rule and any refusal."""
    for reason in _DENIAL_ORDER:
        hit = next((r for r in refusals if r.reason == reason), None)
        if hit is not None:
            return Decision(
                outcome=Outcome.DENY,
                reasons=(reason,),
                rule_ids=(hit.rule_id,) if hit.rule_id else (DEFAULT_DENY,),
                policy_version=rules.version,
                consent_ids=hit.consent_ids,
            )
    return deny("no-sharing-rule", rules=rules)
