"""A small synthetic county for ``hub demo``, made by ``hub synth`` and read by the adapters.

Deterministic by seed. ``hub synth`` writes the county in each agency's own format into
``hub-data/county`` (look at the files: they are what the adapters read), and the demo
imports them exactly as ``hub import`` does. The synthetic county's first families always
show what the demo needs: all four agency kinds involved, a lead professional, shielded
sensitive services, and consents given, refused, withdrawn and expired; later families
without a consent show the absent case.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from adapters.run import files_in, import_file
from adapters.school_ctf import SchoolCtfAdapter
from hub.clients import ClientCredentials, ensure_agency, register_client
from hub.runtime import Hub
from hub.synth import synthesise
from hub.vocab import AgencyKind

AGENCIES = [
    (
        "COUNTY-HEALTH",
        "County Community Health NHS Trust",
        AgencyKind.HEALTH,
        "Trust safeguarding team, 0300 555 0101",
    ),
    ("COUNTY-POLICE", "County Police", AgencyKind.POLICE, "Public protection unit, 0300 555 0103"),
    (
        "COUNTY-COUNCIL",
        "County Council Children's Services",
        AgencyKind.COUNCIL,
        "Early help front door, 0300 555 0104",
    ),
]
CLIENTS = {
    "demo-health": "COUNTY-HEALTH",
    "demo-school": "",  # the county's first school, named in its CTF
    "demo-police": "COUNTY-POLICE",
    "demo-council": "COUNTY-COUNCIL",
}


@dataclass
class County:
    clients: dict[str, ClientCredentials] = field(default_factory=dict)
    examples: list[dict[str, str]] = field(default_factory=list)
    families: int = 0
    children: int = 0


def build_county(hub: Hub, *, token_endpoint: str, children: int = 24, seed: int = 7) -> County:
    """Synthesise the county into the data directory, import it, register the demo clients."""
    out = hub.settings.data_dir / "county"
    shutil.rmtree(out, ignore_errors=True)
    made = synthesise(out, children=children, seed=seed)
    schools = files_in(out / "school")
    first_school = SchoolCtfAdapter().source(schools[0])
    county = County(families=made.families, children=made.children)
    with hub.sessions() as session:
        agencies = {
            code: ensure_agency(session, code=code, name=name, kind=kind, contact=contact)
            for code, name, kind, contact in AGENCIES
        }
        agencies[first_school.agency_code] = ensure_agency(
            session,
            code=first_school.agency_code,
            name=first_school.name or first_school.agency_code,
            kind=AgencyKind.SCHOOL,
            contact="Designated safeguarding lead, 0300 555 0102",
        )
        for client_id, code in CLIENTS.items():
            county.clients[client_id] = register_client(
                session,
                client_id=client_id,
                agency=agencies[code or first_school.agency_code],
                token_endpoint=token_endpoint,
            )
        session.commit()
    for kind, name in (
        ("health", "health.ndjson"),
        ("council", "council.csv"),
        ("police", "police.jsonl"),
    ):
        import_file(hub, kind, out / name)
    for path in schools:
        import_file(hub, "school", path)
    shown = [e for e in made.examples if e.involvements]
    firsts = list({e.story: e for e in reversed(shown)}.values())[::-1]  # one of each story
    county.examples = [
        {"story": e.story, "nhs": e.nhs} for e in [*firsts, *(e for e in shown if e not in firsts)]
    ]
    return county
