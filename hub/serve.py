"""Run an ASGI application under uvicorn, with one or several worker processes.

Why not plain ``uvicorn --workers N``, for two faults measured here:

- With several workers uvicorn binds the listening socket itself with protocol 0, and asyncio
  only sets TCP_NODELAY on connections accepted from a socket whose protocol is TCP. Without
  it, a response written in two parts (headers, then body) waits for the client's delayed
  acknowledgement: about 40 ms on every request. Here sockets are bound as TCP.
- All workers share one listening socket, and whichever wakes first accepts every connection
  waiting: 16 keep-alive connections opened together ended 15 on one worker and 1 on the
  other, so one process served nearly all the load while the other idled. Here each worker
  has a listening socket of its own in one SO_REUSEPORT group, and the kernel spreads new
  connections across them. The sockets are made (and listen) before any worker starts and
  are kept by the supervisor, so a connection that arrives while a worker starts or
  restarts waits for it rather than being refused.

    python -m hub.serve APP [--host H] [--port P] [--workers N]   (``hub serve`` for the hub)
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import socket
import threading
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("uvicorn.error")


def serve(app: str, *, host: str, port: int, workers: int = 1) -> None:
    config = uvicorn.Config(
        app, host=host, port=port, workers=workers, log_level="warning", access_log=False
    )
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    first = tcp_listener(host, port, reuse_port=True)
    port = first.getsockname()[1]  # port 0: the one the system chose, for every worker
    sockets = [first] + [tcp_listener(host, port, reuse_port=True) for _ in range(workers - 1)]
    for listener in sockets:
        listener.listen(config.backlog)
    Workers(config, sockets).run()


def tcp_listener(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket bound as TCP (see the module's docstring)."""
    family = socket.AF_INET6 if _is_ipv6(host) else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener


class Workers:
    """One uvicorn worker per socket, replaced if it dies; SIGINT or SIGTERM stops them all.

    uvicorn's own supervisor hands every worker the same sockets; this one hands worker i
    socket i, and uses uvicorn's worker process (its start-up and health-check protocol).
    """

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.should_exit = threading.Event()

    def _start(self, index: int) -> Process:
        process = Process(self.config, [self.sockets[index]])
        process.start()
        return process

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.should_exit.set()

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        processes = [self._start(i) for i in range(len(self.sockets))]
        failed = False
        while not self.should_exit.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                    continue
                process.kill()
                process.join()
                if process.exitcode == STARTUP_FAILURE:
                    logger.error("A worker failed to start; stopping.")
                    failed = True
                    self.should_exit.set()
                    break
                logger.info("Worker [%s] died; starting another.", process.pid)
                processes[i] = self._start(i)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()
        for listener in self.sockets:
            listener.close()
        if failed:
            raise SystemExit(STARTUP_FAILURE)


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
