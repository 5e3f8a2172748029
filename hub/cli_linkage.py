"""``hub linkage``: train the linkage model on the records the hub holds, and inspect it."""

from __future__ import annotations

import json

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.crypto.fields import FieldCipher
from hub.identifiers import NHS_NUMBER_SYSTEM
from hub.linkage import model as linkage_model
from hub.linkage.county import PRIOR_KEY, family_prior
from hub.linkage.features import features
from hub.linkage.service import source_record
from hub.people.models import AgencyRecord, RecordIdentifier, Relationship
from hub.runtime import Hub
from hub.settings import get_settings
from hub.vocab import CARER_KINDS, PersonKind

app = typer.Typer(help="Linking records of one child across agencies.", no_args_is_help=True)


@app.command("train")
def around_a_child_prior(session: Session, cipher: FieldCipher) -> float | None:
    """The prior for two adult records around one child, learnt as bulk linkage learns it:
    from the records the agencies tie to each child, where both carry an NHS number."""
    ties = session.execute(
        select(Relationship.person_id, AgencyRecord.id)
        .join(AgencyRecord, AgencyRecord.person_id == Relationship.related_person_id)
        .where(Relationship.kind.in_(CARER_KINDS), AgencyRecord.kind == PersonKind.ADULT)
    ).all()
    if not ties:
        return None
    numbers = {
        record_id: cipher.decrypt(value, column="record_identifier.value")
        for record_id, value in session.execute(
            select(RecordIdentifier.record_id, RecordIdentifier.value_enc).where(
                RecordIdentifier.system == NHS_NUMBER_SYSTEM
            )
        ).all()
    }
    around: dict[str, set[str]] = {}
    for child, record_id in ties:  # a carer two agencies name is one tie per agency: once
        around.setdefault(child, set()).add(record_id)
    return family_prior([sorted(members) for members in around.values()], numbers)


def train(
    minimum: int = typer.Option(1000, help="Refuse to train on fewer child records."),
) -> None:
    """Train m and u by EM on the child records held, and save a new model version."""
    settings = get_settings()
    hub = Hub.start(settings)
    try:
        with hub.sessions() as session:
            records = session.execute(
                select(AgencyRecord).where(AgencyRecord.kind == "child")
            ).scalars()
            rows = [features(source_record(hub.crypto.cipher, r)) for r in records]
        if len(rows) < minimum:
            typer.echo(f"Only {len(rows)} child records are held; need {minimum} to train.")
            raise typer.Exit(code=1)
        model, _ = linkage_model.train(rows)
        with hub.sessions() as session:
            prior = around_a_child_prior(session, hub.crypto.cipher)
        if prior is not None:
            model[PRIOR_KEY] = prior
        path = linkage_model.save(model, settings.data_dir)
        typer.echo(f"Trained on {len(rows)} records; saved {path}")
    finally:
        hub.close()


@app.command("reindex")
def reindex(batch: int = typer.Option(1000, help="Records indexed per transaction.")) -> None:
    """Rebuild every record's blocking keys, after an upgrade that changes the blocking rules."""
    from hub.linkage.service import reindex_all

    hub = Hub.start(get_settings())
    try:
        done = reindex_all(hub.sessions, hub.crypto.cipher, hub.crypto.blind, batch=batch)
        typer.echo(f"Re-indexed {done} records.")
    finally:
        hub.close()


@app.command("show")
def show() -> None:
    """The current model's version and each field's weight per agreement level."""
    settings = get_settings()
    path = linkage_model.current_model_path(settings.data_dir)
    if path is None:
        typer.echo("No linkage model has been trained: records link by identifiers only.")
        raise typer.Exit(code=1)
    scorer = linkage_model.Scorer.load(path)
    typer.echo(
        json.dumps(
            {
                "version": scorer.version,
                "prior_weight": scorer.prior_weight,
                "levels": scorer.level_weights(),
            },
            indent=1,
        )
    )
