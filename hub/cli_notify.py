"""``hub notify``: deliver what the notification outbox owes, outside the API process."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

notify_app = typer.Typer(help="Notifications to agency systems.", no_args_is_help=True)
out = Console()


@notify_app.command("run")
def run(
    once: Annotated[
        bool, typer.Option("--once", help="One pass over what is due, then stop.")
    ] = False,
) -> None:
    """Deliver due notifications, retrying failures with back-off, until stopped."""
    import httpx

    from hub.notify.delivery import DeliveryWorker, deliver_due
    from hub.runtime import Hub
    from hub.settings import get_settings

    hub = Hub.start(get_settings())
    try:
        if once:
            with httpx.Client(follow_redirects=False) as http:
                report = deliver_due(hub, http)
            out.print(
                f"sent {report.sent}, withheld {report.withheld}, "
                f"retrying {report.retrying}, failed {report.failed}"
            )
            return
        out.print("Delivering notifications; Ctrl-C to stop.")
        DeliveryWorker(hub).run()
    finally:
        hub.close()
