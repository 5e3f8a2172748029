"""The log head the writers of one host last sent, shared between their worker processes.

Each hub worker process has its own log writer (hub/disclosure/pg_pipeline.py), which
builds a batch on the head it expects and lets the append statement check it. With two
workers on one host, each expected only the heads it had made itself, so a batch was
mostly built on a head the other worker had already moved: measured under bench/e2e.py,
a third of the batches were built and sent again, and one in ten fell back to locking the
head, each try a statement and a commit of its own, and the answers waited behind them.

Here the writers take turns, through a lock on a small file, to read the newest head any
of them has sent, build their batch on it, send it and write the head it will leave. The
database still checks every batch (log._PG_APPEND), so this file is only ever a hint: a
stale or wrong head in it costs a batch one more try, never a wrong entry. A process that
dies holding the lock drops it with its file descriptor (flock), so no writer waits on a
dead one. Writers on other hosts do not see the file; the database keeps them right too.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path

from hub.disclosure import log

try:
    import fcntl
except ImportError:  # not on Windows: there each writer keeps its own head, as before
    fcntl = None  # type: ignore[assignment]

SIZE = 16384
"""Bytes of the file: a length, the text's SHA-256, then "size chain_hash frontier"."""
_HEADER = struct.Struct("<I32s")
_SHAPE = re.compile(r"([0-9]+) ([0-9a-f]{64}) ((?:[0-9a-f]{64}(?:,[0-9a-f]{64})*)?)")
"""One regular expression: checking the hashes a character at a time in Python cost 0.2 ms
a batch, inside the turn the other worker waits for."""


class SharedHead:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(self._fd).st_size < SIZE:
                os.ftruncate(self._fd, SIZE)
            self._map = mmap.mmap(self._fd, SIZE)
        except BaseException:
            os.close(self._fd)
            raise

    @classmethod
    def at(cls, path: Path | None) -> SharedHead | None:
        """The shared head at ``path``, or None where it cannot be shared."""
        if path is None or fcntl is None:
            return None
        try:
            return cls(path)
        except OSError:
            return None  # a read-only data directory: the database still checks every batch

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """This writer's turn to read the head, build a batch on it and send it."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def read(self) -> log.Head | None:
        """The head last written, or None. A write cut short (its process killed half way)
        fails the digest and reads as None, never as a head with a torn frontier."""
        length, digest = _HEADER.unpack_from(self._map, 0)
        if not 0 < length <= SIZE - _HEADER.size:
            return None
        data = self._map[_HEADER.size : _HEADER.size + length]
        if hashlib.sha256(data).digest() != digest:
            return None
        shaped = _SHAPE.fullmatch(data.decode("ascii", "replace"))
        if shaped is None:
            return None
        size, chain_hash, frontier = int(shaped[1]), shaped[2], shaped[3]
        # A tree of n leaves has one frontier hash for each bit set in n: a hint of any
        # other shape could not even be built on.
        if (frontier.count(",") + 1 if frontier else 0) != size.bit_count():
            return None
        return log.Head(size, chain_hash, frontier)

    def write(self, head: log.Head | None) -> None:
        """Record the head a batch just sent will leave (None: not known, forget it)."""
        data = b"" if head is None else f"{head.size} {head.chain_hash} {head.frontier}".encode()
        if len(data) > SIZE - _HEADER.size:
            data = b""
        _HEADER.pack_into(self._map, 0, 0, b"")  # unreadable while it changes
        self._map[_HEADER.size : _HEADER.size + len(data)] = data
        _HEADER.pack_into(self._map, 0, len(data), hashlib.sha256(data).digest())

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
