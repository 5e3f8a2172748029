"""The ``hub`` command: run the demo, serve, migrate, register clients, verify the log."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub import cli_audit, cli_console, cli_import, cli_ops, cli_policy, cli_synth
from hub.cli_common import fail
from hub.cli_linkage import app as linkage_app
from hub.cli_notify import notify_app
from hub.settings import Settings, get_settings

app = typer.Typer(
    help="Early Help Hub: who else works with this child, shared lawfully.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The hub's database.", no_args_is_help=True)
client_app = typer.Typer(help="Agency systems that call the hub.", no_args_is_help=True)
audit_app = typer.Typer(help="The disclosure log.", no_args_is_help=True)
keys_app = typer.Typer(help="The hub's keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(client_app, name="client")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(cli_synth.app)
app.add_typer(cli_import.app)
app.add_typer(notify_app, name="notify")
app.add_typer(cli_policy.app, name="policy")
app.add_typer(cli_console.app, name="console")
app.add_typer(cli_ops.app, name="ops")
app.add_typer(linkage_app, name="linkage")
out = Console()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (creates the SQLite file if needed)."""
    from hub.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    out.print(f"Database is up to date: {_safe_url(settings)}")


@keys_app.command("init")
def keys_init() -> None:
    """Create the key file if there is none (never overwrites one)."""
    from hub.crypto.keys import load_keyring

    settings = get_settings()
    existed = settings.resolved_key_file.exists()
    load_keyring(settings, create=True)
    out.print(
        ("Key file already present: " if existed else "Created key file: ")
        + str(settings.resolved_key_file)
    )


@client_app.command("add")
def client_add(
    name: Annotated[str, typer.Argument(help="The client id, e.g. leeds-school-mis.")],
    agency: Annotated[str, typer.Option(help="The agency code it acts for.")],
    agency_name: Annotated[str | None, typer.Option(help="Creates the agency if new.")] = None,
    agency_kind: Annotated[
        str | None, typer.Option(help="health, school, police, council, other.")
    ] = None,
    key_out: Annotated[Path | None, typer.Option(help="Where to write the private key.")] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="Scopes to grant (default: the agency scopes).")
    ] = None,
) -> None:
    """Register an agency system and write out its private key (kept nowhere else)."""
    from sqlalchemy import select

    from hub.agencies.models import Agency
    from hub.clients import ClientError, ensure_agency, register_client
    from hub.runtime import Hub
    from hub.vocab import AgencyKind

    settings = get_settings()
    hub = Hub.start(settings)
    try:
        with hub.sessions() as session:
            found = session.execute(
                select(Agency).where(Agency.code == agency)
            ).scalar_one_or_none()
            if found is None:
                if not agency_name or agency_kind not in {k.value for k in AgencyKind}:
                    fail(
                        f"No agency '{agency}'; give --agency-name and --agency-kind to create it."
                    )
                assert agency_name is not None and agency_kind is not None
                found = ensure_agency(
                    session, code=agency, name=agency_name, kind=AgencyKind(agency_kind)
                )
            try:
                credentials = register_client(
                    session,
                    client_id=name,
                    agency=found,
                    token_endpoint=settings.token_endpoint,
                    scopes=scope,
                )
            except ClientError as exc:
                fail(str(exc))
                return
            path = key_out or settings.data_dir / "clients" / f"{name}.json"
            credentials.save(path)
            session.commit()
    finally:
        hub.close()
    out.print(f"Registered client '{name}' for agency {agency}. Private key: {path}")


@client_app.command("token")
def client_token(
    name: Annotated[str, typer.Argument(help="The client id.")],
    key_file: Annotated[Path | None, typer.Option(help="The client's private key file.")] = None,
    scope: Annotated[
        str | None, typer.Option(help="Scopes to ask for (default: all granted).")
    ] = None,
) -> None:
    """Sign in as a client against a running hub (private_key_jwt) and print the access token."""
    from hub.clients import ClientCredentials, ClientError, fetch_token

    settings = get_settings()
    try:
        credentials = ClientCredentials.load(
            key_file or settings.data_dir / "clients" / f"{name}.json"
        )
        print(fetch_token(credentials, scope=scope))  # noqa: T201 - the token is the output
    except ClientError as exc:
        fail(str(exc))


