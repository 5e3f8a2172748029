"""Run an ASGI application under uvicorn, with one or several worker processes.

Why not plain ``uvicorn --workers N``: with several workers uvicorn binds the listening
socket itself with protocol 0, and asyncio only sets TCP_NODELAY on connections accepted from
a socket whose protocol is TCP. Without it, a response written in two parts (headers, then
body) waits for the client's delayed acknowledgement: about 40 ms on every request. Here the
socket is bound as TCP, so every worker's connections have TCP_NODELAY, as a single worker's
do.

    python -m hub.serve APP [--host H] [--port P] [--workers N]   (``hub serve`` for the hub)
"""

from __future__ import annotations

import argparse
import ipaddress
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


def serve(app: str, *, host: str, port: int, workers: int = 1) -> None:
    config = uvicorn.Config(
        app, host=host, port=port, workers=workers, log_level="warning", access_log=False
    )
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[tcp_listener(host, port)]).run()


def tcp_listener(host: str, port: int) -> socket.socket:
    """A listening socket the workers share, bound as TCP (see the module's docstring)."""
    family = socket.AF_INET6 if _is_ipv6(host) else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("app", help="module:attribute of the ASGI application")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    serve(args.app, host=args.host, port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
