"""Apply an adapter's rows to the hub through the API's own service functions.

Rows are applied in batches, each committed with the ledger rows that record it, so a
killed import re-run skips what was committed and finishes the rest; nothing is written
twice. A batch goes through the same batch-capable services as the API's single writes
(``upsert_records``, ``upsert_involvements``, ``record_consents``), which check every row
before writing and refuse bad rows one by one, so a row the hub refuses is quarantined and
the batch goes on. Should the database still refuse a group as a whole, its rows are
applied again one savepoint each, to find the one at fault.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO

from sqlalchemy import select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import (
    Adapter,
    ConsentOp,
    InvolvementOp,
    Item,
    Op,
    Quarantined,
    RecordOp,
)
from adapters.ledger import ImportLedger
from consent.models import ConsentRecord
from consent.service import record_consents, withdraw_consents
from hub.agencies.models import Agency
from hub.db.base import bulk_insert, utcnow
from hub.errors import BadRequest, HubError
from hub.involvements.service import InvolvementUpsert, upsert_involvements
from hub.linkage.live import LiveLinker
from hub.people.service import Crypto, RecordUpsert, upsert_records
from hub.vocab import ConsentStatus

QUARANTINE_COLUMNS = ["file", "row", "field", "reason"]
# What the database says about a row it will not store (a lost connection or a lock is not one).
ROW_ERRORS = (IntegrityError, DataError)


@dataclass
class ImportSummary:
    kind: str
    file: str
    agency: str
    read: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    warnings: int = 0
    quarantine_path: Path | None = None
    seconds: float = 0.0
    by_entity: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "file": self.file,
            "agency": self.agency,
            "read": self.read,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "warnings": self.warnings,
            "quarantine_report": str(self.quarantine_path) if self.quarantine_path else None,
            "seconds": round(self.seconds, 3),
        }


class _Quarantine:
    """The quarantine report, opened only when the first bad row arrives."""

    def __init__(self, directory: Path, kind: str, source: Path) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = directory / f"{kind}-{source.stem}-{stamp}.csv"
        self.source = source.name
        self._handle: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None
        self.problems: list[dict[str, str]] = []

    def add(self, row: int, field_name: str, reason: str) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.DictWriter(self._handle, fieldnames=QUARANTINE_COLUMNS)
            self._writer.writeheader()
        entry = {"file": self.source, "row": str(row), "field": field_name, "reason": reason}
        self._writer.writerow(entry)
        if len(self.problems) < 100:
            self.problems.append(entry)

    def close(self) -> Path | None:
        if self._handle is None:
            return None
        self._handle.close()
        return self.path


def _entity(op: Op) -> str:
    if isinstance(op, RecordOp):
        return "record"
    if isinstance(op, InvolvementOp):
        return "involvement"
    return "consent"


def _digest(op: Op) -> str:
    text = _entity(op) + "\x00" + op.payload.model_dump_json()
    if isinstance(op, ConsentOp):
        text += "\x00" + (op.withdrawn_on.isoformat() if op.withdrawn_on else "")
    return hashlib.sha256(text.encode()).hexdigest()


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass
class Importer:
    """Imports one file for one agency; `run` returns the summary."""

    sessions: sessionmaker[Session]
    crypto: Crypto
    agency_code: str
    adapter: Adapter
    quarantine_dir: Path
    batch_size: int = 2000
    on_row: Callable[[int], None] | None = None
    linker: LiveLinker | None = None
    problems: list[dict[str, str]] = field(default_factory=list)
    _untied: list[tuple[int, str]] = field(default_factory=list)

    def run(self, path: Path) -> ImportSummary:
        started = time.perf_counter()
        self.adapter.check(path)  # a whole-file error stops here, before any write
        summary = ImportSummary(
            kind=str(self.adapter.kind), file=str(path), agency=self.agency_code
        )
        quarantine = _Quarantine(self.quarantine_dir, str(self.adapter.kind), path)
        try:
            with self.sessions() as session:
                agency_id = self._agency_id(session)
                for batch in _batches(self.adapter.read(path), self.batch_size):
                    agency = session.get(Agency, agency_id)
                    assert agency is not None
                    self._apply_batch(session, agency, batch, summary, quarantine)
                    session.commit()
                    session.expunge_all()
                    if self.on_row is not None:
                        self.on_row(len(batch))
        finally:
            summary.quarantine_path = quarantine.close()
            self.problems = quarantine.problems
        summary.seconds = time.perf_counter() - started
        return summary

    def _agency_id(self, session: Session) -> int:
        agency = session.execute(
            select(Agency).where(Agency.code == self.agency_code)
        ).scalar_one_or_none()
        if agency is None:
            raise BadRequest(
                f"No agency '{self.agency_code}' is registered with the hub.",
                code="unknown-agency",
            )
        if agency.kind != self.adapter.kind:
            raise BadRequest(
                f"Agency '{self.agency_code}' is a {agency.kind} agency; this is a "
                f"{self.adapter.kind} file.",
                code="wrong-agency-kind",
            )
        return agency.id

    def _apply_batch(
        self,
        session: Session,
        agency: Agency,
        batch: list[Item],
        summary: ImportSummary,
        quarantine: _Quarantine,
    ) -> None:
        ops = [item for item in batch if not isinstance(item, Quarantined)]
        ledger: dict[tuple[str, str], tuple[str, str | None]] = {
            (entity, local_id): (digest, hub_ref)
            for entity, local_id, digest, hub_ref in session.execute(
                select(
                    ImportLedger.entity,
                    ImportLedger.local_id,
                    ImportLedger.digest,
                    ImportLedger.hub_ref,
                ).where(
                    ImportLedger.agency_id == agency.id,
                    ImportLedger.local_id.in_({op.local_id for op in ops}),
                )
            ).all()
        }
        problems = _Problems()
        segment = _Segment()
        for item in batch:
            summary.read += 1
            if isinstance(item, Quarantined):
                summary.quarantined += 1
                problems.add(item.row, item.field, item.reason)
                continue
            entity = _entity(item)
            if segment.would_reorder(entity, item):
                self._apply_segment(session, agency, segment.rows, ledger, summary, problems)
                segment = _Segment()
            digest = _digest(item)
            seen = ledger.get((entity, item.local_id))
            if seen is not None and seen[0] == digest:
                summary.unchanged += 1
                continue
            segment.add(_Pending(item, entity, digest, seen))
            summary.by_entity[entity] = summary.by_entity.get(entity, 0) + 1
        self._apply_segment(session, agency, segment.rows, ledger, summary, problems)
        for row, field_name, reason in problems.in_row_order():
            quarantine.add(row, field_name, reason)

    def _apply_segment(
        self,
        session: Session,
        agency: Agency,
        segment: list[_Pending],
        ledger: dict[tuple[str, str], tuple[str, str | None]],
        summary: ImportSummary,
        problems: _Problems,
    ) -> None:
        """Records, then involvements, then consents: each group in one go, else row by row.

        The rows applied are entered in the ledger in the same transaction.
        """
        done: list[tuple[_Pending, str]] = []
        appliers = (
            ("record", self._records),
            ("involvement", self._involvements),
            ("consent", self._consents),
        )
        for entity, apply in appliers:
            group = [p for p in segment if p.entity == entity]
            if not group:
                continue
            try:
                with session.begin_nested():
                    results = apply(session, agency, group)
            except ROW_ERRORS:
                # The database refused a row of the group: find it, one savepoint per row.
                results = []
                for one in group:
                    try:
                        with session.begin_nested():
                            results += apply(session, agency, [one])
                    except ROW_ERRORS as exc:
                        results.append(
                            (
                                one,
                                BadRequest(
                                    f"The hub could not store this row ({type(exc).__name__}).",
                                    code="storage-error",
                                ),
                            )
                        )
            for row, message in self._untied:
                summary.warnings += 1
                problems.add(row, "relationships", message)
            self._untied.clear()
            for one, result in results:
                if isinstance(result, HubError):
                    summary.quarantined += 1
                    problems.add(one.op.row, result.code, result.message)
                else:
                    done.append((one, result))
        self._write_ledger(session, agency, done, summary)
        for p, ref in done:
            ledger[(p.entity, p.op.local_id)] = (p.digest, ref)

    def _records(
        self, session: Session, agency: Agency, group: list[_Pending]
    ) -> list[tuple[_Pending, str | HubError]]:
        outcomes = upsert_records(
            session,
            self.crypto,
            agency=agency,
            records=[RecordUpsert(p.op.local_id, _record(p).payload) for p in group],
            linker=self.linker,
            untie_missing=True,
        )
        results: list[tuple[_Pending, str | HubError]] = []
        for pending, outcome in zip(group, outcomes, strict=True):
            if outcome.untied is not None:
                # The related person's own row was refused: keep this one, without the tie.
                self._untied.append(
                    (
                        pending.op.row,
                        f"{outcome.untied.message} The person was imported without this "
                        "tie; send their row again once the related record is accepted.",
                    )
                )
            if outcome.error is not None:
                results.append((pending, outcome.error))
            else:
                assert outcome.record_id is not None
                results.append((pending, outcome.record_id))
        return results

    def _involvements(
        self, session: Session, agency: Agency, group: list[_Pending]
    ) -> list[tuple[_Pending, str | HubError]]:
        outcomes = upsert_involvements(
            session,
            agency=agency,
            involvements=[InvolvementUpsert(p.op.local_id, _involvement(p).payload) for p in group],
        )
        return [
            (pending, outcome.error or outcome.involvement_id or "")
            for pending, outcome in zip(group, outcomes, strict=True)
        ]

    def _consents(
        self, session: Session, agency: Agency, group: list[_Pending]
    ) -> list[tuple[_Pending, str | HubError]]:
        """New consents in one go (withdrawn at once where the source holds them withdrawn)."""
        results: dict[int, str | HubError] = {}
        fresh = [(n, p) for n, p in enumerate(group) if p.seen is None or p.seen[1] is None]
        recorded = record_consents(
            session, agency=agency, payloads=[_consent(p).payload for _, p in fresh]
        )
        withdrawals: list[tuple[int, ConsentRecord, str]] = []
        for (n, pending), consent in zip(fresh, recorded, strict=True):
            if isinstance(consent, HubError):
                results[n] = consent
                continue
            results[n] = consent.id
            op = _consent(pending)
            if op.withdrawn_on is not None and consent.status == ConsentStatus.ACTIVE:
                withdrawals.append((n, consent, op.payload.practitioner))
        for n, pending in enumerate(group):
            if n in results:
                continue
            assert pending.seen is not None and pending.seen[1] is not None
            op = _consent(pending)
            existing = session.get(ConsentRecord, pending.seen[1])
            if (
                existing is not None
                and op.withdrawn_on is not None
                and existing.status == ConsentStatus.ACTIVE
            ):
                results[n] = existing.id
                withdrawals.append((n, existing, op.payload.practitioner))
            else:
                results[n] = BadRequest(
                    "This consent was already recorded and can only change by being "
                    "withdrawn: record a new consent under a new id.",
                    code="consent-changed",
                )
        withdrawn = withdraw_consents(
            session, agency=agency, withdrawals=[(c, who) for _, c, who in withdrawals]
        )
        for (n, _, _), result in zip(withdrawals, withdrawn, strict=True):
            if isinstance(result, HubError):
                results[n] = result
        return [(pending, results[n]) for n, pending in enumerate(group)]

    def _write_ledger(
        self,
        session: Session,
        agency: Agency,
        done: list[tuple[_Pending, str]],
        summary: ImportSummary,
    ) -> None:
        """What each applied row said, in the transaction that applied it."""
        now = utcnow()
        rows = [
            {
                "agency_id": agency.id,
                "entity": p.entity,
                "local_id": p.op.local_id,
                "digest": p.digest,
                "hub_ref": ref,
                "updated_at": now,
            }
            for p, ref in done
        ]
        new = [row for row, (p, _) in zip(rows, done, strict=True) if p.seen is None]
        changed = [row for row, (p, _) in zip(rows, done, strict=True) if p.seen is not None]
        if new:
            session.execute(bulk_insert(ImportLedger), new)
        if changed:
            session.execute(update(ImportLedger), changed)
        summary.imported += len(new)
        summary.updated += len(changed)


@dataclass(frozen=True)
class _Pending:
    """A row to apply: its write, the ledger entity, its digest, and what the ledger held."""

    op: Op
    entity: str
    digest: str
    seen: tuple[str, str | None] | None


def _record(pending: _Pending) -> RecordOp:
    assert isinstance(pending.op, RecordOp)
    return pending.op


def _involvement(pending: _Pending) -> InvolvementOp:
    assert isinstance(pending.op, InvolvementOp)
    return pending.op


def _consent(pending: _Pending) -> ConsentOp:
    assert isinstance(pending.op, ConsentOp)
    return pending.op


class _Segment:
    """Rows that can be applied grouped by entity without changing what any of them finds.

    A segment ends before the same row key comes again, and before a record that a row
    already in the segment names (which, written one by one, would not have found it yet).
    """

    def __init__(self) -> None:
        self.rows: list[_Pending] = []
        self._keys: set[tuple[str, str]] = set()
        self._named: set[str] = set()

    def would_reorder(self, entity: str, op: Op) -> bool:
        return (entity, op.local_id) in self._keys or (
            isinstance(op, RecordOp) and op.local_id in self._named
        )

    def add(self, pending: _Pending) -> None:
        op = pending.op
        self.rows.append(pending)
        self._keys.add((pending.entity, op.local_id))
        if isinstance(op, InvolvementOp):
            self._named.add(op.payload.record)
        elif isinstance(op, ConsentOp):
            self._named.add(op.payload.record)
            if op.payload.grantor_record:
                self._named.add(op.payload.grantor_record)


class _Problems:
    """A batch's quarantined rows and warnings, reported in file order."""

    def __init__(self) -> None:
        self._found: list[tuple[int, str, str]] = []

    def add(self, row: int, field_name: str, reason: str) -> None:
        self._found.append((row, field_name, reason))

    def in_row_order(self) -> list[tuple[int, str, str]]:
        return sorted(self._found, key=lambda found: found[0])
