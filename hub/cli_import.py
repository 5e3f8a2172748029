"""``hub import KIND FILE``: read an agency's export into the hub, row by row."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli_common import fail

app = typer.Typer()
out = Console()
err = Console(stderr=True)


@app.command("import")
def import_command(
    kind: Annotated[str, typer.Argument(help="health, school, police or council.")],
    file: Annotated[
        Path, typer.Argument(exists=True, help="The export file (or a directory of them).")
    ],
    agency: Annotated[
        str | None,
        typer.Option(help="The agency code (default: from the CTF header, or the county's)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per committed batch.")] = 2000,
) -> None:
    """Import an agency's export; bad rows go to a quarantine report, good rows go in."""
    from adapters.base import StructuralError
    from adapters.importer import ImportSummary
    from adapters.run import files_in, import_file
    from hub.crypto.keys import load_keyring
    from hub.errors import HubError
    from hub.runtime import Hub
    from hub.settings import get_settings

    settings = get_settings()
    if not settings.keys_json and not settings.resolved_key_file.exists():
        fail("the hub has no keys yet: run 'hub keys init' first.")
    hub = Hub.start(settings, keyring=load_keyring(settings))
    summaries: list[ImportSummary] = []
    failed = 0
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=out,
        ) as progress:
            for path in files_in(file):
                task = progress.add_task(f"{kind} {path.name}", total=None)
                try:
                    summary, _ = import_file(
                        hub,
                        kind,
                        path,
                        agency=agency,
                        batch_size=batch_size,
                        on_row=partial(progress.advance, task),
                    )
                except (StructuralError, HubError) as exc:
                    failed += 1
                    progress.stop_task(task)
                    err.print(f"[red]{path.name}: not imported.[/red] {exc}")
                    continue
                summaries.append(summary)
    finally:
        hub.close()
    _print_summary(summaries)
    if failed:
        raise typer.Exit(1)


def _print_summary(summaries: Sequence[object]) -> None:
    from adapters.importer import ImportSummary

    table = Table(title="Import summary")
    for column in ("file", "agency", "read", "imported", "updated", "unchanged", "quarantined"):
        table.add_column(column, justify="left" if column in ("file", "agency") else "right")
    reports = []
    for summary in summaries:
        assert isinstance(summary, ImportSummary)
        table.add_row(
            Path(summary.file).name,
            summary.agency,
            *(
                f"{n:,}"
                for n in (
                    summary.read,
                    summary.imported,
                    summary.updated,
                    summary.unchanged,
                    summary.quarantined,
                )
            ),
        )
        if summary.quarantine_path:
            reports.append(summary.quarantine_path)
    out.print(table)
    for report in reports:
        out.print(f"Quarantine report: {report}", highlight=False)
    if not reports and summaries:
        out.print("No row was quarantined.")
