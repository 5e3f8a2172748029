"""Backup and restore of database and keys; a restore behind a held head is a rollback."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from hub.crypto.keys import Keyring, write_key_file
from hub.disclosure import log
from hub.disclosure.log import verify
from hub.ops.backup import BackupError, Head, backup, check_against, current_head, restore
from hub.runtime import Hub
from hub.settings import Settings
from hub.vocab import LogEvent


def append(hub: Hub, n: int) -> Head:
    with hub.sessions() as session:
        for i in range(n):
            log.append(session, event=LogEvent.DISCLOSURE_DECIDED, body={"n": i})
        session.commit()
        return current_head(session)


@pytest.fixture
def with_keys(settings: Settings, keyring: Keyring) -> Settings:
    write_key_file(keyring, settings.resolved_key_file)
    return settings


def test_backup_then_restore_brings_back_database_and_keys(
    hub: Hub, with_keys: Settings, tmp_path: Path
) -> None:
    at_backup = append(hub, 3)
    backup(with_keys, tmp_path / "b1")
    append(hub, 2)
    keys = with_keys.resolved_key_file.read_bytes()
    with_keys.resolved_key_file.unlink()
    hub.engine.dispose()

    restored = restore(with_keys, tmp_path / "b1", held=None)

    assert restored == at_backup
    assert with_keys.resolved_key_file.read_bytes() == keys
    assert stat.S_IMODE((tmp_path / "b1" / "keys.json").stat().st_mode) == 0o600
    manifest = json.loads((tmp_path / "b1" / "manifest.json").read_text())
    assert manifest["head"]["size"] == 3
    with hub.sessions() as session:
        assert verify(session).ok and current_head(session) == at_backup


def test_a_restore_older_than_the_held_head_is_refused_as_a_rollback(
    hub: Hub, with_keys: Settings, tmp_path: Path
) -> None:
    append(hub, 2)
    backup(with_keys, tmp_path / "old")
    held = append(hub, 3)  # the IG officer saves this head after the backup was made
    hub.engine.dispose()

    with pytest.raises(BackupError, match="roll the disclosure log back"):
        restore(with_keys, tmp_path / "old", held=held)
    with hub.sessions() as session:  # nothing was touched
        assert current_head(session) == held
    hub.engine.dispose()  # the hub is stopped for a restore

    rolled = restore(with_keys, tmp_path / "old", held=held, accept_rollback=True)
    assert rolled.size == 2
    with hub.sessions() as session:
        check = check_against(session, held)
    assert not check.ok and check.reason.startswith("rollback")


def test_a_log_that_does_not_extend_the_held_head_is_a_fork(hub: Hub) -> None:
    held = append(hub, 2)
    forged = Head(size=held.size, chain_hash="f" * 64)
    with Session(hub.engine) as session:
        assert check_against(session, held).ok
        assert check_against(session, forged).reason.startswith("fork")
    append(hub, 1)
    with Session(hub.engine) as session:
        assert check_against(session, held).ok  # a longer log that contains it is fine
