"""Live linking through the API, the review queue, split and merge, all in the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.auth.scopes import Scope
from hub.clients import register_client
from hub.disclosure.log import verify
from hub.disclosure.models import LogEntry
from hub.linkage import model as linkage_model
from hub.linkage.models import LinkEvidence, LinkReview
from hub.linkage.service import records_at
from hub.people.models import AgencyRecord
from hub.runtime import Hub
from hub.vocab import LinkMethod, LogEvent
from tests.factories import NHS_CONSENTED, NHS_NO_CONSENT, World, child, make_world

STEWARD = "STEWARD"


@pytest.fixture
def world(hub: Hub, trained: dict[str, Any]) -> Iterator[World]:
    linkage_model.save(trained, hub.settings.data_dir)
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        with hub.sessions() as session:
            from hub.agencies.models import Agency

            council = session.execute(select(Agency).where(Agency.code == "COUNCIL")).scalar_one()
            built.clients[STEWARD] = register_client(
                session,
                client_id="linkage-steward",
                agency=council,
                token_endpoint=hub.settings.token_endpoint,
                scopes=[str(Scope.LINKAGE_REVIEW)],
            )
            session.commit()
        yield built


def school_record(given: str, family: str, born: str, sex: str = "male") -> dict[str, Any]:
    body = child(NHS_CONSENTED, given=given, family=family, born=born)
    body["identifiers"] = []
    body["sex"] = sex
    return body


def record(hub: Hub, agency: str, local_id: str) -> AgencyRecord:
    with hub.sessions() as session:
        row = session.execute(
            select(AgencyRecord).join(AgencyRecord.agency).where(AgencyRecord.local_id == local_id)
        ).scalars()
        found = [r for r in row if r.agency.code == agency]
        assert len(found) == 1
        session.expunge(found[0])
        return found[0]


def entries(hub: Hub, event: LogEvent) -> list[dict[str, Any]]:
    with hub.sessions() as session:
        rows = session.execute(select(LogEntry).where(LogEntry.event == str(event))).scalars()
        return [json.loads(r.body) for r in rows]


def steward(world: World) -> dict[str, str]:
    return world.auth(STEWARD, **{"X-Practitioner": "steward-7"})


def test_a_record_arriving_through_the_api_is_linked_live(world: World) -> None:
    world.put("HEALTH", "/v1/records/H1", child(NHS_CONSENTED))
    world.put("SCHOOL", "/v1/records/S1", school_record("Jaydon", "Smith", "2015-03-04"))

    health, school = record(world.hub, "HEALTH", "H1"), record(world.hub, "SCHOOL", "S1")
    assert school.person_id == health.person_id
    assert school.link_method == LinkMethod.PROBABILISTIC
    assert 0.5 < school.link_confidence <= 1.0
    with world.hub.sessions() as session:
        evidence = session.execute(
            select(LinkEvidence).where(LinkEvidence.record_id == school.id)
        ).scalar_one()
        assert evidence.weight is not None and evidence.model_version
        fields = {f["field"]: f["level"] for f in json.loads(evidence.fields_json)}
        assert fields["birth_date"] == "day and month transposed"
    made = entries(world.hub, LogEvent.LINK_MADE)
    assert any(e["record"] == school.id and e["method"] == "probabilistic" for e in made)


def test_a_different_nhs_number_is_a_different_child(world: World) -> None:
    world.put("HEALTH", "/v1/records/H1", child(NHS_CONSENTED))
    world.put("COUNCIL", "/v1/records/C1", child(NHS_NO_CONSENT))
    assert (
        record(world.hub, "HEALTH", "H1").person_id != record(world.hub, "COUNCIL", "C1").person_id
    )
    with world.hub.sessions() as session:
        assert session.execute(select(LinkReview)).first() is None


def test_review_reject_and_accept_are_logged_with_who_decided(world: World) -> None:
    world.put("HEALTH", "/v1/records/H1", child(NHS_CONSENTED))
    world.put("SCHOOL", "/v1/records/TWIN", school_record("Jade", "Smyth", "2015-04-03", "female"))
    world.put("POLICE", "/v1/records/P1", school_record("Jayden", "Smyth", "2016-08-21"))
    health = record(world.hub, "HEALTH", "H1")
    twin, police = record(world.hub, "SCHOOL", "TWIN"), record(world.hub, "POLICE", "P1")
    assert twin.person_id != health.person_id  # review band: never a link
    assert police.person_id != health.person_id

    denied = world.api.get("/v1/linkage/reviews", headers=world.auth("HEALTH"))
    assert denied.status_code == 403
    listed = world.api.get("/v1/linkage/reviews", headers=steward(world))
    assert listed.status_code == 200, listed.text
    by_pair = {}
    for item in listed.json():
        shown = world.api.get(f"/v1/linkage/reviews/{item['id']}", headers=steward(world)).json()
        assert {f["field"] for f in shown["fields"]} >= {"given_name", "birth_date"}
        by_pair[(shown["record"]["record_id"], shown["candidate"]["record_id"])] = item["id"]
    assert (twin.id, health.id) in by_pair and (police.id, health.id) in by_pair
    by_record = {twin.id: by_pair[(twin.id, health.id)], police.id: by_pair[(police.id, health.id)]}

    reject = world.api.post(
        f"/v1/linkage/reviews/{by_record[twin.id]}/decision",
        json={"decision": "reject", "reason": "twin sister"},
        headers=steward(world),
    )
    assert reject.status_code == 200, reject.text
    accept = world.api.post(
        f"/v1/linkage/reviews/{by_record[police.id]}/decision",
        json={"decision": "accept", "reason": "date keyed wrongly"},
        headers=steward(world),
    )
    assert accept.status_code == 200, accept.text

    assert record(world.hub, "SCHOOL", "TWIN").person_id != health.person_id
    assert record(world.hub, "POLICE", "P1").person_id == health.person_id
    decided = entries(world.hub, LogEvent.LINK_REVIEW_DECIDED)
    assert sorted((e["by"], e["outcome"]) for e in decided) == [
        ("steward-7", "accepted"),
        ("steward-7", "rejected"),
    ]
    again = world.api.post(
        f"/v1/linkage/reviews/{by_record[twin.id]}/decision",
        json={"decision": "accept"},
        headers=steward(world),
    )
    assert again.status_code == 409
    with world.hub.sessions() as session:
        assert verify(session).ok


def test_split_after_a_wrong_link_keeps_history(world: World) -> None:
    world.put("HEALTH", "/v1/records/H1", child(NHS_CONSENTED))
    world.put("SCHOOL", "/v1/records/S1", school_record("Jaydon", "Smith", "2015-03-04"))
    health, school = record(world.hub, "HEALTH", "H1"), record(world.hub, "SCHOOL", "S1")
    assert school.person_id == health.person_id
    before = datetime.now(UTC)

    split = world.api.post(
        f"/v1/linkage/records/{school.id}/split",
        json={"reason": "different boy, same class"},
        headers=steward(world),
    )
    assert split.status_code == 200, split.text
    new_person = split.json()["person_id"]

    assert record(world.hub, "SCHOOL", "S1").person_id == new_person != health.person_id
    with world.hub.sessions() as session:
        # What a disclosure about the child before the split covered is still known.
        assert records_at(session, health.person_id, before) == sorted([health.id, school.id])
        assert records_at(session, health.person_id, datetime.now(UTC)) == [health.id]
    splits = entries(world.hub, LogEvent.LINK_SPLIT)
    assert splits[-1]["record"] == school.id and splits[-1]["by"] == "steward-7"

    merge = world.api.post(
        f"/v1/linkage/people/{new_person}/merge",
        json={"into": health.person_id, "reason": "it was him after all"},
        headers=steward(world),
    )
    assert merge.status_code == 200, merge.text
    assert record(world.hub, "SCHOOL", "S1").person_id == health.person_id


def test_siblings_and_household_follow_from_shared_carers_and_address(world: World) -> None:
    from hub.linkage.families import family_of

    mother = school_record("Kelly", "Smyth", "1988-02-11", "female")
    mother["kind"] = "adult"
    world.put("COUNCIL", "/v1/records/M1", mother)
    for local, given, born in (("A1", "Jayden", "2015-04-03"), ("A2", "Amelia", "2018-09-30")):
        body = school_record(given, "Smyth", born)
        body["relationships"] = [{"record": "M1", "kind": "parent-with-parental-responsibility"}]
        world.put("COUNCIL", f"/v1/records/{local}", body)
    neighbour = school_record("Tom", "Jones", "2014-01-01")
    neighbour["address"] = "16 Mill Lane, Oakfield"
    world.put("COUNCIL", "/v1/records/N1", neighbour)

    a1, a2 = record(world.hub, "COUNCIL", "A1"), record(world.hub, "COUNCIL", "A2")
    m1, n1 = record(world.hub, "COUNCIL", "M1"), record(world.hub, "COUNCIL", "N1")
    with world.hub.sessions() as session:
        family = family_of(session, a1.person_id)
    assert family.carers == {m1.person_id}
    assert family.siblings == {a2.person_id}
    assert family.household == {m1.person_id, a2.person_id}
    assert n1.person_id not in family.everyone


def test_no_probabilistic_link_to_a_person_holding_another_nhs_number(world: World) -> None:
    world.put("HEALTH", "/v1/records/H1", child(NHS_CONSENTED))
    world.put("SCHOOL", "/v1/records/S1", school_record("Jaydon", "Smith", "2015-03-04"))
    # Same demographics as the school's record, but an NHS number the person does not hold.
    other = child(NHS_NO_CONSENT, given="Jaydon", family="Smith", born="2015-03-04")
    world.put("COUNCIL", "/v1/records/C1", other)
    health, council = record(world.hub, "HEALTH", "H1"), record(world.hub, "COUNCIL", "C1")
    assert council.person_id != health.person_id
    assert council.link_method == LinkMethod.NEW


def test_a_review_band_record_discloses_nothing_until_accepted(world: World) -> None:
    from tests.factories import consent, involvement, populate

    populate(world)
    # The school's record of a child with the same surname, address and birth date but another
    # given name: the review band, so the school nurse's involvement must not show.
    world.put("SCHOOL", "/v1/records/s-9", school_record("Jade", "Smyth", "2015-04-03", "female"))
    world.put("SCHOOL", "/v1/involvements/pastoral-9", involvement("s-9", "pastoral-support"))

    def services() -> set[str]:
        answer = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}")
        assert answer.status_code == 200, answer.text
        return {i["service"] for i in answer.json()["involvements"]}

    assert "pastoral-support" not in services()
    listed = world.api.get("/v1/linkage/reviews", headers=steward(world)).json()
    s9 = record(world.hub, "SCHOOL", "s-9")
    mine = [
        item["id"]
        for item in listed
        if world.api.get(f"/v1/linkage/reviews/{item['id']}", headers=steward(world)).json()[
            "record"
        ]["record_id"]
        == s9.id
    ]
    assert mine
    accepted = world.api.post(
        f"/v1/linkage/reviews/{mine[0]}/decision",
        json={"decision": "accept", "reason": "same child, known as Jade"},
        headers=steward(world),
    )
    assert accepted.status_code == 200, accepted.text
    assert consent  # the family's consent from populate() covers the school
    assert "pastoral-support" in services()


def test_reindex_rebuilds_the_blocking_keys_live_linking_finds(world: World) -> None:
    from sqlalchemy import delete

    from hub.linkage.models import LinkBlockKey
    from hub.linkage.service import reindex_all

    world.put("HEALTH", "/v1/records/H1", child(NHS_CONSENTED))
    with world.hub.sessions() as session:
        before = sorted(session.execute(select(LinkBlockKey.key)).scalars())
        session.execute(delete(LinkBlockKey))  # as if indexed under older blocking rules
        session.commit()
    crypto = world.hub.crypto
    assert reindex_all(world.hub.sessions, crypto.cipher, crypto.blind, batch=1) >= 1
    with world.hub.sessions() as session:
        assert sorted(session.execute(select(LinkBlockKey.key)).scalars()) == before
    world.put("SCHOOL", "/v1/records/S1", school_record("Jaydon", "Smith", "2015-03-04"))
    assert (
        record(world.hub, "SCHOOL", "S1").person_id == record(world.hub, "HEALTH", "H1").person_id
    )


MOTHER = {
    "kind": "adult",
    "identifiers": [{"system": "nhs", "value": "9434765919"}],
    "given_name": "Shazia",
    "family_name": "Hall",
    "birth_date": "1986-05-04",
    "address": "14 Mill Lane, Oakfield",
    "postcode": "LE1 6AB",
}
CONTACT = {"kind": "adult", "given_name": "Shazia", "family_name": "Hall"}
PARENT = "parent-with-parental-responsibility"


def with_carer(body: dict[str, Any], carer: str) -> dict[str, Any]:
    return {**body, "relationships": [{"record": carer, "kind": PARENT}]}


def test_a_contact_known_by_name_alone_joins_the_parent_of_their_child(world: World) -> None:
    world.put("HEALTH", "/v1/records/M1", MOTHER)
    world.put("HEALTH", "/v1/records/H1", with_carer(child(NHS_CONSENTED), "M1"))
    # The school sends the contact before the pupil: alone, a name matches nobody.
    world.put("SCHOOL", "/v1/records/S1-C1", CONTACT)
    mother, contact = record(world.hub, "HEALTH", "M1"), record(world.hub, "SCHOOL", "S1-C1")
    assert contact.person_id != mother.person_id
    # The pupil links to the health visitor's child; the contact is then the child's mother.
    pupil = with_carer(school_record("Jaydon", "Smith", "2015-03-04"), "S1-C1")
    world.put("SCHOOL", "/v1/records/S1", pupil)
    assert (
        record(world.hub, "SCHOOL", "S1").person_id == record(world.hub, "HEALTH", "H1").person_id
    )
    contact = record(world.hub, "SCHOOL", "S1-C1")
    assert contact.person_id == mother.person_id
    assert contact.link_method == LinkMethod.THROUGH_CHILD
    with world.hub.sessions() as session:
        evidence = session.execute(
            select(LinkEvidence).where(
                LinkEvidence.record_id == contact.id, LinkEvidence.ended_at.is_(None)
            )
        ).scalar_one()
        assert evidence.method == LinkMethod.THROUGH_CHILD
        assert evidence.matched_record_id == mother.id
        fields = {f["field"]: f["level"] for f in json.loads(evidence.fields_json)}
        assert fields == {
            "given_name": "exact",
            "family_name": "exact",
            "birth_date": "null",
            "sex": "null",
        }
        assert verify(session).ok
    merged = entries(world.hub, LogEvent.PEOPLE_MERGED)
    assert any(m["by"] == "hub-linkage" and contact.id in m["records"] for m in merged)


def test_a_contact_whose_name_fits_no_carer_stays_a_person_of_their_own(world: World) -> None:
    world.put("HEALTH", "/v1/records/M1", MOTHER)
    world.put("HEALTH", "/v1/records/H1", with_carer(child(NHS_CONSENTED), "M1"))
    world.put("SCHOOL", "/v1/records/S1-C1", {**CONTACT, "given_name": "Maureen"})
    pupil = with_carer(school_record("Jaydon", "Smith", "2015-03-04"), "S1-C1")
    world.put("SCHOOL", "/v1/records/S1", pupil)
    contact = record(world.hub, "SCHOOL", "S1-C1")
    assert contact.person_id != record(world.hub, "HEALTH", "M1").person_id
    assert contact.link_method == LinkMethod.NEW
    with world.hub.sessions() as session:
        assert session.execute(select(LinkReview)).first() is None


def test_a_contact_and_pupil_imported_together_are_placed_in_the_same_batch(
    world: World,
) -> None:
    from hub.agencies.models import Agency
    from hub.people.schemas import RecordIn
    from hub.people.service import RecordUpsert, upsert_records

    world.put("HEALTH", "/v1/records/M1", MOTHER)
    world.put("HEALTH", "/v1/records/H1", with_carer(child(NHS_CONSENTED), "M1"))
    partner = {**MOTHER, "identifiers": [{"system": "nhs", "value": "9434765927"}]}
    partner |= {"given_name": "Daniel", "birth_date": "1984-01-09"}
    world.put("HEALTH", "/v1/records/M2", partner)
    world.put(
        "HEALTH",
        "/v1/records/H1",
        {
            **child(NHS_CONSENTED),
            "relationships": [{"record": "M1", "kind": PARENT}, {"record": "M2", "kind": PARENT}],
        },
    )
    pupil = school_record("Jaydon", "Smith", "2015-03-04")
    pupil["relationships"] = [
        {"record": "S1-C1", "kind": PARENT},
        {"record": "S1-C2", "kind": PARENT},
    ]
    hub = world.hub
    with hub.sessions() as session:
        school = session.execute(select(Agency).where(Agency.code == "SCHOOL")).scalar_one()
        outcomes = upsert_records(
            session,
            hub.crypto,
            agency=school,
            records=[
                RecordUpsert("S1-C1", RecordIn.model_validate(CONTACT)),
                RecordUpsert("S1-C2", RecordIn.model_validate({**CONTACT, "given_name": "Danny"})),
                RecordUpsert("S1", RecordIn.model_validate(pupil)),
            ],
            linker=hub.linker,
        )
        session.commit()
    assert all(o.error is None for o in outcomes)
    mum, dad = record(hub, "SCHOOL", "S1-C1"), record(hub, "SCHOOL", "S1-C2")
    assert mum.person_id == record(hub, "HEALTH", "M1").person_id
    assert dad.person_id == record(hub, "HEALTH", "M2").person_id  # Danny: Daniel
    assert mum.link_method == dad.link_method == LinkMethod.THROUGH_CHILD
    with hub.sessions() as session:
        from hub.linkage.families import family_of

        family = family_of(session, record(hub, "SCHOOL", "S1").person_id)
        assert family.carers == {mum.person_id, dad.person_id}
        assert verify(session).ok
    made = entries(hub, LogEvent.LINK_MADE)
    assert {e["record"] for e in made if e["method"] == "through-child"} == {mum.id, dad.id}


def test_training_learns_the_prior_around_a_child_from_nhs_numbers(world: World) -> None:
    from hub.cli_linkage import around_a_child_prior

    partner = {**MOTHER, "identifiers": [{"system": "nhs", "value": "9434765927"}]}
    world.put("HEALTH", "/v1/records/M1", MOTHER)
    world.put("HEALTH", "/v1/records/M2", partner)
    world.put("COUNCIL", "/v1/records/CM1", MOTHER)  # the council's record of the mother
    both = [{"record": "M1", "kind": PARENT}, {"record": "M2", "kind": PARENT}]
    world.put("HEALTH", "/v1/records/H1", {**child(NHS_CONSENTED), "relationships": both})
    world.put("COUNCIL", "/v1/records/C1", with_carer(child(NHS_CONSENTED), "CM1"))
    with world.hub.sessions() as session:
        prior = around_a_child_prior(session, world.hub.crypto.cipher)
    # Around the child: M1, CM1 (one NHS number) and M2: one pair in three is one adult.
    assert prior is not None and abs(prior - (-1.0)) < 1e-9
