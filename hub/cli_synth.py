"""``hub synth``: write a synthetic county in the agencies' own formats."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

out = Console()
app = typer.Typer()


@app.command("synth")
def synth(
    children: Annotated[int, typer.Option(min=1, help="How many children the county has.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the files to.")],
    seed: Annotated[int, typer.Option(help="The same seed gives the same county.")] = 1,
    as_of: Annotated[
        str | None, typer.Option(help="The county's 'today' (YYYY-MM-DD); default today.")
    ] = None,
) -> None:
    """Write a synthetic county: health FHIR, school CTFs, police POLE, council CSV, truth."""
    from hub.synth import synthesise

    on = date.fromisoformat(as_of) if as_of else None
    started = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as progress:
        task = progress.add_task("children", total=children)
        summary = synthesise(
            out_dir,
            children=children,
            seed=seed,
            as_of=on,
            on_family=lambda n: progress.advance(task, n),
        )
    seconds = time.perf_counter() - started
    out.print(
        f"Wrote {summary.children:,} children in {summary.families:,} families "
        f"({summary.adults:,} adults, {summary.involvements:,} involvements, "
        f"{summary.consents:,} consents, {summary.events:,} police events, "
        f"{summary.schools:,} schools) to {out_dir} in {seconds:.1f} s."
    )
    out.print(
        "Agency records: "
        + ", ".join(f"{kind} {count:,}" for kind, count in summary.records.items())
        + f". Truth: {out_dir / 'truth.csv'}"
    )
