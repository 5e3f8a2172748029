"""Apply an adapter's rows to the hub through the API's own service functions.

Rows are applied in batches, each committed with the ledger rows that record it, so a
killed import re-run skips what was committed and finishes the rest; nothing is written
twice. Each row is applied in its own savepoint: a row the hub refuses is quarantined and
the batch goes on.
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

from sqlalchemy import select
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
from consent.service import record_consent, withdraw_consent
from hub.agencies.models import Agency
from hub.errors import BadRequest, HubError
from hub.involvements.service import upsert_involvement
from hub.people.service import Crypto, upsert_record
from hub.vocab import ConsentStatus

QUARANTINE_COLUMNS = ["file", "row", "field", "reason"]


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
    batch_size: int = 500
    on_row: Callable[[int], None] | None = None
    problems: list[dict[str, str]] = field(default_factory=list)

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
        local_ids = {op.local_id for op in ops}
        ledger = {
            (row.entity, row.local_id): row
            for row in session.execute(
                select(ImportLedger).where(
                    ImportLedger.agency_id == agency.id, ImportLedger.local_id.in_(local_ids)
                )
            ).scalars()
        }
        for item in batch:
            summary.read += 1
            if isinstance(item, Quarantined):
                summary.quarantined += 1
                quarantine.add(item.row, item.field, item.reason)
                continue
            entity = _entity(item)
            digest = _digest(item)
            seen = ledger.get((entity, item.local_id))
            if seen is not None and seen.digest == digest:
                summary.unchanged += 1
                continue
            try:
                self._write(session, agency, item, digest, ledger, summary)
            except BadRequest as exc:
                if not (
                    isinstance(item, RecordOp)
                    and exc.code == "related-record-not-found"
                    and item.payload.relationships
                ):
                    summary.quarantined += 1
                    quarantine.add(item.row, exc.code, exc.message)
                else:
                    # The related person's own row was refused: keep this one, without the tie.
                    summary.warnings += 1
                    quarantine.add(
                        item.row,
                        "relationships",
                        f"{exc.message} The person was imported without this tie; send "
                        "their row again once the related record is accepted.",
                    )
                    untied = item.payload.model_copy(update={"relationships": []})
                    try:
                        self._write(
                            session,
                            agency,
                            RecordOp(item.row, item.local_id, untied),
                            digest,
                            ledger,
                            summary,
                        )
                    except HubError as again:
                        summary.quarantined += 1
                        quarantine.add(item.row, again.code, again.message)
            except HubError as exc:
                summary.quarantined += 1
                quarantine.add(item.row, exc.code, exc.message)
            summary.by_entity[entity] = summary.by_entity.get(entity, 0) + 1

    def _write(
        self,
        session: Session,
        agency: Agency,
        op: Op,
        digest: str,
        ledger: dict[tuple[str, str], ImportLedger],
        summary: ImportSummary,
    ) -> None:
        """Apply one row and its ledger entry in a savepoint: all of it, or none of it."""
        entity = _entity(op)
        seen = ledger.get((entity, op.local_id))
        created = seen is None
        with session.begin_nested():
            ref = self._apply(session, agency, op, seen)
            if seen is None:
                seen = ImportLedger(agency_id=agency.id, entity=entity, local_id=op.local_id)
                session.add(seen)
            seen.digest = digest
            seen.hub_ref = ref
            session.flush()
        ledger[(entity, op.local_id)] = seen
        if created:
            summary.imported += 1
        else:
            summary.updated += 1

    def _apply(
        self, session: Session, agency: Agency, op: Op, seen: ImportLedger | None
    ) -> str | None:
        if isinstance(op, RecordOp):
            written = upsert_record(
                session, self.crypto, agency=agency, local_id=op.local_id, payload=op.payload
            )
            return written.record.id
        if isinstance(op, InvolvementOp):
            involvement, _ = upsert_involvement(
                session, agency=agency, local_id=op.local_id, payload=op.payload
            )
            return involvement.id
        return self._apply_consent(session, agency, op, seen)

    @staticmethod
    def _apply_consent(
        session: Session, agency: Agency, op: ConsentOp, seen: ImportLedger | None
    ) -> str:
        if seen is not None and seen.hub_ref is not None:
            existing = session.get(ConsentRecord, seen.hub_ref)
            if (
                existing is not None
                and op.withdrawn_on is not None
                and existing.status == ConsentStatus.ACTIVE
            ):
                withdraw_consent(
                    session,
                    agency=agency,
                    consent_id=existing.id,
                    practitioner=op.payload.practitioner,
                )
                return existing.id
            raise BadRequest(
                "This consent was already recorded and can only change by being withdrawn: "
                "record a new consent under a new id.",
                code="consent-changed",
            )
        consent = record_consent(session, agency=agency, payload=op.payload)
        if op.withdrawn_on is not None and consent.status == ConsentStatus.ACTIVE:
            withdraw_consent(
                session, agency=agency, consent_id=consent.id, practitioner=op.payload.practitioner
            )
        return consent.id
