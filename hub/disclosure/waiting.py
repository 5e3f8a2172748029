"""A request waiting for its disclosure log entry to be committed.

It waits on a thread (the console, the FHIR face, notifications) or on the event loop (the
agency API's busiest route, so that a waiting request holds no thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.disclosure import log


def _closed_gate() -> threading.Lock:
    gate = threading.Lock()
    gate.acquire()
    return gate


@dataclass
class Waiter:
    """A thread waits on a lock held for it and released once, rather than on an Event:
    waking a thread from an Event hands it the Event's lock as well, a second switch per
    request, and a batch wakes every request in it at once. A request on the event loop
    waits on ``future`` instead.
    """

    pending: log.Pending
    gate: threading.Lock = field(default_factory=_closed_gate)
    lead: bool = False
    done: bool = False
    receipt: log.Receipt | None = None
    error: BaseException | None = None
    future: asyncio.Future[None] | None = None


def wake(waiters: Iterable[Waiter]) -> None:
    """Wake answered waiters: each thread through its gate, each event loop once for all of
    its requests (one call across threads per loop, not one per request)."""
    loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for waiter in waiters:
        if waiter.future is None:
            waiter.gate.release()
        else:
            loops.setdefault(waiter.future.get_loop(), []).append(waiter.future)
    for loop, futures in loops.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits now
            loop.call_soon_threadsafe(_settle, futures)


def _settle(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # a request cancelled meanwhile has nothing to wake
            future.set_result(None)
