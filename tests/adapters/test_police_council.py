"""The police and council adapters, from small hand-made exports, good and bad."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from adapters.base import StructuralError
from adapters.council_csv import REQUIRED_COLUMNS
from hub.runtime import Hub
from hub.synth.writers import COUNCIL_COLUMNS
from tests.adapters.helpers import run, snapshot


def jsonl(path: Path, *rows: dict) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_police_persons_and_encompass_notices(hub: Hub, tmp_path: Path) -> None:
    file = jsonl(
        tmp_path / "police.jsonl",
        {"entity": "location", "location_id": "L1", "address": "2 Brook Street",
         "postcode": "NG1 5FS"},
        {"entity": "person", "person_id": "N1", "surname": "Walsh", "forenames": "Lee",
         "date_of_birth": "1985-02-02", "pnc_id": "04/12345D", "home_location_id": "L1"},
        {"entity": "person", "person_id": "N2", "surname": "Walsh", "forenames": "Ruby",
         "date_of_birth": "2014-06-06", "nhs_number": "9434765919", "home_location_id": "L1"},
        {"entity": "person", "person_id": "N3", "surname": "Walsh", "pnc_id": "2004/0012345E"},
        {"entity": "person", "person_id": "N4", "forenames": "No surname"},
        {"entity": "object", "object_id": "O1", "type": "vehicle"},
        {"entity": "event", "event_id": "OCC-1", "type": "domestic-abuse-incident",
         "occurred_at": "2025-11-01T22:10:00Z", "location_id": "L1",
         "persons": [{"person_id": "N1", "role": "suspect"},
                     {"person_id": "N2", "role": "child-present"}],
         "officer": {"ref": "PPU-1", "name": "Sam Hill"},
         "encompass": [{"school_urn": "100002", "notified_at": "2025-11-01T23:30:00Z"}]},
    )  # fmt: skip
    summary, problems = run(hub, "police", file)
    assert summary.imported == 3  # two persons and one notice
    assert {p["field"] for p in problems} == {"person.pnc_id", "person.surname"}
    [notice] = snapshot(hub)["involvements"]
    assert notice[3] == "operation-encompass" and notice[7] == "SDV"


def test_a_file_that_is_not_pole_is_one_error(hub: Hub, tmp_path: Path) -> None:
    file = jsonl(tmp_path / "p.jsonl", {"entity": "person", "person_id": "N1", "surname": "X"},
                 {"entity": "vehicle-check"})  # fmt: skip
    with pytest.raises(StructuralError, match="not a POLE entity"):
        run(hub, "police", file)
    assert snapshot(hub)["counts"]["agency_record"] == 0


def council_file(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COUNCIL_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def person(pid: str, role: str, born: str, **extra: str) -> dict[str, str]:
    return {"person_id": pid, "person_role": role, "forename": "Kate", "surname": "Evans",
            "date_of_birth": born, "gender": "F", "address": "3 Manor Way", "postcode": "WR5 1HE",
            **extra}  # fmt: skip


def case(pid: str, case_id: str, **extra: str) -> dict[str, str]:
    start = (date.today() - timedelta(days=60)).isoformat()
    fields = {
        "related_person_id": "M1", "relationship": "parent-with-parental-responsibility",
        "case_id": case_id, "case_type": "early-help", "level_of_need": "3",
        "allocated_worker_id": "EH-1", "allocated_worker_name": "Jo Bloggs",
        "allocated_worker_role": "lead-professional", "lead_professional": "Y",
        "case_start_date": start,
    }  # fmt: skip
    return person(pid, "child", "2015-01-01", **(fields | extra))


def consent(cid: str, **extra: str) -> dict[str, str]:
    start = date.today() - timedelta(days=30)
    return {"consent_id": cid, "consent_status": "given", "consent_given_by": "parent",
            "consent_date": start.isoformat(),
            "consent_end_date": (start + timedelta(days=365)).isoformat(), **extra}  # fmt: skip


def test_council_cases_and_consents(hub: Hub, tmp_path: Path) -> None:
    rows = [
        person("M1", "parent", "1984-04-04"),
        case("C1", "K1", nhs_number="9434765919", upn="B801200005001", **consent("CON-1")),
        case("C2", "K2", **consent("CON-2", consent_status="refused")),
        case("C3", "K3", **consent("CON-3", consent_withdrawn_date=date.today().isoformat())),
        case("C4", "K4", case_type="tea-and-biscuits"),
        case("C5", "K5", upn="A801200005001"),
    ]
    file = council_file(tmp_path / "council.csv", rows)
    _, problems = run(hub, "council", file)
    assert {p["field"] for p in problems} == {"case_type", "upn"}
    held = snapshot(hub)
    assert [c[2] for c in held["consents"]] == ["active", "refused", "withdrawn"]
    leads = [i for i in held["involvements"] if i[6]]
    assert len(leads) == 3

    # the family withdraws consent later: the next export says so, and only that changes
    rows[1] = case("C1", "K1", nhs_number="9434765919", upn="B801200005001",
                   **consent("CON-1", consent_withdrawn_date=date.today().isoformat()))  # fmt: skip
    again, _ = run(hub, "council", council_file(tmp_path / "council.csv", rows))
    assert again.updated == 1
    assert [c[2] for c in snapshot(hub)["consents"]] == ["withdrawn", "refused", "withdrawn"]


def test_a_csv_without_the_case_columns_is_one_error(hub: Hub, tmp_path: Path) -> None:
    file = tmp_path / "c.csv"
    file.write_text("name,dob\nKate,2015-01-01\n", encoding="utf-8")
    with pytest.raises(StructuralError, match=REQUIRED_COLUMNS[0]):
        run(hub, "council", file)
    assert snapshot(hub)["counts"]["agency_record"] == 0


def test_a_child_whose_parent_row_was_refused_goes_in_without_the_tie(
    hub: Hub, tmp_path: Path
) -> None:
    rows = [person("M1", "parent", "1984-04-04", postcode="not a postcode"), case("C1", "K1")]
    summary, problems = run(hub, "council", council_file(tmp_path / "council.csv", rows))
    assert {p["field"] for p in problems} == {"postcode", "relationships"}
    assert summary.warnings == 1
    held = snapshot(hub)
    assert held["counts"]["agency_record"] == 1
    assert held["counts"]["relationship"] == 0
    assert len(held["involvements"]) == 1


def test_a_row_the_database_refuses_is_found_and_quarantined_alone(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is written in one go; a database error falls back to a savepoint per row."""
    from sqlalchemy.exc import IntegrityError

    from adapters import importer

    real = importer.upsert_involvements
    calls: list[int] = []

    def refusing(session, *, agency, involvements):  # type: ignore[no-untyped-def]
        calls.append(len(involvements))
        if any(i.local_id == "K2" for i in involvements):
            raise IntegrityError("INSERT", {}, Exception("refused"))
        return real(session, agency=agency, involvements=involvements)

    monkeypatch.setattr(importer, "upsert_involvements", refusing)
    rows = [person("M1", "parent", "1984-04-04"), case("C1", "K1"), case("C2", "K2"),
            case("C3", "K3")]  # fmt: skip
    summary, problems = run(hub, "council", council_file(tmp_path / "council.csv", rows))

    assert calls[0] == 3 and calls[1:] == [1, 1, 1]  # the group, then each row alone
    assert [(p["field"], p["reason"]) for p in problems] == [
        ("storage-error", "The hub could not store this row (IntegrityError).")
    ]
    assert summary.quarantined == 1
    held = snapshot(hub)
    assert sorted(i[1] for i in held["involvements"]) == ["K1", "K3"]
    assert held["counts"]["agency_record"] == 4
