"""What is stored: ciphertext only, an append-only log, and a chain that catches tampering."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from hub.app import create_app
from hub.cli import app as cli
from hub.db.migrate import alembic_config, current_revision, upgrade
from hub.disclosure import log
from hub.disclosure.models import LogEntry
from hub.runtime import Hub
from hub.vocab import LogEvent
from tests.factories import (
    NHS_CONSENTED,
    NHS_NO_CONSENT,
    UPN_CONSENTED,
    World,
    make_world,
    populate,
)

PERSONAL = [
    "Jayden",
    "Jaydon",
    "Smyth",
    "Olivia",
    "Sarah",
    "Mill Lane",
    "LE1 6AB",
    "2015-04-03",
    "2016-09-01",
    NHS_CONSENTED,
    NHS_NO_CONSENT,
    "943 476 5919",
    UPN_CONSENTED,
]


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        built.ask("COUNCIL", f"nhs|{NHS_CONSENTED}")
        built.ask("COUNCIL", f"nhs|{NHS_NO_CONSENT}")
        yield built


def _every_stored_value(engine: Engine) -> str:
    parts: list[str] = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                parts.append(" ".join(str(value) for value in row))
    return "\n".join(parts)


def test_no_personal_field_is_stored_in_clear(world: World) -> None:
    world.hub.engine.dispose()
    engine = create_engine(world.hub.settings.sqlalchemy_url)
    dump = _every_stored_value(engine)
    engine.dispose()

    assert "v1:" in dump  # the ciphertexts are there
    for value in PERSONAL:
        assert value not in dump, f"{value!r} found in clear in the database"


def test_raw_database_dump_holds_no_personal_field(world: World) -> None:
    url = world.hub.settings.sqlalchemy_url
    world.hub.engine.dispose()
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    else:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            pytest.skip("pg_dump is not installed; the row dump above covers PostgreSQL")
        target = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        raw = subprocess.run(
            [pg_dump, "--no-owner", target], check=True, capture_output=True
        ).stdout

    assert len(raw) > 10_000
    for value in PERSONAL:
        assert value.encode() not in raw, f"{value!r} found in the database file"


def test_the_log_refuses_update_and_delete(world: World) -> None:
    for statement in ("UPDATE disclosure_log SET outcome = 'permit'", "DELETE FROM disclosure_log"):
        with (
            world.hub.engine.connect() as conn,
            pytest.raises(DBAPIError, match="append-only"),
            conn.begin(),
        ):
            conn.execute(text(statement))


def _drop_guards(engine: Engine) -> None:
    """What an administrator with full rights could do; the chain must still catch it."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER disclosure_log_no_update"))
            conn.execute(text("DROP TRIGGER disclosure_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER disclosure_log_no_change ON disclosure_log"))


def _verify_cli(hub: Hub) -> tuple[int, str]:
    env = {
        "HUB_DATABASE_URL": hub.settings.sqlalchemy_url,
        "HUB_DATA_DIR": str(hub.settings.data_dir),
    }
    from hub.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    get_settings.cache_clear()
    return result.exit_code, result.output


def test_audit_verify_passes_on_an_untouched_log(world: World) -> None:
    code, output = _verify_cli(world.hub)

    assert code == 0, output
    assert "verifies" in output


@pytest.mark.parametrize("position", [0, 3, -1])
def test_changing_one_byte_of_an_entry_is_named(world: World, position: int) -> None:
    _drop_guards(world.hub.engine)
    with world.hub.engine.begin() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM disclosure_log ORDER BY seq"))]
        seq = seqs[position]
        body = conn.execute(
            text("SELECT body FROM disclosure_log WHERE seq = :s"), {"s": seq}
        ).scalar_one()
        i = body.index('"event"') + 9
        changed = body[:i] + ("X" if body[i] != "X" else "Y") + body[i + 1 :]
        conn.execute(
            text("UPDATE disclosure_log SET body = :b WHERE seq = :s"), {"b": changed, "s": seq}
        )

    code, output = _verify_cli(world.hub)

    assert code == 1
    assert f"at entry {seq}" in output


