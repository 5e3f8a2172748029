"""``hub audit``: verify the disclosure log (in the database or an export), sign, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.cli_common import fail
from hub.settings import get_settings

out = Console()
err = Console(stderr=True)


def verify(
    export: Annotated[
        Path | None, typer.Option(help="Check this export directory offline instead.")
    ] = None,
    vkey: Annotated[
        str | None,
        typer.Option(help="The verifier key (text or a file holding it); needed with --export."),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="A signed checkpoint held outside the export; may be repeated."),
    ] = None,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also parse every entry (canonical form, sequence).")
    ] = False,
) -> None:
    """Check the disclosure log and name the first entry that does not hold.

    Without --export: the database, with the hub's own key. With --export: a directory
    written by 'hub audit export', using only the public verifier key.
    """
    if export is not None:
        from hub.disclosure.export import verify_export

        if vkey is None:
            fail("Give the verifier key you trust with --vkey (text, or a file holding it).")
            return
        key = _text_or_file(vkey).strip()
        notes = [p.read_text(encoding="utf-8") for p in checkpoint or []]
        check = verify_export(export, key, extra_notes=notes, deep=deep)
        _report(check.ok, check.entries, check.checkpoints, check.first_bad, check.reason)
        return

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from hub.crypto.keys import KeyringError, load_keyring
    from hub.db.engine import engine_for, make_sessionmaker
    from hub.disclosure.log import verify as verify_log

    settings = get_settings()
    trusted: str | Ed25519PublicKey | None = _text_or_file(vkey).strip() if vkey else None
    if trusted is None:
        try:
            trusted = load_keyring(settings).log_signing_key.public_key()
        except KeyringError:
            err.print("No key found: checkpoint signatures are not checked (give --vkey).")
    engine = engine_for(settings)
    try:
        with make_sessionmaker(engine)() as session:
            result = verify_log(session, vkey=trusted)
    finally:
        engine.dispose()
    _report(result.ok, result.entries, result.checkpoints, result.first_bad, result.reason)


def checkpoint() -> None:
    """Sign a tree head for the log as it stands now (after checking it extends the last)."""
    from hub.disclosure.tree import LogInconsistent
    from hub.runtime import Hub

    hub = Hub.start(get_settings())
    try:
        size = hub.log.sign_now()
    except LogInconsistent as exc:
        fail(f"Refused to sign: {exc}")
        return
    finally:
        hub.close()
    out.print(f"Signed a checkpoint for {size} entries. Verifier key: {hub.log_signer.vkey}")


def export(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the export into.")],
) -> None:
    """Write the log, every signed tree head and the verifier key, ending at a fresh head."""
    from hub.disclosure.export import export_log
    from hub.runtime import Hub

    hub = Hub.start(get_settings())
    try:
        size = hub.log.sign_now()
        with hub.sessions() as session:
            done = export_log(session, out_dir, size=size, vkey=hub.log_signer.vkey)
    finally:
        hub.close()
    out.print(
        f"Exported {done.entries} entries and {done.checkpoints} signed tree heads to {out_dir}. "
        f"Check it with: hub audit verify --export {out_dir} --vkey '{hub.log_signer.vkey}'",
        soft_wrap=True,
        highlight=False,
    )


def _text_or_file(value: str) -> str:
    path = Path(value)
    return path.read_text(encoding="utf-8") if "+" not in value and path.exists() else value


def _report(
    ok: bool, entries: int, checkpoints: int, first_bad: int | None, reason: str | None
) -> None:
    if ok:
        out.print(
            f"[green]The disclosure log verifies:[/green] {entries} entries, chain intact, "
            f"{checkpoints} signed checkpoints match.",
            soft_wrap=True,
        )
        return
    err.print(
        f"[red]The disclosure log does NOT verify[/red] at entry {first_bad}: {reason}",
        soft_wrap=True,
    )
    raise typer.Exit(1)
