"""``hub backup``, ``hub restore`` and ``hub audit``-style head checks for operators."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from hub.cli_common import fail
from hub.db.engine import engine_for
from hub.ops.backup import BackupError, backup, check_against, current_head, read_head, restore
from hub.settings import get_settings

app = typer.Typer(help="Backups, restores and the held log head.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@app.command("backup")
def backup_command(dest: Annotated[Path, typer.Argument(help="A new directory.")]) -> None:
    """Back up the database and the keys into DEST, with the log head they hold."""
    try:
        head = backup(get_settings(), dest)
    except BackupError as exc:
        fail(str(exc))
    out.print(f"Backed up to {dest}: log of {head.size} entries, chain {head.chain_hash[:16]}…")


@app.command("restore")
def restore_command(
    source: Annotated[Path, typer.Argument(help="A directory made by 'hub ops backup'.")],
    held: Annotated[
        Path | None, typer.Option(help="The head an IG officer holds (from 'hub ops head').")
    ] = None,
    accept_rollback: Annotated[bool, typer.Option(help="Restore an older log on purpose.")] = False,
) -> None:
    """Restore database and keys; refuse a backup older than the held head."""
    try:
        head = restore(
            get_settings(),
            source,
            held=read_head(held) if held else None,
            accept_rollback=accept_rollback,
        )
    except BackupError as exc:
        err.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(3) from None
    out.print(f"Restored from {source}: log of {head.size} entries.")


@app.command("head")
def head_command() -> None:
    """Print the log's current head (size and chain hash) as JSON, for an IG officer to hold."""
    engine = engine_for(get_settings())
    with Session(engine) as session:
        out.print_json(json.dumps(asdict(current_head(session))))
    engine.dispose()


@app.command("check-head")
def check_head_command(held: Annotated[Path, typer.Argument(help="A held head (JSON).")]) -> None:
    """Exit 3 if the live log does not extend the held head (a rollback or a fork)."""
    engine = engine_for(get_settings())
    with Session(engine) as session:
        check = check_against(session, read_head(held))
    engine.dispose()
    (out if check.ok else err).print(check.reason)
    if not check.ok:
        raise typer.Exit(3)
