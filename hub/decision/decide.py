"""Decide what may be disclosed to whom, and say why.

Pure: everything it needs (who asks, the rules, the consents, the items) is handed to it, so
the same function serves every endpoint and can be tested and measured on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consent.check import ConsentView, find_covering
from hub.vocab import Outcome
from policies.engine import SharingRules

DEFAULT_DENY = "default-deny"


@dataclass(frozen=True)
class Requester:
    agency_code: str
    agency_kind: str
    client_id: str
    practitioner: str
    role: str


@dataclass(frozen=True)
class Item:
    """One thing that could be disclosed: an involvement, with its sensitivity label."""

    id: str
    kind: str
    sensitivity: str | None = None


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

    @property
    def permitted(self) -> bool:
        return self.outcome is not Outcome.DENY

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
        }


def deny(reason: str, *, rules: SharingRules, rule_ids: Sequence[str] = ()) -> Decision:
    return Decision(
        outcome=Outcome.DENY,
        reasons=(reason,),
        rule_ids=tuple(rule_ids) or (DEFAULT_DENY,),
        policy_version=rules.version,
    )


def decide(
    *,
    requester: Requester,
    purpose: str,
    subject_known: bool,
    items: Sequence[Item],
    consents: Sequence[ConsentView],
    rules: SharingRules,
    at: datetime,
    information: str = "involvement",
) -> Decision:
    # 1. Rules: is there any rule under which this recipient may have this, for this purpose?
    match = rules.match(
        recipient_kind=requester.agency_kind,
        role=requester.role,
        information=information,
        purpose=purpose,
    )
    if match.denied_by is not None:
        return deny("denied-by-rule", rules=rules, rule_ids=[match.denied_by.id])
    if not match.permits_at_all:
        return deny("no-sharing-rule", rules=rules)
    if not subject_known:
        return deny("subject-not-found", rules=rules)

    # 2. Consent: needed unless a rule whose legal basis stands without it applies.
    finding = find_covering(
        consents,
        agency_code=requester.agency_code,
        agency_kind=requester.agency_kind,
        purpose=purpose,
        category=information,
        at=at,
    )
    reasons: list[str] = []
    if match.without_consent is not None:
        rule = match.without_consent
        reasons.append("rule-needs-no-consent")
        if finding.refusal is not None:
            reasons.append("shared-despite-recorded-refusal")
    elif finding.permits:
        assert match.with_consent is not None
        rule = match.with_consent
        reasons.append("consent-on-record")
    elif finding.refusal is not None:
        return (
            deny("consent-refused", rules=rules, rule_ids=[match.with_consent.id])
            if match.with_consent
            else deny("consent-refused", rules=rules)
        )
    else:
        rule_ids = [match.with_consent.id] if match.with_consent else []
        return deny("no-consent", rules=rules, rule_ids=rule_ids)
    consent_ids = tuple(c.id for c in finding.permitting) or (
        (finding.refusal.id,) if finding.refusal else ()
    )

    # 3. Shielding: a sensitive service shows only that a service is involved, unless the
    #    family consented to that category by name.
    named = {cat for c in finding.permitting for cat in c.categories}
    disclosed: list[str] = []
    shielded: list[str] = []
    for item in items:
        if item.sensitivity and item.sensitivity not in named:
            shielded.append(item.id)
        else:
            disclosed.append(item.id)
    if shielded:
        reasons.append("sensitive-services-shielded")
    return Decision(
        outcome=Outcome.PARTIAL if shielded else Outcome.PERMIT,
        reasons=tuple(reasons),
        rule_ids=(rule.id,),
        policy_version=rules.version,
        legal_basis=rule.legal_basis,
        consent_ids=consent_ids,
        disclosed=tuple(disclosed),
        shielded=tuple(shielded),
    )