audit_app.command("verify")(cli_audit.verify)
audit_app.command("checkpoint")(cli_audit.checkpoint)
audit_app.command("export")(cli_audit.export)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API (the schema must be up to date: run 'hub db upgrade')."""
    from hub.serve import serve as run

    settings = get_settings()
    run("hub.asgi:app", host=host or settings.host, port=port or settings.port, workers=workers)


@app.command("demo")
def demo(
    port: Annotated[int, typer.Option(help="Port for the demo hub.")] = 8000,
    children: Annotated[int, typer.Option(help="How many synthetic children.")] = 24,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Build the county, then stop.")
    ] = False,
) -> None:
    """Build a fresh synthetic county in ./hub-data and serve the hub on 127.0.0.1."""
    import os

    import uvicorn

    from hub.app import create_app
    from hub.crypto.keys import load_keyring
    from hub.db.migrate import upgrade
    from hub.demo import build_county
    from hub.logging import configure
    from hub.runtime import Hub

    public_url = f"http://127.0.0.1:{port}"
    os.environ["HUB_PUBLIC_URL"] = public_url
    get_settings.cache_clear()
    settings = get_settings()
    if settings.database_url:
        fail("hub demo makes its own SQLite database; unset HUB_DATABASE_URL.")
    for leftover in ("hub.db", "hub.db-wal", "hub.db-shm"):
        (settings.data_dir / leftover).unlink(missing_ok=True)
    shutil.rmtree(settings.data_dir / "clients", ignore_errors=True)
    keyring = load_keyring(settings, create=True)
    upgrade(settings.sqlalchemy_url)
    hub = Hub.start(settings, keyring=keyring)
    county = build_county(hub, token_endpoint=settings.token_endpoint, children=children)
    for client_id, credentials in county.clients.items():
        credentials.save(settings.data_dir / "clients" / f"{client_id}.json")
    cli_console.prepare_demo(hub, [e["nhs"] for e in county.examples], public_url)
    _print_demo(county, public_url, settings)
    if no_serve:
        hub.close()
        return
    configure("WARNING")
    uvicorn.run(create_app(hub), host="127.0.0.1", port=port, log_level="warning")


def _print_demo(county: object, public_url: str, settings: Settings) -> None:
    from hub.demo import County

    assert isinstance(county, County)
    table = Table(title=f"Synthetic county: {county.families} families, {county.children} children")
    table.add_column("NHS number")
    table.add_column("consent story")
    for example in county.examples[:10]:
        table.add_row(example["nhs"], example["story"])
    out.print(table)
    given = next(e["nhs"] for e in county.examples if e["story"] == "consent given")
    out.print(
        f"\nThe hub is at {public_url} (API docs: {public_url}/docs). "
        f"Data and keys: {settings.data_dir.resolve()}"
    )
    out.print("In another terminal, in this directory, ask who else is involved with a child:\n")
    hub_cmd = _own_command()
    request = (
        f"TOKEN=$({hub_cmd} client token demo-council)\n"
        f"curl -s -H \"Authorization: Bearer $TOKEN\" -H 'X-Practitioner: COU-EH-1' "
        f"-H 'X-Practitioner-Role: lead-professional' "
        f"'{public_url}/v1/children/involvements?identifier=nhs|{given}&purpose=team-around-the-family'"
    )
    out.print(request, soft_wrap=True, highlight=False, markup=False)
    out.print(f"\nThen check the disclosure log: {hub_cmd} audit verify\n", highlight=False)


def _own_command() -> str:
    """How to run this same ``hub`` again from here, so the printed commands work as pasted."""
    import os

    invoked = Path(sys.argv[0]).absolute()
    on_path = shutil.which("hub")
    if invoked.name != "hub" or (on_path and Path(on_path).absolute() == invoked):
        return "hub"
    return os.path.relpath(invoked)


def _safe_url(settings: Settings) -> str:
    url = settings.sqlalchemy_url
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
