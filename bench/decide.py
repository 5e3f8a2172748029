"""In-process decisions per second with 1,000 sharing rules and 10 consents per child,
against pycasbin's bare ``Enforcer.enforce`` on the same model and rules, in the same run.

Run: ``python bench/decide.py`` (about 30 s). The rules are the shipped ones plus synthetic
ones up to 1,000; each child has 10 consents (a mix of active, refused, withdrawn and expired,
some with nested exceptions) and 5 involvements from different agencies, some sensitive.
Rates are given per wall-clock second (the headline figures) and per CPU-second of this
process (what one free core would do; the machine is shared). Each decision is the full
``decide()``: rules, then consent, then shielding, for every item.
The request mix is a fixed set of (recipient kind, role, purpose) combinations, as real
traffic is; the first decision for a combination pays for pycasbin's evaluation (reported
as the warm-up), later ones find it in the cache. Figures are medians of several rounds; the
machine is shared, so expect noise. The last line is JSON.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consent.check import DENY, PERMIT, ConsentView, Provision, in_order  # noqa: E402
from hub.decision.decide import Item, Requester, decide  # noqa: E402
from hub.vocab import AgencyKind, LegalBasis, Purpose, Role, Sensitivity  # noqa: E402
from policies.engine import MODEL_FILE, RULES_FILE, SharingRules  # noqa: E402

RULES = 1000
CONSENTS_PER_CHILD = 10
CHILDREN = 200
ITEMS_PER_CHILD = 5
ROUNDS = 5
ROUND_SECONDS = 1.0
CASBIN_SECONDS = 2.0
NOW = datetime(2026, 6, 1, tzinfo=UTC)

KINDS = [k.value for k in AgencyKind]
ROLES = [r.value for r in Role if r is not Role.IG_OFFICER]
PURPOSES = [p.value for p in Purpose]
BASES = [b.value for b in LegalBasis if b is not LegalBasis.CONSENT]
SENSITIVE = [s.value for s in Sensitivity]


def write_rules(folder: Path, rng: random.Random) -> Path:
    shutil.copy(ROOT / "policies" / MODEL_FILE, folder / MODEL_FILE)
    shipped = (ROOT / "policies" / RULES_FILE).read_text(encoding="utf-8")
    lines = [line for line in shipped.splitlines() if line.startswith("p,")]
    n = 0
    while len(lines) < RULES:
        n += 1
        consent = rng.random() < 0.7
        effect = "deny" if rng.random() < 0.03 else "allow"
        fields = [
            f"B-{n:04d}",
            rng.choice(["*", *KINDS]),
            rng.choice(["*", *KINDS]),
            rng.choice(ROLES),
            rng.choice(["involvement", "involvement", "sensitive-involvement"]),
            rng.choice(PURPOSES),
            "consent" if consent or effect == "deny" else rng.choice(BASES),
            "required" if consent else "not-required",
            effect,
            rng.choice(["-", "-", "notify-lead-professional", "shield"]),
        ]
        lines.append("p, " + ", ".join(fields))
    (folder / RULES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def make_consent(rng: random.Random, child: int, n: int) -> ConsentView:
    status = rng.choices(["active", "refused", "withdrawn"], weights=[7, 1, 2])[0]
    start = NOW - timedelta(days=rng.randint(1, 700))
    end = start + timedelta(days=rng.randint(30, 900))  # some have expired
    nested = tuple(
        Provision(type=DENY, categories=frozenset({rng.choice(SENSITIVE)}))
        for _ in range(rng.randint(0, 2))
    )
    return ConsentView(
        id=f"consent-{child}-{n}",
        status=status,
        root=Provision(
            type=DENY if status == "refused" else PERMIT,
            purposes=frozenset(rng.sample(PURPOSES, rng.randint(1, 4))),
            recipient_kinds=frozenset(rng.sample(KINDS, rng.randint(1, 3))),
            categories=frozenset(rng.sample(["involvement", *SENSITIVE], rng.randint(0, 2))),
            provisions=nested,
        ),
        period_start=start,
        period_end=end,
        recorded_at=start,
    )


def main() -> None:
    rng = random.Random(20261125)
    with tempfile.TemporaryDirectory() as tmp:
        rules = SharingRules(write_rules(Path(tmp), rng))
    assert len(rules.rules) == RULES
    children = []
    for child in range(CHILDREN):
        consents = in_order(make_consent(rng, child, n) for n in range(CONSENTS_PER_CHILD))
        items = [
            Item(
                id=f"inv-{child}-{i}",
                kind="involvement",
                source_kind=rng.choice(KINDS),
                sensitivity=rng.choice([None, None, None, *SENSITIVE]),
            )
            for i in range(ITEMS_PER_CHILD)
        ]
        children.append((consents, items))
    mix = [
        ("council", "lead-professional", "team-around-the-family"),
        ("school", "designated-safeguarding-lead", "lead-professional-check"),
        ("health", "health-visitor", "lead-professional-check"),
        ("council", "early-help-worker", "step-down"),
        ("council", "front-door", "front-door-triage"),
        ("police", "police-safeguarding", "front-door-triage"),
        ("council", "social-worker", "safeguarding-enquiry"),
        ("school", "teacher", "team-around-the-family"),
    ]
    requests = [
        (
            Requester(f"AG-{kind}", kind, "bench", "P-1", role),
            purpose,
            *children[rng.randrange(CHILDREN)],
        )
        for kind, role, purpose in (rng.choice(mix) for _ in range(5000))
    ]

    def one(request: tuple[Requester, str, list[ConsentView], list[Item]]) -> str:
        requester, purpose, consents, items = request
        return decide(
            requester=requester,
            purpose=purpose,
            subject_known=True,
            items=items,
            consents=consents,
            rules=rules,
            at=NOW,
        ).outcome.value

    started = time.perf_counter()
    outcomes: dict[str, int] = {}
    for request in requests:  # warm-up: fills the rule-tuple cache through pycasbin
        got = one(request)
        outcomes[got] = outcomes.get(got, 0) + 1
    warm_up_s = time.perf_counter() - started

    rates, cpu_rates = [], []
    for _ in range(ROUNDS):
        done = 0
        started, cpu = time.perf_counter(), time.process_time()
        while time.perf_counter() - started < ROUND_SECONDS:
            for request in requests[:500]:
                one(request)
            done += 500
        rates.append(done / (time.perf_counter() - started))
        cpu_rates.append(done / max(time.process_time() - cpu, 1e-9))
    decisions_per_s = statistics.median(rates)
    decisions_per_cpu_s = statistics.median(cpu_rates)

    enforcer = rules.enforcer
    casbin_requests = [
        (rng.choice(KINDS), kind, role, "involvement", purpose, rng.choice(["given", "absent"]))
        for kind, role, purpose in (rng.choice(mix) for _ in range(200))
    ]
    casbin_rates, casbin_cpu_rates = [], []
    for _ in range(3):
        done = 0
        started, cpu = time.perf_counter(), time.process_time()
        while time.perf_counter() - started < CASBIN_SECONDS / 3:
            enforcer.enforce(*casbin_requests[done % len(casbin_requests)])
            done += 1
        casbin_rates.append(done / (time.perf_counter() - started))
        casbin_cpu_rates.append(done / max(time.process_time() - cpu, 1e-9))
    casbin_per_s = statistics.median(casbin_rates)
    casbin_per_cpu_s = statistics.median(casbin_cpu_rates)

    ratio = decisions_per_s / casbin_per_s
    print(f"rules                          {len(rules.rules)}")
    print(f"consents per child             {CONSENTS_PER_CHILD}")
    print(f"involvements per decision      {ITEMS_PER_CHILD}")
    print(f"request mix                    {len(mix)} (recipient, role, purpose) combinations")
    print(f"warm-up (5,000 decisions)      {warm_up_s:.2f} s, outcomes {outcomes}")
    print(
        f"decide() per second            {decisions_per_s:,.0f} (median of {ROUNDS}: "
        + ", ".join(f"{r:,.0f}" for r in rates)
        + ")"
    )
    print(
        f"pycasbin enforce() per second  {casbin_per_s:,.1f} (median of 3: "
        + ", ".join(f"{r:,.1f}" for r in casbin_rates)
        + ")"
    )
    print(
        f"decide() per CPU-second        {decisions_per_cpu_s:,.0f} (what one free core would do)"
    )
    print(f"enforce() per CPU-second       {casbin_per_cpu_s:,.1f}")
    print(f"ratio                          {ratio:,.0f}x")
    print(
        json.dumps(
            {
                "rules": len(rules.rules),
                "consents_per_child": CONSENTS_PER_CHILD,
                "items_per_decision": ITEMS_PER_CHILD,
                "decisions_per_s": round(decisions_per_s),
                "casbin_enforce_per_s": round(casbin_per_s, 1),
                "ratio": round(ratio, 1),
                "decisions_per_cpu_s": round(decisions_per_cpu_s),
                "casbin_enforce_per_cpu_s": round(casbin_per_cpu_s, 1),
                "warm_up_s": round(warm_up_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
