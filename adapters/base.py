"""What every agency adapter is: a file format in, the hub's own records out.

An adapter only reads and validates; it never writes. It first checks the file as a whole
(`check`, which raises `StructuralError` before anything is written), then yields, row by
row, the writes the hub's API would receive (`RecordOp`, `InvolvementOp`, `ConsentOp`) or a
`Quarantined` row saying which field was wrong and why. `adapters.importer` applies them.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from consent.schemas import ConsentIn
from hub.involvements.schemas import InvolvementIn
from hub.people.schemas import RecordIn
from hub.vocab import AgencyKind


class StructuralError(ValueError):
    """The file as a whole is not what this adapter reads; nothing is imported from it."""


def require_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8 text, as a whole and before anything is written.

    Read as text, such a file fails only where the bad byte is: perhaps after earlier
    batches were committed, and with a decoding error instead of a clear refusal.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise StructuralError(
                    f"{path.name} is not UTF-8 text (byte {offset + exc.start:,} is not): "
                    "export it again as UTF-8."
                ) from None
            if not chunk:
                return
            offset += len(chunk)


class RowError(ValueError):
    """One field of one row is wrong; the row is quarantined and the import goes on."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class RecordOp:
    row: int
    local_id: str
    payload: RecordIn


@dataclass(frozen=True)
class InvolvementOp:
    row: int
    local_id: str
    payload: InvolvementIn


@dataclass(frozen=True)
class ConsentOp:
    """A consent as the source holds it; `withdrawn_on` set when it has since been withdrawn."""

    row: int
    local_id: str
    payload: ConsentIn
    withdrawn_on: date | None = None


@dataclass(frozen=True)
class Quarantined:
    row: int
    field: str
    reason: str


Op = RecordOp | InvolvementOp | ConsentOp
Item = Op | Quarantined


class Adapter(Protocol):
    """One agency kind's export format."""

    kind: AgencyKind

    def check(self, path: Path) -> None:
        """Raise StructuralError if the file as a whole cannot be this format."""

    def read(self, path: Path) -> Iterator[Item]:
        """The writes the file asks for, and its bad rows, in file order."""
