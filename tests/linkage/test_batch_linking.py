"""Importing in batches links records exactly as writing them one at a time does.

The batch path reads candidate blocks once per batch and lets each record of the batch be a
candidate for the ones after it; one row per batch reads everything from the database, as
the API's single writes do. Both must end with the same people, links and review queue.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adapters.run import files_in
from hub.agencies.models import Agency
from hub.crypto.keys import Keyring
from hub.db.migrate import upgrade
from hub.linkage import model as linkage_model
from hub.linkage.models import LinkEvidence, LinkReview
from hub.people.models import AgencyRecord
from hub.runtime import Hub
from hub.settings import Settings
from hub.synth import synthesise
from tests.adapters.helpers import run, snapshot
from tests.conftest import PUBLIC_URL

FILES = {"health": "health.ndjson", "police": "police.jsonl", "council": "council.csv"}


def _import(hub: Hub, out: Path, batch_size: int) -> None:
    for kind, name in FILES.items():
        run(hub, kind, out / name, batch_size=batch_size)
    for path in files_in(out / "school"):
        run(hub, "school", path, batch_size=batch_size)


def _links(hub: Hub) -> dict[str, Any]:
    """How each record was linked, and the doubtful pairs, by the agencies' own ids."""
    with hub.sessions() as session:
        codes = dict(session.execute(select(Agency.id, Agency.code)).all())
        local = {
            r.id: (codes[r.agency_id], r.local_id)
            for r in session.execute(select(AgencyRecord)).scalars()
        }
        methods = {
            local[e.record_id]: (e.method, None if e.weight is None else round(e.weight, 6))
            for e in session.execute(select(LinkEvidence)).scalars()
        }
        reviews = {
            (local[r.record_id], local[r.candidate_record_id], round(r.weight, 6))
            for r in session.execute(select(LinkReview)).scalars()
        }
    return {"methods": methods, "reviews": reviews}


def test_a_batch_links_as_single_writes_do(
    hub: Hub, keyring: Keyring, tmp_path: Path, trained: dict[str, Any]
) -> None:
    out = tmp_path / "county"
    synthesise(out, children=60, seed=3, as_of=date(2026, 9, 1))
    linkage_model.save(trained, hub.settings.data_dir)
    _import(hub, out, batch_size=2000)

    single_settings = Settings(
        data_dir=tmp_path / "single", database_url=f"sqlite:///{tmp_path / 'single.db'}",
        public_url=PUBLIC_URL,
    )  # fmt: skip
    upgrade(single_settings.sqlalchemy_url)
    single = Hub.start(single_settings, keyring=keyring)
    try:
        linkage_model.save(trained, single.settings.data_dir)
        _import(single, out, batch_size=1)
        batched, one_by_one = _links(hub), _links(single)
        methods = Counter(method for method, _ in batched["methods"].values())
        assert methods["probabilistic"] and methods["deterministic"], methods
        assert batched == one_by_one
        assert snapshot(hub)["groups"] == snapshot(single)["groups"]
    finally:
        single.close()
