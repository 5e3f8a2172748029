"""Revision 0002 rebuilds the tree and search facets of a log written before it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from hub.db.engine import make_engine, make_sessionmaker
from hub.db.migrate import upgrade
from hub.disclosure import log
from hub.vocab import LogEvent


def test_an_older_log_gains_its_tree_and_still_verifies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    batch = [
        log.Pending(
            LogEvent.DISCLOSURE_DECIDED,
            {"purpose": "safeguarding-enquiry", "decision": {"outcome": "permit",
             "reasons": ["rule-needs-no-consent"], "legal_basis": "public-task-ca1989-s47"}},
            outcome="permit",
        )
        for _ in range(300)
    ]  # fmt: skip
    built = log.build_batch(0, log.GENESIS, [], batch)
    engine = make_engine(url)
    with engine.begin() as conn:
        for row in built.entries:
            conn.execute(
                text(
                    "INSERT INTO disclosure_log (seq, entry_id, recorded_at, event, subject, "
                    "agency, outcome, body, leaf_hash, chain_hash) VALUES (:seq, :entry_id, "
                    ":recorded_at, :event, :subject, :agency, :outcome, :body, :leaf_hash, "
                    ":chain_hash)"
                ),
                {**row, "recorded_at": row["recorded_at"].replace(tzinfo=None)},
            )
        conn.execute(
            text("UPDATE disclosure_log_head SET size = 300, chain_hash = :c"),
            {"c": built.chain_hash},
        )
    engine.dispose()

    upgrade(url)

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        assert log.verify(session).ok
        queued = session.execute(
            text("SELECT count(*) FROM disclosure_log_facet WHERE needs_review")
        ).scalar_one()
        nodes = session.execute(text("SELECT count(*) FROM disclosure_log_node")).scalar_one()
    engine.dispose()
    assert queued == 300 and nodes == 1
