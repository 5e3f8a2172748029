"""Train the Fellegi-Sunter model with Splink (DuckDB), save it, and score pairs with it.

The trained model is Splink's own settings JSON (m and u per level, the prior), saved as a
versioned artefact under ``<data dir>/linkage/``. :class:`Scorer` reads that file and scores
one pair in Python with the Python twin of each SQL level, so live linking needs neither
DuckDB nor a re-run of the batch.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from hub.linkage.features import COLUMNS, Features
from hub.linkage.spec import BLOCKING_RULES, COMPARISONS, VETO_LEVELS, Comparison, Test

MODEL_FORMAT = "early-help-hub/linkage/1"
TRAINING_BLOCKS = (("nhs", "l.nhs = r.nhs"), ("upn", "l.upn = r.upn"))


def arrow_table(rows: Sequence[Features]) -> pa.Table:
    """Features as a column table for DuckDB; list columns stay lists."""
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for row in rows:
        for name in COLUMNS:
            value = getattr(row, name)
            columns[name].append(list(value) if isinstance(value, tuple) else value)
    columns["unique_id"] = columns.pop("record_id")
    return pa.table(columns)


def splink_settings() -> dict[str, Any]:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [c.as_splink() for c in COMPARISONS],
        "blocking_rules_to_generate_predictions": list(BLOCKING_RULES),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": True,
    }


def train(
    rows: Sequence[Features], *, seed: int = 1, recall: float = 0.8, u_pairs: float = 2e6
) -> tuple[dict[str, Any], Any]:
    """m and u by EM on the data itself; returns the model dict and the live Splink linker."""
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI()
    table = db.register(arrow_table(rows))
    linker = Linker(table, splink_settings(), log_level="WARNING")
    # The prior: how often two random records are the same child, from the identifier rules.
    linker.training.estimate_probability_two_random_records_match(
        ["l.nhs = r.nhs", "l.upn = r.upn"], recall=recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    # EM blocked on a shared NHS number, then on a shared UPN: pairs that are almost all the
    # same child, so every field's m is learnt from how agencies really differ about one
    # child. Blocked on date of birth or names instead, EM settled on "same household" as
    # its match class (siblings and twins share the address and surname) and learnt given
    # name exact m = 0.2. Levels these pairs never show keep the fixed priors in spec.
    for attr, rule in TRAINING_BLOCKS:
        if not _shared(rows, attr):
            continue  # adults have no UPN: nothing to learn from, and EM refuses no pairs
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    settings = linker.misc.save_model_to_json()
    model = {"format": MODEL_FORMAT, "trained_at": _now(), "records": len(rows), "splink": settings}
    return model, linker


def _shared(rows: Sequence[Features], attr: str) -> bool:
    seen: set[str] = set()
    for row in rows:
        value = getattr(row, attr)
        if value:
            if value in seen:
                return True
            seen.add(value)
    return False


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def save(model: dict[str, Any], data_dir: Path) -> Path:
    """Write a new version and point ``current`` at it; older versions stay for audit."""
    folder = data_dir / "linkage"
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(model, indent=1, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    path = folder / f"model-{stamp}-{digest}.json"
    path.write_text(text, encoding="utf-8")
    (folder / "current").write_text(path.name, encoding="utf-8")
    return path


def current_model_path(data_dir: Path) -> Path | None:
    pointer = data_dir / "linkage" / "current"
    if not pointer.exists():
        return None
    path = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    return path if path.exists() else None


def probability(weight: float) -> float:
    """A match weight (log2 of the odds) as the chance that the pair is one person."""
    return float(1.0 / (1.0 + 2.0 ** (-weight)))


@dataclass(frozen=True)
class FieldScore:
    field: str
    level: str
    weight: float


@dataclass(frozen=True)
class PairScore:
    weight: float
    fields: tuple[FieldScore, ...]

    @property
    def probability(self) -> float:
        return probability(self.weight)

    def level(self, field: str) -> str | None:
        return next((f.level for f in self.fields if f.field == field), None)

    def vetoed(self) -> bool:
        """A field sits at a level that never links unasked (the twin signature)."""
        return any(f.level in VETO_LEVELS.get(f.field, ()) for f in self.fields)

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {"field": f.field, "level": f.level, "weight": round(f.weight, 3)} for f in self.fields
        ]


class Scorer:
    """Scores a pair with the trained m and u; the same numbers Splink uses in bulk."""

    def __init__(self, model: dict[str, Any], version: str) -> None:
        if model.get("format") != MODEL_FORMAT:
            raise ValueError("This file is not a linkage model of this version of the hub.")
        self.version = version
        self.model = model
        settings = model["splink"]
        prior = float(settings["probability_two_random_records_match"])
        self.prior_weight = math.log2(prior / (1.0 - prior))
        saved = {c["output_column_name"]: c for c in settings["comparisons"]}
        self._plan: list[tuple[Comparison, list[float]]] = []
        for comparison in COMPARISONS:
            levels = saved[comparison.name]["comparison_levels"]
            if [lv["sql_condition"] for lv in levels] != [
                lv.splink_sql for lv in comparison.levels
            ]:
                raise ValueError(
                    f"The saved model's '{comparison.name}' levels differ from this hub's: "
                    "train the model again."
                )
            weights: list[float] = []
            for saved_level in levels:
                if saved_level.get("is_null_level"):
                    weights.append(0.0)
                    continue
                m = saved_level.get("m_probability") or 1e-6
                u = saved_level.get("u_probability") or 1e-6
                weights.append(math.log2(m / u))
            self._plan.append((comparison, weights))
        # Each level's test beside its (immutable) result, and what each comparison reads.
        self._levels: list[tuple[tuple[Test, FieldScore], ...]] = [
            tuple(
                (lv.test, FieldScore(c.name, lv.label, w))
                for lv, w in zip(c.levels, ws, strict=True)
            )
            for c, ws in self._plan
        ]
        self._by_name = {
            c.name: levels for (c, _), levels in zip(self._plan, self._levels, strict=True)
        }
        self._inputs: list[Callable[[Features], Any]] = [
            attrgetter(*c.inputs) for c, _ in self._plan
        ]

    @classmethod
    def load(cls, path: Path) -> Scorer:
        return cls(json.loads(path.read_text(encoding="utf-8")), version=path.stem)

    def level_weights(self) -> dict[str, dict[str, float]]:
        return {
            c.name: {lv.label: w for lv, w in zip(c.levels, ws, strict=True)}
            for c, ws in self._plan
        }

    def score(self, a: Features, b: Features) -> PairScore:
        total = self.prior_weight
        fields: list[FieldScore] = []
        for levels in self._levels:
            field = _first_level(levels, a, b)
            total += field.weight
            fields.append(field)
        return PairScore(weight=total, fields=tuple(fields))

    def field(self, name: str, a: Features, b: Features) -> FieldScore:
        """One comparison alone, for a caller that weighs only some fields."""
        return _first_level(self._by_name[name], a, b)

    def against(
        self, a: Features, floor: float = -math.inf
    ) -> Callable[[Features], PairScore | None]:
        """Score one incoming record against many: a field's level depends only on the
        features it reads, and candidates share names and dates, so each distinct value is
        compared once (live linking scores hundreds of candidates per record). A pair
        weighing less than ``floor`` comes back as None."""
        plan = [
            (levels, inputs, dict[Any, FieldScore]())
            for levels, inputs in zip(self._levels, self._inputs, strict=True)
        ]
        prior = self.prior_weight

        def score(b: Features) -> PairScore | None:
            total = prior
            fields: list[FieldScore] = []
            for levels, inputs, seen in plan:
                key = inputs(b)
                field = seen.get(key)
                if field is None:
                    field = seen[key] = _first_level(levels, a, b)
                total += field.weight
                fields.append(field)
            if total < floor:
                return None
            return PairScore(weight=total, fields=tuple(fields))

        return score


def _first_level(
    levels: tuple[tuple[Test, FieldScore], ...], a: Features, b: Features
) -> FieldScore:
    for test, field in levels:
        if test(a, b):
            return field
    raise AssertionError("every comparison ends with a level that always holds")
