"""Refuse to start a server for a benchmark on a port something already answers on.

Otherwise its health check passes on the old server (a hub or floor left from an earlier,
interrupted run), and that server is what gets measured, killed or restarted.
"""

from __future__ import annotations

import socket


def require_free(port: int) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(
                f"port {port} is already in use: stop what serves it (a hub or floor left from "
                "an earlier run?) and run again"
            )
