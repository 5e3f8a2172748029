"""The health adapter, from small hand-made FHIR files, good and bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.base import StructuralError
from hub.runtime import Hub
from tests.adapters.helpers import run, snapshot

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def patient(pid: str, nhs: str | None = "9434765919", born: str = "2015-03-04") -> dict:
    resource: dict = {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"use": "official", "family": "Nowak", "given": ["Zofia"]}],
        "gender": "female",
        "birthDate": born,
        "address": [{"line": ["1 Mill Lane"], "city": "Millbrook", "postalCode": "de1 2qt"}],
    }
    if nhs:
        resource["identifier"] = [{"system": NHS, "value": nhs}]
    return resource


def related(rid: str, child: str, code: str = "MTH") -> dict:
    return {
        "resourceType": "RelatedPerson",
        "id": rid,
        "patient": {"reference": f"Patient/{child}"},
        "relationship": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                         "code": code}]}
        ],
        "name": [{"family": "Nowak", "given": ["Anna"]}],
        "birthDate": "1988-01-01",
    }  # fmt: skip


def episode(eid: str, child: str, service: str = "camhs", start: str = "2025-01-10") -> dict:
    return {
        "resourceType": "EpisodeOfCare",
        "id": eid,
        "status": "active",
        "type": [{"coding": [{"system": "urn:x", "code": service}]}],
        "patient": {"reference": f"Patient/{child}"},
        "period": {"start": start},
        "careManager": {"reference": "Practitioner/CAMHS-7", "display": "Priya Shah"},
    }


def ndjson(path: Path, *resources: dict) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in resources) + "\n", encoding="utf-8")
    return path


def test_good_rows_go_in_and_bad_rows_are_quarantined(hub: Hub, tmp_path: Path) -> None:
    file = ndjson(
        tmp_path / "health.ndjson",
        related("rp-1", "p-1"),
        patient("p-1"),
        patient("p-2", nhs="9434765910"),  # check digit wrong
        patient("p-3", nhs=None, born="2016-02-30"),  # no such day
        episode("e-1", "p-1"),
        episode("e-2", "p-1", service="astrology"),
    )
    file.write_text(file.read_text() + "{not json\n", encoding="utf-8")

    summary, problems = run(hub, "health", file)

    assert summary.imported == 3  # the mother, the child, the CAMHS episode
    assert summary.quarantined == 4
    fields = {p["field"] for p in problems}
    assert "Patient.identifier.nhs-number" in fields
    assert "Patient.birthDate" in fields
    assert "EpisodeOfCare.type" in fields
    assert "resource" in fields
    assert summary.quarantine_path is not None and summary.quarantine_path.exists()
    held = snapshot(hub)
    assert held["counts"]["relationship"] == 1
    assert any(i[3] == "camhs" and i[7] == "PSY" for i in held["involvements"])


def test_a_related_person_after_its_patient_still_ties_them(hub: Hub, tmp_path: Path) -> None:
    file = ndjson(tmp_path / "h.ndjson", patient("p-1"), related("rp-1", "p-1", "GUARD"))
    run(hub, "health", file)
    ties = snapshot(hub)["ties"]
    assert [t[2] for t in ties] == ["carer-with-parental-responsibility"]


def test_a_bundle_is_read_like_ndjson(hub: Hub, tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient("p-1")}, {"resource": episode("e-1", "p-1", "gp")}],
    }
    file = tmp_path / "bundle.json"
    file.write_text(json.dumps(bundle, indent=2), encoding="utf-8")
    summary, _ = run(hub, "health", file)
    assert (summary.imported, summary.quarantined) == (2, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<Patient/>", "not FHIR JSON"),
        (json.dumps({"resourceType": "Observation", "id": "o"}), "Observation"),
        (json.dumps({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Claim"}}]}),
         "Claim"),
    ],
)  # fmt: skip
def test_a_wrong_file_is_one_error_and_writes_nothing(
    hub: Hub, tmp_path: Path, content: str, message: str
) -> None:
    file = tmp_path / "h.ndjson"
    file.write_text(json.dumps(patient("p-1")) + "\n" + content + "\n", encoding="utf-8")
    if content.startswith("<") or "Bundle" in content:
        file.write_text(content, encoding="utf-8")
    with pytest.raises(StructuralError, match=message):
        run(hub, "health", file)
    assert snapshot(hub)["counts"]["agency_record"] == 0


def test_importing_the_same_file_twice_changes_nothing(hub: Hub, tmp_path: Path) -> None:
    file = ndjson(
        tmp_path / "h.ndjson", related("rp-1", "p-1"), patient("p-1"), episode("e", "p-1")
    )
    first, _ = run(hub, "health", file)
    before = snapshot(hub)
    second, _ = run(hub, "health", file)
    assert first.imported == 3
    assert (second.imported, second.updated, second.unchanged) == (0, 0, 3)
    assert snapshot(hub) == before