@pytest.mark.parametrize("column", ["leaf_hash", "chain_hash", "outcome", "subject"])
def test_changing_a_stored_column_is_named(world: World, column: str) -> None:
    _drop_guards(world.hub.engine)
    with world.hub.engine.begin() as conn:
        seq = conn.execute(
            text("SELECT max(seq) FROM disclosure_log WHERE outcome IS NOT NULL")
        ).scalar_one()
        value = {
            "leaf_hash": "0" * 64,
            "chain_hash": "1" * 64,
            "outcome": "permit",
            "subject": "00000000-0000-0000-0000-000000000000",
        }[column]
        current = conn.execute(
            text(f"SELECT {column} FROM disclosure_log WHERE seq = :s"), {"s": seq}
        ).scalar_one()
        if current == value:
            value = "deny"
        conn.execute(
            text(f"UPDATE disclosure_log SET {column} = :v WHERE seq = :s"), {"v": value, "s": seq}
        )

    code, output = _verify_cli(world.hub)

    assert code == 1
    assert f"at entry {seq}" in output


def test_deleting_an_entry_is_named(world: World) -> None:
    _drop_guards(world.hub.engine)
    with world.hub.engine.begin() as conn:
        conn.execute(text("DELETE FROM disclosure_log WHERE seq = 5"))

    code, output = _verify_cli(world.hub)

    assert code == 1
    assert "at entry 5" in output and "missing" in output


def test_deleting_the_last_entry_is_caught(world: World) -> None:
    _drop_guards(world.hub.engine)
    with world.hub.engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM disclosure_log")).scalar_one()
        conn.execute(text("DELETE FROM disclosure_log WHERE seq = :s"), {"s": last})

    code, output = _verify_cli(world.hub)

    assert code == 1
    assert f"at entry {last}" in output


def test_swapping_two_entries_is_named(world: World) -> None:
    _drop_guards(world.hub.engine)
    with world.hub.engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT seq, body, leaf_hash, chain_hash FROM disclosure_log "
                "WHERE seq IN (2, 7) ORDER BY seq"
            )
        ).all()
        (a, *a_rest), (b, *b_rest) = rows
        for seq, (body, leaf, chain) in ((a, b_rest), (b, a_rest)):
            conn.execute(
                text(
                    "UPDATE disclosure_log SET body = :body, leaf_hash = :leaf, "
                    "chain_hash = :chain WHERE seq = :seq"
                ),
                {"body": body, "leaf": leaf, "chain": chain, "seq": seq},
            )

    code, output = _verify_cli(world.hub)

    assert code == 1
    assert "at entry 2" in output


def test_concurrent_appenders_form_one_gapless_chain(hub: Hub) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with hub.sessions() as session:
                    log.append(
                        session,
                        event=LogEvent.DISCLOSURE_DECIDED,
                        agency="T",
                        outcome="deny",
                        body={"writer": n, "i": i},
                    )
                    session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    with hub.sessions() as session:
        seqs = list(session.execute(select(LogEntry.seq).order_by(LogEntry.seq)).scalars())
        result = log.verify(session)
    assert seqs == list(range(150))
    assert result.ok, result.reason
    bodies = {(json.loads(r)["writer"], json.loads(r)["i"]) for r in _bodies(hub)}
    assert len(bodies) == 150


def _bodies(hub: Hub) -> list[str]:
    with hub.sessions() as session:
        return list(session.execute(select(LogEntry.body)).scalars())


def test_migrations_are_at_head_and_rerunnable(hub: Hub) -> None:
    url = hub.settings.sqlalchemy_url
    hub.engine.dispose()

    upgrade(url)

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    assert current_revision(url) == head
