"""Loads the sharing rules, refuses malformed ones, and answers "which rule lets this through?".

Rules are about kinds of agency, roles, kinds of information and purposes, never about a
particular child, so the answer for each combination is computed by pycasbin once and kept
until the rules are reloaded.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any, TypeVar

import casbin

from hub.vocab import AgencyKind, LegalBasis, Obligation, Purpose, Role

T = TypeVar("T")
MODEL_FILE = "model.conf"
RULES_FILE = "sharing_rules.csv"
INFORMATION_KINDS = frozenset({"involvement", "sensitive-involvement", "family"})
CONSENT_VALUES = frozenset({"required", "not-required"})
EFFECTS = frozenset({"allow", "deny"})
OBLIGATIONS = frozenset(Obligation)
FIELDS = (
    "id",
    "source agency kind",
    "recipient agency kind",
    "role",
    "kind of information",
    "purpose",
    "legal basis",
    "consent",
    "effect",
    "obligations",
)


class PolicyError(ValueError):
    """A rules file cannot be used; the message names the line and the reason."""


@dataclass(frozen=True)
class SharingRule:
    id: str
    source_kind: str
    recipient_kind: str
    role: str
    information: str
    purpose: str
    legal_basis: str
    consent: str
    effect: str
    obligations: tuple[str, ...] = ()

    @property
    def needs_consent(self) -> bool:
        return self.consent == "required"


@dataclass(frozen=True)
class RuleMatch:
    """What the rules say for one combination, before anyone's consent is looked at."""

    without_consent: SharingRule | None
    with_consent: SharingRule | None
    denied_by: SharingRule | None

    @property
    def permits_at_all(self) -> bool:
        return self.without_consent is not None or self.with_consent is not None


def _check_value(value: str, allowed: frozenset[str], what: str, line: int) -> None:
    if value != "*" and value not in allowed:
        raise PolicyError(f"line {line}: unknown {what} '{value}'")


def parse_rules(path: Path) -> list[SharingRule]:
    """Read and check every rule; the first problem stops the load."""
    rules: list[SharingRule] = []
    seen: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read {path.name}: {exc}") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([line]))]
        if fields[0] != "p":
            raise PolicyError(f"line {number}: a rule line starts with 'p', not '{fields[0]}'")
        if len(fields) != len(FIELDS) + 1:
            raise PolicyError(
                f"line {number}: a rule has {len(FIELDS)} fields after 'p' "
                f"({', '.join(FIELDS)}), found {len(fields) - 1}"
            )
        obligations = tuple(o.strip() for o in fields[10].split(";") if o.strip() not in ("", "-"))
        for obligation in obligations:
            if obligation not in OBLIGATIONS:
                raise PolicyError(
                    f"line {number}: unknown obligation '{obligation}' "
                    f"(use {', '.join(sorted(OBLIGATIONS))}, separated by ';', or '-')"
                )
        rule = SharingRule(
            id=fields[1],
            source_kind=fields[2],
            recipient_kind=fields[3],
            role=fields[4],
            information=fields[5],
            purpose=fields[6],
            legal_basis=fields[7],
            consent=fields[8],
            effect=fields[9],
            obligations=obligations,
        )
        if not rule.id or rule.id in seen:
            raise PolicyError(f"line {number}: rule id '{rule.id}' is empty or used twice")
        seen.add(rule.id)
        _check_value(rule.source_kind, frozenset(AgencyKind), "source agency kind", number)
        _check_value(rule.recipient_kind, frozenset(AgencyKind), "agency kind", number)
        _check_value(rule.role, frozenset(Role), "role", number)
        _check_value(rule.information, INFORMATION_KINDS, "kind of information", number)
        _check_value(rule.purpose, frozenset(Purpose), "purpose", number)
        if rule.legal_basis not in frozenset(LegalBasis):
            raise PolicyError(f"line {number}: unknown legal basis '{rule.legal_basis}'")
        if rule.consent not in CONSENT_VALUES:
            raise PolicyError(f"line {number}: consent must be 'required' or 'not-required'")
        if rule.effect not in EFFECTS:
            raise PolicyError(f"line {number}: effect must be 'allow' or 'deny'")
        if (
            rule.effect == "allow"
            and rule.consent == "not-required"
            and rule.legal_basis == "consent"
        ):
            raise PolicyError(f"line {number}: a rule whose basis is consent must require consent")
        if rule.effect == "allow" and rule.consent == "required" and rule.legal_basis != "consent":
            raise PolicyError(
                f"line {number}: a rule that requires consent must name consent as its basis"
            )
        rules.append(rule)
    if not rules:
        raise PolicyError(f"{path.name} holds no rules; the hub would deny everything")
    return rules


