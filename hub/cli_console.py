"""``hub console``: set up the console's assets and its users."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.cli_common import fail
from hub.settings import get_settings

app = typer.Typer(help="The IG and practitioner console.", no_args_is_help=True)
out = Console()


@app.command("assets")
def assets(
    work_dir: Annotated[
        Path | None, typer.Option(help="Where npm installs (default: the data directory).")
    ] = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing if the assets are already there.")
    ] = False,
) -> None:
    """Install GOV.UK Frontend from the npm registry into the console's static folder."""
    from hub.console.assets import AssetsError, install
    from hub.console.web import GOVUK_ASSETS, assets_installed

    if if_missing and assets_installed():
        out.print(f"GOV.UK Frontend is already installed in {GOVUK_ASSETS}")
        return
    try:
        target = install(work_dir or get_settings().data_dir / "npm")
    except AssetsError as exc:
        fail(str(exc))
    out.print(f"Installed GOV.UK Frontend into {target}")


@app.command("add-user")
def add_user(
    username: Annotated[str, typer.Argument(help="The name they sign in with.")],
    role: Annotated[
        str, typer.Option(help="ig-officer, lead-professional, front-door or administrator.")
    ],
    name: Annotated[str, typer.Option(help="Their full name.")],
    agency: Annotated[str | None, typer.Option(help="Agency code (practitioners).")] = None,
    practitioner_ref: Annotated[
        str | None, typer.Option(help="Their reference at that agency (practitioners).")
    ] = None,
) -> None:
    """Add a console user; the password is read from HUB_NEW_PASSWORD or generated."""
    from sqlalchemy import select

    from hub.agencies.models import Agency
    from hub.console.users import ConsoleRole, UserError, create_user
    from hub.runtime import Hub

    if role not in {r.value for r in ConsoleRole}:
        fail("role must be one of " + ", ".join(r.value for r in ConsoleRole))
    password = os.environ.get("HUB_NEW_PASSWORD") or secrets.token_urlsafe(15)
    hub = Hub.start(get_settings())
    try:
        with hub.sessions() as session:
            found = (
                session.execute(select(Agency).where(Agency.code == agency)).scalar_one_or_none()
                if agency
                else None
            )
            try:
                create_user(
                    session,
                    username=username,
                    display_name=name,
                    role=ConsoleRole(role),
                    password=password,
                    agency=found,
                    practitioner_ref=practitioner_ref,
                )
            except UserError as exc:
                fail(str(exc))
            session.commit()
    finally:
        hub.close()
    out.print(f"Added {username}.")
    if not os.environ.get("HUB_NEW_PASSWORD"):
        out.print(f"Password (shown once): {password}", highlight=False)


def prepare_demo(hub: object, nhs_numbers: list[str], public_url: str) -> None:
    """For ``hub demo``: demo users, some decisions in the log, and how to sign in."""
    from rich.table import Table

    from hub.console.demo import create_demo_users, make_requests
    from hub.console.web import assets_installed
    from hub.runtime import Hub

    assert isinstance(hub, Hub)
    with hub.sessions() as session:
        sign_ins = create_demo_users(session)
        session.commit()
        decisions = make_requests(hub, session, nhs_numbers)
    table = Table(title="Console sign-ins (passwords made for this demo run only)")
    for column in ("Username", "Password", "Role", "Agency"):
        table.add_column(column)
    for s in sign_ins:
        table.add_row(s.username, s.password, s.role.label, s.agency or "")
    out.print(table)
    out.print(
        f"The IG and practitioner console is at {public_url}/console/ "
        f"({decisions} demo decisions are already in the log).",
        highlight=False,
    )
    if not assets_installed():
        out.print(
            "[yellow]The GOV.UK Frontend assets are missing, so the console is unstyled: "
            "run 'hub console assets'.[/yellow]"
        )
