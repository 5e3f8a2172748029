"""The Merkle tree kept with the log: frontier, stored subtrees, proofs and signed heads."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from hub.app import create_app
from hub.disclosure import checkpoint, log, merkle, tree
from hub.disclosure.models import LogEntry
from hub.runtime import Hub
from hub.vocab import LogEvent
from tests.factories import NHS_CONSENTED, World, make_world, populate


def _fill(hub: Hub, n: int, batch: int = 200) -> None:
    done = 0
    while done < n:
        k = min(batch, n - done)
        with hub.sessions() as session:
            log.append_many(
                session,
                [
                    log.Pending(LogEvent.DISCLOSURE_DECIDED, {"i": done + i}, agency="T")
                    for i in range(k)
                ],
            )
            session.commit()
        done += k


def _leaves(hub: Hub) -> list[bytes]:
    with hub.sessions() as session:
        rows = session.execute(select(LogEntry.leaf_hash).order_by(LogEntry.seq)).scalars()
        return [bytes.fromhex(h) for h in rows]


def test_frontier_matches_compact_range() -> None:
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(1100)]
    frontier, nodes = log.rebuild_tree(leaves)
    compact = merkle.CompactRange()
    compact.extend(leaves)
    assert frontier == compact.to_list()
    assert (8, 0, merkle.root(leaves[:256])) in nodes
    assert (10, 0, merkle.root(leaves[:1024])) in nodes
    assert len(nodes) == 4 + 2 + 1  # four 256-blocks, two 512-blocks, one 1024-block


def test_proofs_from_storage_match_the_reference(hub: Hub) -> None:
    _fill(hub, 777)
    leaves = _leaves(hub)
    with hub.sessions() as session:
        head = tree.current_head(session)
        assert head.size == 777 and head.root == merkle.root(leaves)
        for index, size in [(0, 777), (255, 777), (256, 777), (600, 700), (776, 777), (3, 4)]:
            proof = tree.inclusion_proof(session, index, size)
            assert proof == merkle.inclusion_proof(leaves, index, size)
            merkle.verify_inclusion(leaves[index], index, size, proof, merkle.root(leaves[:size]))
        for first, second in [(1, 777), (256, 777), (300, 513), (512, 777), (777, 777)]:
            proof = tree.consistency_proof(session, first, second)
            assert proof == merkle.consistency_proof(leaves, first, second)


def test_signed_heads_extend_each_other(hub: Hub) -> None:
    _fill(hub, 10)
    first = hub.log.sign_now()
    _fill(hub, 5)
    second = hub.log.sign_now()
    assert (first, second) == (10, 15)
    with hub.sessions() as session:
        latest = tree.latest_checkpoint(session)
        assert latest is not None
        signed = checkpoint.verify_note(latest.note, hub.log_signer.vkey)
        assert signed.size == 15 and signed.root_hash.hex() == latest.root_hash
        assert log.verify(session, vkey=hub.log_signer.vkey).checkpoints == 2


def test_the_hub_refuses_to_sign_a_rewritten_log(hub: Hub) -> None:
    _fill(hub, 10)
    hub.log.sign_now()
    _fill(hub, 3)
    _drop_guards(hub)
    with hub.engine.begin() as conn:
        conn.execute(
            text("UPDATE disclosure_log SET leaf_hash = :h WHERE seq = 4"), {"h": "ab" * 32}
        )
    with pytest.raises(tree.LogInconsistent):
        hub.log.sign_now()


def test_truncation_with_a_rewritten_head_is_caught_by_the_checkpoint(hub: Hub) -> None:
    _fill(hub, 20)
    hub.log.sign_now()
    _drop_guards(hub)
    with hub.sessions() as session:
        rows = session.execute(
            select(LogEntry.leaf_hash, LogEntry.chain_hash)
            .where(LogEntry.seq < 15)
            .order_by(LogEntry.seq)
        ).all()
    frontier, _ = log.rebuild_tree([bytes.fromhex(r.leaf_hash) for r in rows])
    with hub.engine.begin() as conn:
        conn.execute(text("DELETE FROM disclosure_log WHERE seq >= 15"))
        conn.execute(
            text("UPDATE disclosure_log_head SET size = 15, chain_hash = :c, frontier = :f"),
            {"c": rows[-1].chain_hash, "f": ",".join(h.hex() for h in frontier)},
        )
    with hub.sessions() as session:
        result = log.verify(session, vkey=hub.log_signer.vkey)
    assert not result.ok
    assert result.first_bad == 15 and "cut" in (result.reason or "")


def _drop_guards(hub: Hub) -> None:
    with hub.engine.begin() as conn:
        if hub.engine.dialect.name == "sqlite":
            for table in ("disclosure_log", "disclosure_log_node", "disclosure_log_checkpoint"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        else:
            for table in ("disclosure_log", "disclosure_log_node", "disclosure_log_checkpoint"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}"))


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


def test_an_agency_proves_its_receipt_over_http(world: World) -> None:
    answer = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()
    receipt = answer["receipt"]

    head = world.api.get("/v1/log/checkpoint", headers=world.auth("COUNCIL")).json()
    proof = world.api.get(
        f"/v1/log/entries/{receipt['index']}/inclusion", headers=world.auth("COUNCIL")
    ).json()

    signed = checkpoint.verify_note(head["checkpoint"], head["vkey"])
    assert signed.size == head["size"] > receipt["index"]
    assert proof["checkpoint"] == head["checkpoint"]
    merkle.verify_inclusion(
        bytes.fromhex(receipt["leaf_hash"]),
        receipt["index"],
        signed.size,
        [bytes.fromhex(p) for p in proof["proof"]],
        signed.root_hash,
    )

    world.ask("HEALTH", f"nhs|{NHS_CONSENTED}")
    world.hub.log.sign_now()
    later = world.api.get(
        "/v1/log/consistency", params={"first": signed.size}, headers=world.auth("HEALTH")
    ).json()
    newer = checkpoint.verify_note(later["second_checkpoint"], head["vkey"])
    merkle.verify_consistency(
        signed.size,
        newer.size,
        signed.root_hash,
        newer.root_hash,
        [bytes.fromhex(p) for p in later["proof"]],
    )


def test_proof_routes_need_a_token_and_a_signed_size(world: World) -> None:
    assert world.api.get("/v1/log/checkpoint").status_code == 401
    missing = world.api.get(
        "/v1/log/entries/0/inclusion", params={"tree_size": 999999}, headers=world.auth("SCHOOL")
    )
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "checkpoint-not-found"


def test_signing_holds_no_lock_that_stops_an_append(hub: Hub) -> None:
    """A checkpoint being signed (its transaction still open) must not hold appends back."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("needs HUB_TEST_DATABASE_URL (PostgreSQL): SQLite has one writer at a time")
    _fill(hub, 10)
    appended: list[log.Receipt] = []
    with hub.sessions() as signing:
        tree.sign_checkpoint(signing, hub.log_signer)  # not committed yet
        worker = threading.Thread(
            target=lambda: appended.append(
                hub.log.record(log.Pending(LogEvent.DISCLOSURE_DECIDED, {"i": 10}, agency="T"))
            )
        )
        worker.start()
        worker.join(timeout=10)
        assert appended and appended[0].index == 10
        signing.commit()
    with hub.sessions() as session:
        assert log.verify(session, vkey=hub.log_signer.vkey).checkpoints == 1


def test_a_second_signer_of_the_same_size_keeps_the_first_checkpoint(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(hub, 10)
    with hub.sessions() as session:
        first = tree.sign_checkpoint(session, hub.log_signer)
        session.commit()
        first_note = first.note
    # The second signer read the latest checkpoint before the first committed: it saw none.
    monkeypatch.setattr(tree, "latest_checkpoint", lambda session: None)
    with hub.sessions() as session:
        second = tree.sign_checkpoint(session, hub.log_signer)
        session.commit()
        assert second.size == 10 and second.note == first_note
    with hub.sessions() as session:
        assert log.verify(session, vkey=hub.log_signer.vkey).checkpoints == 1
