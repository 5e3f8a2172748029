"""What every ``hub`` command shares: how a command stops on an error the operator can fix."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Stop with exit status 2 and the reason on stderr: the operator's input was wrong."""
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)
