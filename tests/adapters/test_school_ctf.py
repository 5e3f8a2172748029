"""The school adapter, from small hand-made Common Transfer Files, good and bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import StructuralError
from hub.runtime import Hub
from tests.adapters.helpers import run, snapshot

HEADER = (
    "<Header><DocumentName>Common Transfer File</DocumentName><CTFversion>25.0</CTFversion>"
    "<SourceSchool><LEA>855</LEA><Estab>2001</Estab><URN>100002</URN>"
    "<SchoolName>Oakfield Primary</SchoolName><AcademicYear>2025</AcademicYear></SourceSchool>"
    "</Header>"
)


def pupil(upn: str, *, dob: str = "2016-05-10", sex_tag: str = "Sex", extra: str = "") -> str:
    return (
        f"<Pupil><UPN>{upn}</UPN><Surname>Okafor</Surname><Forename>Amara</Forename>"
        f"<DOB>{dob}</DOB><{sex_tag}>F</{sex_tag}>"
        "<Address><BS7666Address><PAON>4</PAON><Street>Station Road</Street>"
        "<Town>Harrowby</Town><PostCode>LE2 3XY</PostCode></BS7666Address></Address>"
        "<Contacts><Contact><Order>1</Order><Surname>Okafor</Surname><Forename>Chioma</Forename>"
        "<Relationship>PAM</Relationship><Responsibility>true</Responsibility></Contact>"
        "<Contact><Order>2</Order><Surname>Mensah</Surname><Relationship>STF</Relationship>"
        "<Responsibility>false</Responsibility></Contact></Contacts>"
        f"{extra}</Pupil>"
    )


def ctf(path: Path, *pupils: str) -> Path:
    path.write_text(
        f'<?xml version="1.0"?><CTfile>{HEADER}<CTFpupilData>{"".join(pupils)}'
        "</CTFpupilData></CTfile>",
        encoding="utf-8",
    )
    return path


SEN_AND_ABSENCE = (
    "<SENhistory><SEN><StartDate>2024-10-01</StartDate><SENprovision>E</SENprovision></SEN>"
    "</SENhistory><Attendance><YearData><Year>2025</Year><SessionsPossible>300</SessionsPossible>"
    "<SessionsAuthorised>20</SessionsAuthorised><SessionsUnauthorised>25</SessionsUnauthorised>"
    "</YearData></Attendance>"
)


def test_pupils_contacts_and_school_involvements_go_in(hub: Hub, tmp_path: Path) -> None:
    file = ctf(
        tmp_path / "8552001.xml",
        pupil("B801200005001", extra=SEN_AND_ABSENCE),
        pupil("M80120000500A", sex_tag="Gender"),  # temporary UPN, older Gender tag
        pupil("A801200005001"),  # check letter wrong
        pupil("P207000016049", dob="2016-13-01"),
        pupil("Q801200005002").replace("<PostCode>LE2 3XY", "<PostCode>LE2 3CI"),
    )
    summary, problems = run(hub, "school", file)

    assert summary.agency == "SCHOOL-8552001"
    assert summary.quarantined == 3
    assert {p["field"] for p in problems} == {"Pupil.UPN", "Pupil.DOB", "Pupil.Address.PostCode"}
    held = snapshot(hub)
    services = sorted(i[3] for i in held["involvements"])
    assert services == ["attendance", "school", "school", "senco"]
    kinds = sorted(t[2] for t in held["ties"])
    assert (
        kinds
        == ["carer-without-parental-responsibility"] * 2
        + ["parent-with-parental-responsibility"] * 2
    )
    # A pupil refused for its date of birth or postcode still lets its contacts in, untied;
    # a pupil whose UPN is wrong cannot name them.
    local_ids = {member[1] for group in held["groups"] for member in group}
    assert {"P207000016049-C1", "P207000016049-C2", "Q801200005002-C1"} <= local_ids
    assert not any(local.startswith("A801200005001") for local in local_ids)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not xml", "not well-formed"),
        ("<SchoolCensus><Header/></SchoolCensus>", "root element is <SchoolCensus>"),
        ("<CTfile><CTFpupilData></CTFpupilData></CTfile>", "no CTF Header"),
        (f"<CTfile>{HEADER}<CTFpupilData>{pupil('B801200005001')}", "not well-formed"),
    ],
)
def test_a_wrong_file_is_one_error_and_writes_nothing(
    hub: Hub, tmp_path: Path, content: str, message: str
) -> None:
    file = tmp_path / "bad.xml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(StructuralError, match=message):
        run(hub, "school", file, agency="SCHOOL-8552001")
    assert snapshot(hub)["counts"]["agency_record"] == 0


def test_entities_are_refused(hub: Hub, tmp_path: Path) -> None:
    file = tmp_path / "bomb.xml"
    file.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><CTfile>&a;</CTfile>',
        encoding="utf-8",
    )
    with pytest.raises(Exception, match=r"DTD|forbidden|Entit"):
        run(hub, "school", file, agency="SCHOOL-8552001")


def test_importing_the_same_file_twice_changes_nothing(hub: Hub, tmp_path: Path) -> None:
    file = ctf(tmp_path / "8552001.xml", pupil("B801200005001", extra=SEN_AND_ABSENCE))
    run(hub, "school", file)
    before = snapshot(hub)
    second, _ = run(hub, "school", file)
    assert second.imported == second.updated == 0
    assert snapshot(hub) == before
