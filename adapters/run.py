"""Import files for an agency: the one entry point the CLI, the API, the demo and the bench use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from adapters import ADAPTERS
from adapters.base import StructuralError
from adapters.importer import Importer, ImportSummary
from adapters.school_ctf import SchoolCtfAdapter
from hub.clients import ensure_agency
from hub.errors import BadRequest
from hub.runtime import Hub
from hub.vocab import AgencyKind

# The agency a file is imported for when none is named (the synthetic county's own).
DEFAULT_AGENCIES: Final = {
    "health": ("COUNTY-HEALTH", "County Community Health NHS Trust", "Trust safeguarding team"),
    "police": ("COUNTY-POLICE", "County Police", "Public protection unit"),
    "council": ("COUNTY-COUNCIL", "County Council Children's Services", "Early help front door"),
}


@dataclass(frozen=True)
class Target:
    code: str
    name: str
    contact: str | None


def target_for(kind: str, path: Path, agency: str | None) -> Target:
    """The agency a file belongs to: named, read from a CTF header, or the kind's default."""
    if kind not in ADAPTERS:
        raise BadRequest(
            f"'{kind}' is not an agency kind the hub imports ({', '.join(ADAPTERS)}).",
            code="unknown-import-kind",
        )
    if agency:
        return Target(agency.upper(), agency.upper(), None)
    if kind == "school":
        school = SchoolCtfAdapter().source(path)
        return Target(
            school.agency_code, school.name or school.agency_code, "Designated safeguarding lead"
        )
    code, name, contact = DEFAULT_AGENCIES[kind]
    return Target(code, name, contact)


def import_file(
    hub: Hub,
    kind: str,
    path: Path,
    *,
    agency: str | None = None,
    register: bool = True,
    batch_size: int = 2000,
    on_row: Callable[[int], None] | None = None,
) -> tuple[ImportSummary, list[dict[str, str]]]:
    """Import one file; with `register`, an agency not yet known is registered first."""
    adapter = ADAPTERS[kind]() if kind in ADAPTERS else None
    target = target_for(kind, path, agency)
    assert adapter is not None
    if register:
        adapter.check(path)
        with hub.sessions() as session:
            ensure_agency(
                session,
                code=target.code,
                name=target.name,
                kind=AgencyKind(kind),
                contact=target.contact,
            )
            session.commit()
    importer = Importer(
        sessions=hub.sessions,
        crypto=hub.crypto,
        agency_code=target.code,
        adapter=adapter,
        quarantine_dir=hub.settings.data_dir / "quarantine",
        batch_size=batch_size,
        on_row=on_row,
        linker=hub.linker,
    )
    summary = importer.run(path)
    return summary, importer.problems


def files_in(path: Path) -> list[Path]:
    """A file, or every regular file in a directory (one CTF per school), in name order."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


__all__ = ["StructuralError", "Target", "files_in", "import_file", "target_for"]
