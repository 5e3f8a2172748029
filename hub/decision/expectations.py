"""The partnership's table of expected decisions, run against the sharing rules.

Each row describes a situation in the partnership's words (who asks, for what, about
information held by which kind of agency, with what consent on record) and the decision the
partnership expects. Rows are run through the real ``decide`` with a synthetic consent, so
the table checks rules, consent handling and shielding together.

Columns: case, source, recipient, role, purpose, sensitivity (- or a code), consent (absent,
given, given-naming, refused, excluded, withdrawn, expired), override (- or yes), expect
(disclosed, shielded, withheld, deny), rule (- or a rule id the decision must name),
legal_basis (- or the basis the decision must give).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from consent.check import DENY, PERMIT, ConsentView, Provision
from hub.decision.decide import Decision, Item, Override, Requester, decide
from hub.vocab import ConsentStatus, LegalBasis, OverrideReason
from policies.engine import SharingRules

COLUMNS = (
    "case",
    "source",
    "recipient",
    "role",
    "purpose",
    "sensitivity",
    "consent",
    "override",
    "expect",
    "rule",
    "legal_basis",
)
CONSENTS = frozenset(
    {"absent", "given", "given-naming", "refused", "excluded", "withdrawn", "expired"}
)
EXPECTATIONS = frozenset({"disclosed", "shielded", "withheld", "deny"})
AT = datetime(2026, 6, 1, tzinfo=UTC)


class TableError(ValueError):
    """The table itself is malformed; the message names the line."""


@dataclass(frozen=True)
class Expectation:
    line: int
    case: str
    source: str
    recipient: str
    role: str
    purpose: str
    sensitivity: str | None
    consent: str
    override: bool
    expect: str
    rule: str | None
    legal_basis: str | None


@dataclass(frozen=True)
class Result:
    expectation: Expectation
    got: str
    decision: Decision
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


def read_table(path: Path) -> list[Expectation]:
    rows: list[Expectation] = []
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [(n, line) for n, line in enumerate(handle, start=1)]
    content = [(n, line) for n, line in lines if line.strip() and not line.startswith("#")]
    if not content:
        raise TableError(f"{path.name} holds no expectations")
    header_line, header = content[0]
    names = [h.strip() for h in next(csv.reader([header]))]
    if tuple(names) != COLUMNS:
        raise TableError(f"line {header_line}: the header must be {','.join(COLUMNS)}")
    for number, line in content[1:]:
        fields = [f.strip() for f in next(csv.reader([line]))]
        if len(fields) != len(COLUMNS):
            raise TableError(f"line {number}: {len(COLUMNS)} columns, found {len(fields)}")
        row = dict(zip(COLUMNS, fields, strict=True))
        if row["consent"] not in CONSENTS:
            raise TableError(f"line {number}: unknown consent '{row['consent']}'")
        if row["expect"] not in EXPECTATIONS:
            raise TableError(f"line {number}: unknown expectation '{row['expect']}'")
        if row["override"] not in ("-", "yes"):
            raise TableError(f"line {number}: override is '-' or 'yes'")

        def optional(value: str) -> str | None:
            return None if value in ("", "-") else value

        rows.append(
            Expectation(
                line=number,
                case=row["case"],
                source=row["source"],
                recipient=row["recipient"],
                role=row["role"],
                purpose=row["purpose"],
                sensitivity=optional(row["sensitivity"]),
                consent=row["consent"],
                override=row["override"] == "yes",
                expect=row["expect"],
                rule=optional(row["rule"]),
                legal_basis=optional(row["legal_basis"]),
            )
        )
    return rows


def _consent(row: Expectation) -> list[ConsentView]:
    if row.consent == "absent":
        return []
    categories: frozenset[str] = frozenset()
    nested: tuple[Provision, ...] = ()
    if row.consent == "given-naming" and row.sensitivity:
        categories = frozenset({"involvement", row.sensitivity})
    if row.consent == "excluded" and row.sensitivity:
        nested = (Provision(type=DENY, categories=frozenset({row.sensitivity})),)
    status = {
        "refused": ConsentStatus.REFUSED,
        "withdrawn": ConsentStatus.WITHDRAWN,
    }.get(row.consent, ConsentStatus.ACTIVE)
    start = AT - timedelta(days=30)
    end = AT - timedelta(days=1) if row.consent == "expired" else AT + timedelta(days=300)
    root = Provision(
        type=DENY if status == ConsentStatus.REFUSED else PERMIT,
        purposes=frozenset({row.purpose}),
        recipient_kinds=frozenset({row.recipient}),
        categories=categories,
        provisions=nested,
    )
    return [
        ConsentView(
            id=f"consent-line-{row.line}",
            status=status,
            root=root,
            period_start=start,
            period_end=end,
            recorded_at=start,
        )
    ]


def run_one(row: Expectation, rules: SharingRules) -> Result:
    item = Item(id="item", kind="involvement", source_kind=row.source, sensitivity=row.sensitivity)
    override = (
        Override(
            legal_basis=LegalBasis.SAFEGUARDING_DPA_SCH1_PARA18,
            reason=OverrideReason.WOULD_PREJUDICE_PROTECTION,
            justification="expected-decision table",
        )
        if row.override
        else None
    )
    decision = decide(
        requester=Requester(
            agency_code=f"TABLE-{row.recipient.upper()}",
            agency_kind=row.recipient,
            client_id="table",
            practitioner="table",
            role=row.role,
        ),
        purpose=row.purpose,
        subject_known=True,
        items=[item],
        consents=_consent(row),
        rules=rules,
        at=AT,
        override=override,
    )
    if not decision.permitted:
        got = "deny"
    elif item.id in decision.disclosed:
        got = "disclosed"
    elif item.id in decision.shielded:
        got = "shielded"
    else:
        got = "withheld"
    problems: list[str] = []
    if got != row.expect:
        problems.append(f"expected {row.expect}, got {got} ({', '.join(decision.reasons)})")
    if row.rule and row.rule not in decision.rule_ids:
        problems.append(f"expected rule {row.rule}, got {', '.join(decision.rule_ids)}")
    if row.legal_basis and row.legal_basis != decision.legal_basis:
        problems.append(f"expected basis {row.legal_basis}, got {decision.legal_basis}")
    return Result(expectation=row, got=got, decision=decision, problems=tuple(problems))


def run_table(path: Path, rules: SharingRules) -> list[Result]:
    return [run_one(row, rules) for row in read_table(path)]
