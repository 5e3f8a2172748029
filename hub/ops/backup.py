"""Backup and restore of the database and the keys, with rollback detection.

A backup is a directory: the database (SQLite's online backup API, or ``pg_dump -Fc``),
the keyring file (mode 0600) and ``manifest.json`` naming the log head it holds.

An IG officer keeps a *held head*: the log's size and chain hash at some moment (``hub
audit head``; later, a signed tree head). A database whose log is shorter than a held head,
or whose entry at that size does not carry the held chain hash, has been rolled back or
forked, and a restore refuses it unless told the rollback is deliberate.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.disclosure.log import GENESIS
from hub.disclosure.models import LogEntry, LogHead
from hub.settings import Settings


class BackupError(RuntimeError):
    """The backup or restore cannot go ahead; the message says why."""


@dataclass(frozen=True)
class Head:
    size: int
    chain_hash: str


@dataclass(frozen=True)
class HeadCheck:
    ok: bool
    reason: str


def current_head(session: Session) -> Head:
    head = session.execute(select(LogHead).where(LogHead.id == 1)).scalar_one()
    return Head(size=head.size, chain_hash=head.chain_hash)


def check_against(session: Session, held: Head) -> HeadCheck:
    """Does this database's log contain the held head? Shorter is a rollback; other is a fork."""
    now = current_head(session)
    if now.size < held.size:
        return HeadCheck(
            False,
            f"rollback: the log holds {now.size} entries but a head of {held.size} is held",
        )
    if held.size == 0:
        return HeadCheck(held.chain_hash == GENESIS, "the empty log")
    at = session.execute(
        select(LogEntry.chain_hash).where(LogEntry.seq == held.size - 1)
    ).scalar_one_or_none()
    if at != held.chain_hash:
        return HeadCheck(False, f"fork: entry {held.size - 1} does not carry the held chain hash")
    return HeadCheck(True, f"the log ({now.size} entries) extends the held head ({held.size})")


def read_head(path: Path) -> Head:
    data = json.loads(path.read_text(encoding="utf-8"))
    head = data.get("head", data)
    return Head(size=int(head["size"]), chain_hash=str(head["chain_hash"]))


def backup(settings: Settings, dest: Path) -> Head:
    dest.mkdir(parents=True, exist_ok=False)
    url = settings.sqlalchemy_url
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            head = current_head(session)  # taken first: the copy holds at least this
        if url.startswith("sqlite"):
            source = sqlite3.connect(make_url(url).database or "")
            target = sqlite3.connect(dest / "hub.db")
            with target:
                source.backup(target)
            source.close()
            target.close()
        else:
            _run(["pg_dump", "-Fc", "-f", str(dest / "hub.dump"), _libpq(url)])
    finally:
        engine.dispose()
    keys = settings.resolved_key_file
    if settings.keys_json is None:
        if not keys.exists():
            raise BackupError(f"No key file at {keys}: a backup without keys cannot be read.")
        _copy_secret(keys, dest / "keys.json")
    manifest = {
        "made_at": datetime.now(UTC).isoformat(),
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "head": asdict(head),
        "keys": "keys.json" if settings.keys_json is None else "HUB_KEYS_JSON (not copied)",
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return head


def restore(
    settings: Settings, source: Path, *, held: Head | None, accept_rollback: bool = False
) -> Head:
    """Restore database and keys; refuse a backup older than the held head.

    Stop every hub worker first: a worker still connected would go on using the old data.
    """
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    backed_up = Head(**manifest["head"])
    if held is not None and backed_up.size < held.size and not accept_rollback:
        raise BackupError(
            f"This backup holds {backed_up.size} log entries but an IG officer holds a "
            f"head of {held.size}: restoring it would roll the disclosure log back. "
            "Find a newer backup, or pass --accept-rollback and record why."
        )
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source / "hub.db", path)
    else:
        _run(["pg_restore", "--clean", "--if-exists", "-d", _libpq(url), str(source / "hub.dump")])
    if (source / "keys.json").exists():
        _copy_secret(source / "keys.json", settings.resolved_key_file)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            restored = current_head(session)
            if held is not None and not accept_rollback:
                check = check_against(session, held)
                if not check.ok:
                    raise BackupError(f"The restored database fails the held head: {check.reason}")
    finally:
        engine.dispose()
    return restored


def _copy_secret(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(source.read_bytes())


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as libpq understands it (no '+psycopg')."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed; install the PostgreSQL client tools.")
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[:500]}")
