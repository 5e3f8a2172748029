"""``hub policy``: reload the sharing rules in running hubs, and test them against a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.cli_common import fail

app = typer.Typer(help="The sharing rules.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@app.command("reload")
def reload() -> None:
    """Check the rules on disk; if they hold, running hubs switch to them, else nothing changes.

    The reload, or its refusal with the line and the reason, is written to the disclosure log.
    """
    from hub.db.engine import engine_for, make_sessionmaker
    from hub.disclosure import log
    from hub.runtime import reload_marker
    from hub.settings import get_settings
    from hub.vocab import LogEvent
    from policies.engine import PolicyError, SharingRules

    settings = get_settings()
    try:
        rules = SharingRules(settings.resolved_policy_dir)
        event, body, problem = (
            LogEvent.POLICY_RELOADED,
            {"policy_version": rules.version, "rules": len(rules.rules)},
            None,
        )
    except PolicyError as exc:
        event, body, problem = LogEvent.POLICY_REFUSED, {"reason": str(exc)}, str(exc)
    engine = engine_for(settings)
    try:
        with make_sessionmaker(engine)() as session:
            log.append(session, event=event, body=body)
            session.commit()
    finally:
        engine.dispose()
    if problem is not None:
        err.print(
            f"[red]The rules were refused; the previous version stays in force:[/red] {problem}"
        )
        raise typer.Exit(2)
    marker = reload_marker(settings)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    out.print(f"Rules version {body['policy_version']} ({body['rules']} rules) are now in force.")


@app.command("test")
def test(
    table: Annotated[Path, typer.Argument(help="The expected decisions (CSV).", exists=True)],
    policy_dir: Annotated[
        Path | None, typer.Option(help="The rules to test (default: the hub's).")
    ] = None,
) -> None:
    """Run the partnership's table of expected decisions against the rules."""
    from hub.decision.expectations import TableError, run_table
    from hub.settings import get_settings
    from policies.engine import PolicyError, SharingRules

    try:
        rules = SharingRules(policy_dir or get_settings().resolved_policy_dir)
        results = run_table(table, rules)
    except (PolicyError, TableError) as exc:
        fail(str(exc))
    shown = Table(title=f"Expected decisions against rules version {rules.version}")
    for column in ("line", "case", "expected", "got", "rules", "basis", ""):
        shown.add_column(column)
    for result in results:
        row = result.expectation
        shown.add_row(
            str(row.line),
            row.case,
            row.expect,
            result.got,
            ", ".join(result.decision.rule_ids),
            result.decision.legal_basis or "-",
            "[green]ok[/green]"
            if result.passed
            else "[red]" + "; ".join(result.problems) + "[/red]",
        )
    out.print(shown)
    failed = [r for r in results if not r.passed]
    out.print(f"{len(results) - len(failed)} of {len(results)} expectations hold.")
    if failed:
        raise typer.Exit(1)