class SharingRules:
    """One loaded version of the rules; replace the whole object to reload."""

    def __init__(self, policy_dir: Path) -> None:
        model_path = policy_dir / MODEL_FILE
        rules_path = policy_dir / RULES_FILE
        self.rules = parse_rules(rules_path)
        digest = hashlib.sha256()
        for path in (model_path, rules_path):
            digest.update(path.read_bytes())
        self.version = digest.hexdigest()[:16]
        self._by_id = {rule.id: rule for rule in self.rules}
        try:
            self._enforcer = casbin.Enforcer(str(model_path))
        except Exception as exc:  # pycasbin raises bare exceptions for a bad model
            raise PolicyError(f"{MODEL_FILE}: {exc}") from None
        self._enforcer.add_policies([_as_row(rule) for rule in self.rules])
        self._cache: dict[tuple[str, str, str, str, str], RuleMatch] = {}
        self._derived: dict[Hashable, Any] = {}
        self._lock = Lock()

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """A value computed from these rules alone, kept as long as they are in force.

        Callers (the decision function) keep their own views of the rules here, so that a
        reload, which replaces this object, can never leave a stale view behind.
        """
        try:
            found: T = self._derived[key]
        except KeyError:
            found = self._derived[key] = build()
        return found

    def match(
        self,
        *,
        recipient_kind: str,
        role: str,
        information: str,
        purpose: str,
        source_kind: str = "*",
    ) -> RuleMatch:
        """What the rules say for this combination; computed once, then kept until reload.

        ``source_kind`` is the kind of agency that holds the information; "*" asks about
        information in general (only rules written for any source then apply).
        """
        key = (source_kind, recipient_kind, role, information, purpose)
        found = self._cache.get(key)
        if found is None:
            with self._lock:
                found = self._evaluate(*key)
                self._cache[key] = found
        return found

    def _evaluate(self, source: str, kind: str, role: str, info: str, purpose: str) -> RuleMatch:
        """pycasbin decides; the rule named is the most specific one that matches.

        pycasbin's explanation names the last matching rule in file order, which is not
        what a partnership writing rules expects, so the matching rules are listed here (the
        same equality-or-"*" test as the model's matcher, run once per combination) and the
        one with the fewest "*" is named, the earlier line winning a tie.
        """
        enforce = self._enforcer.enforce
        allowed_absent = enforce(source, kind, role, info, purpose, "absent")
        allowed_given = enforce(source, kind, role, info, purpose, "given")
        wanted = (source, kind, role, info, purpose)
        matching = [
            rule
            for rule in self.rules
            if all(
                have in ("*", want)
                for have, want in zip(_request_fields(rule), wanted, strict=True)
            )
        ]
        absent = [r for r in matching if not r.needs_consent]
        allows_absent = [r for r in absent if r.effect == "allow"]
        allows_given = [r for r in matching if r.effect == "allow" and r.needs_consent]
        denies = [r for r in matching if r.effect == "deny"]
        expected_absent = bool(allows_absent) and not any(r.effect == "deny" for r in absent)
        expected_given = bool(allows_absent or allows_given) and not denies
        if (allowed_absent, allowed_given) != (expected_absent, expected_given):
            raise PolicyError("the rules and the casbin model disagree; check model.conf")
        return RuleMatch(
            without_consent=_most_specific(allows_absent) if allowed_absent else None,
            with_consent=_most_specific(allows_given) if allowed_given else None,
            denied_by=_most_specific(denies),
        )

    @property
    def enforcer(self) -> casbin.Enforcer:
        """The bare pycasbin enforcer over these rules (for measuring against)."""
        return self._enforcer


def _request_fields(rule: SharingRule) -> tuple[str, str, str, str, str]:
    return (rule.source_kind, rule.recipient_kind, rule.role, rule.information, rule.purpose)


def _most_specific(rules: list[SharingRule]) -> SharingRule | None:
    if not rules:
        return None
    return min(rules, key=lambda r: sum(f == "*" for f in _request_fields(r)))


def _as_row(rule: SharingRule) -> list[str]:
    return [
        rule.id,
        rule.source_kind,
        rule.recipient_kind,
        rule.role,
        rule.information,
        rule.purpose,
        rule.legal_basis,
        rule.consent,
        rule.effect,
        ";".join(rule.obligations) or "-",
    ]
