"""Loading the sharing rules: malformed files are refused with the line and the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policies.engine import MODEL_FILE, RULES_FILE, PolicyError, SharingRules

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _with_rules(tmp_path: Path, text: str) -> Path:
    shutil.copy(POLICIES / MODEL_FILE, tmp_path / MODEL_FILE)
    (tmp_path / RULES_FILE).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_rules_load_and_have_a_version() -> None:
    rules = SharingRules(POLICIES)

    assert len(rules.rules) >= 10
    assert len(rules.version) == 16


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "p, X-1, *, council, lead-professional, involvement, referral, consent, required",
            "10 fields",
        ),
        (
            "p, X-1, *, embassy, lead-professional, involvement, referral, consent, required, "
            "allow, -",
            "unknown agency kind 'embassy'",
        ),
        (
            "p, X-1, bank, council, gp, involvement, referral, consent, required, allow, -",
            "unknown source agency kind 'bank'",
        ),
        (
            "p, X-1, *, council, wizard, involvement, referral, consent, required, allow, -",
            "unknown role",
        ),
        (
            "p, X-1, *, council, gp, involvement, curiosity, consent, required, allow, -",
            "unknown purpose",
        ),
        (
            "p, X-1, *, council, gp, involvement, referral, gut-feeling, not-required, allow, -",
            "unknown legal basis",
        ),
        (
            "p, X-1, *, council, gp, involvement, referral, consent, not-required, allow, -",
            "must require consent",
        ),
        (
            "p, X-1, *, council, gp, involvement, referral, consent, required, maybe, -",
            "effect",
        ),
        (
            "p, X-1, *, council, gp, involvement, referral, consent, required, allow, tweet",
            "unknown obligation 'tweet'",
        ),
        ("g, X-1, council", "starts with 'p'"),
    ],
)
def test_malformed_rules_are_refused_with_line_and_reason(
    tmp_path: Path, line: str, reason: str
) -> None:
    folder = _with_rules(tmp_path, "# header\n\n" + line + "\n")

    with pytest.raises(PolicyError, match="line 3") as refused:
        SharingRules(folder)

    assert reason in str(refused.value)


def test_duplicate_ids_and_empty_files_are_refused(tmp_path: Path) -> None:
    rule = "p, X-1, *, council, gp, involvement, referral, consent, required, allow, -\n"
    with pytest.raises(PolicyError, match="used twice"):
        SharingRules(_with_rules(tmp_path, rule + rule))
    with pytest.raises(PolicyError, match="no rules"):
        SharingRules(_with_rules(tmp_path, "# nothing\n"))


def test_obligations_are_read(tmp_path: Path) -> None:
    folder = _with_rules(
        tmp_path,
        "p, A-1, *, council, gp, involvement, referral, public-task-ca1989-s17, not-required, "
        "allow, shield; ig-review\n",
    )

    assert SharingRules(folder).rules[0].obligations == ("shield", "ig-review")


def test_a_deny_rule_beats_an_allow_rule(tmp_path: Path) -> None:
    folder = _with_rules(
        tmp_path,
        "p, A-1, *, *, gp, involvement, referral, public-task-ca1989-s17, not-required, allow, -\n"
        "p, D-1, *, police, gp, involvement, referral, consent, not-required, deny, -\n",
    )
    rules = SharingRules(folder)

    police = rules.match(
        recipient_kind="police", role="gp", information="involvement", purpose="referral"
    )
    health = rules.match(
        recipient_kind="health", role="gp", information="involvement", purpose="referral"
    )

    assert not police.permits_at_all and police.denied_by and police.denied_by.id == "D-1"
    assert health.without_consent and health.without_consent.id == "A-1"


def test_rules_can_depend_on_the_source_agency(tmp_path: Path) -> None:
    folder = _with_rules(
        tmp_path,
        "p, A-1, health, school, teacher, involvement, referral, consent, required, allow, -\n",
    )
    rules = SharingRules(folder)

    def asks(source: str) -> bool:
        return rules.match(
            source_kind=source,
            recipient_kind="school",
            role="teacher",
            information="involvement",
            purpose="referral",
        ).permits_at_all

    assert asks("health") and not asks("police")
