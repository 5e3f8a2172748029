""" "Who else is involved with this child?": the one path a disclosure request takes.

Read top to bottom: authenticate, check the request (and any safeguarding override it
makes), resolve the child, decide (rules, then consent, then shielding), record the decision
durably, respond. Every request that reaches this flow leaves exactly one log entry, whether
it is answered, refused or malformed, and the entry is committed before the answer leaves.
"No such child" and "not permitted" give the same answer, so the API cannot be used to find
out whether a child is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consent.check import consents_for
from hub import metrics
from hub.auth.scopes import Scope
from hub.auth.tokens import Caller
from hub.db.base import utcnow
from hub.db.engine import Reads
from hub.decision.decide import (
    OVERRIDE_ROLES,
    Decision,
    Item,
    Override,
    Requester,
    decide,
    deny,
)
from hub.disclosure import log
from hub.errors import BadRequest, HubError, Unauthenticated
from hub.identifiers import Identifier, InvalidIdentifier, parse_identifier
from hub.involvements.service import open_involvements
from hub.involvements.views import OpenInvolvement
from hub.people.linked import LinkedIdentifier, linked_identifiers
from hub.people.resolve import NOBODY, resolve, resolve_id
from hub.requesters import PURPOSES, practitioner_named, purpose_named, role_named
from hub.runtime import Hub
from hub.vocab import LegalBasis, LogEvent, OverrideReason

NOT_PERMITTED = (
    "The hub cannot share information about this child with you for this purpose. "
    "If you think you should be able to see it, check the identifier and the purpose, "
    "or contact your information governance lead."
)


@dataclass(frozen=True)
class OverrideRequest:
    """The X-Override-* headers as they arrived: a safeguarding disclosure without consent."""

    legal_basis: str | None = None
    reason: str | None = None
    justification: str | None = None
    family_told: str | None = None
    not_told_reason: str | None = None

    @property
    def asked(self) -> bool:
        return any(v is not None for v in self.__dict__.values())


@dataclass(frozen=True)
class InvolvementsQuery:
    """The request as it arrived, before anything about it is trusted."""

    authorization: str | None
    identifier: str | None
    purpose: str | None
    practitioner: str | None
    role: str | None
    override: OverrideRequest = field(default_factory=OverrideRequest)
    # The FHIR face asks through the same path: by the hub's pseudonymous id instead of an
    # identifier, for the child's linked identifiers ("patient") instead of involvements.
    person_id: str | None = None
    what: str = "involvements"
    scope: str = Scope.INVOLVEMENTS_READ
    interface: str = "v1"


@dataclass
class InvolvementsAnswer:
    status: int
    receipt: log.Receipt
    decision: Decision
    involvements: list[OpenInvolvement] = field(default_factory=list)
    error: HubError | None = None
    subject: str | None = None
    """The child's pseudonymous id, when the answer is about a known child."""
    identifiers: list[LinkedIdentifier] = field(default_factory=list)


@dataclass
class Decided:
    """Steps 1 to 4 done: the answer to give, and the log entry that must be committed first.

    Kept apart from the answer so that the recording step can wait on a thread (record) or
    on the event loop (record_async), while the steps before it are the same code.
    """

    entry: log.Pending
    status: int
    decision: Decision
    involvements: list[OpenInvolvement] = field(default_factory=list)
    error: HubError | None = None
    subject: str | None = None
    identifiers: list[LinkedIdentifier] = field(default_factory=list)

    def answered(self, receipt: log.Receipt) -> InvolvementsAnswer:
        return InvolvementsAnswer(
            status=self.status,
            receipt=receipt,
            decision=self.decision,
            involvements=self.involvements,
            error=self.error,
            subject=self.subject,
            identifiers=self.identifiers,
        )


def who_else_is_involved(hub: Hub, reads: Reads, query: InvolvementsQuery) -> InvolvementsAnswer:
    """The whole path, recording on this thread (the FHIR face)."""
    return recorded(hub, reads, decide_involvements(hub, reads, query))


def decide_involvements(hub: Hub, reads: Reads, query: InvolvementsQuery) -> Decided:
    """Steps 1 to 4 for a request as it arrived; the caller records, then responds."""
    asked: dict[str, Any] = {"what": query.what, "interface": query.interface}

    # 1. Authenticate the agency system.
    try:
        caller = hub.tokens.verify(bearer(query.authorization))
    except Unauthenticated as refused:
        return _refusal(hub, refused, requester=None, purpose=query.purpose, asked=asked)
    requester_log = {"agency": caller.agency_code, "client": caller.client_id}
    if query.scope not in caller.scopes:
        no_scope = HubError(
            f"Your system's token does not carry the '{query.scope}' scope this needs.",
            code="insufficient-scope",
            status_code=403,
        )
        return _refusal(hub, no_scope, requester=requester_log, purpose=query.purpose, asked=asked)

    # 2. Check the request itself, and any safeguarding override it makes.
    try:
        identifier, purpose, requester = _checked(query, caller)
        override = checked_override(query.override, role=requester.role)
    except HubError as malformed:
        if query.override.asked:
            asked["override"] = query.override.__dict__
        return _refusal(hub, malformed, requester=requester_log, purpose=query.purpose, asked=asked)
    requester_log.update({"practitioner": requester.practitioner, "role": requester.role})
    if identifier is None:
        asked["person_id"] = query.person_id
    else:
        asked.update(
            {
                "identifier_system": identifier.system,
                "identifier_index": hub.crypto.blind.of(identifier.system, identifier.value),
            }
        )

    return decide_for(
        hub,
        reads,
        identifier,
        purpose,
        requester,
        requester_log=requester_log,
        asked=asked,
        person_id=query.person_id,
        what=query.what,
        override=override,
    )


def recorded(hub: Hub, reads: Reads, decided: Decided) -> InvolvementsAnswer:
    """Step 5 on this thread, then the answer (the FHIR face and the console)."""
    return decided.answered(record(hub, reads, decided.entry))


def decide_for(
    hub: Hub,
    reads: Reads,
    identifier: Identifier | None,
    purpose: str,
    requester: Requester,
    *,
    requester_log: dict[str, Any],
    asked: dict[str, Any],
    person_id: str | None = None,
    what: str = "involvements",
    override: Override | None = None,
) -> Decided:
    """Steps 3 and 4 for a requester already authenticated (by token, or by console sign-in),
    and the entry that records them."""
    # 3. Resolve the child.
    if identifier is None:
        resolution = resolve_id(reads, person_id or "")
    else:
        resolution = resolve(reads, hub.crypto.blind, identifier)
    child = resolution.person_id

    # 4. Decide: rules, then consent, then shielding.
    rules = hub.current_rules()
    now = utcnow()
    # An unknown child costs the same queries as a known one (against an id no one has), so
    # time does not tell them apart.
    subject_id = child or NOBODY
    involvements = open_involvements(reads, subject_id, now.date())
    identifiers: list[LinkedIdentifier] = []
    if what == "patient":
        if child is not None:
            identifiers = linked_identifiers(
                reads,
                hub.crypto.cipher,
                person_id=child,
                open_involvements=involvements,
                requester_agency=requester.agency_code,
            )
        items = [
            Item(id=i.item_id, kind="identifier", sensitivity=i.sensitivity) for i in identifiers
        ]
    else:
        items = [
            Item(id=i.id, kind="involvement", source_kind=i.agency.kind, sensitivity=i.sensitivity)
            for i in involvements
        ]
    decision = decide(
        requester=requester,
        purpose=purpose,
        subject_known=child is not None,
        items=items,
        consents=consents_for(reads, subject_id),
        rules=rules,
        at=now,
        override=override,
    )
    if resolution.reason and decision.reasons == ("subject-not-found",):
        decision = deny(resolution.reason, rules=rules, rule_ids=decision.rule_ids)

    # 5. The entry that records the decision: the caller commits it before the answer leaves.
    entry = decision_entry(
        decision, subject=child, requester=requester_log, purpose=purpose, asked=asked
    )

    # 6. The answer: the same refusal whether the child is unknown or the answer is no.
    if not decision.permitted:
        refusal = HubError(NOT_PERMITTED, code="not-permitted", status_code=403)
        return Decided(entry=entry, status=403, decision=decision, error=refusal)
    if what == "patient":
        # A shielded identifier is simply left out: showing it would name the agency.
        disclosed = set(decision.disclosed)
        return Decided(
            entry=entry,
            status=200,
            decision=decision,
            subject=child,
            identifiers=[i for i in identifiers if i.item_id in disclosed],
        )
    shown = set(decision.disclosed) | set(decision.shielded)
    return Decided(
        entry=entry,
        status=200,
        decision=decision,
        involvements=[i for i in involvements if i.id in shown],
        subject=child,
    )


def bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated(
            "Sign your system in first: send an access token as 'Authorization: Bearer <token>'.",
            code="missing-token",
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "The Authorization header must read 'Bearer <token>'.", code="missing-token"
        )
    return token.strip()


def _child_named(token: str | None) -> Identifier:
    if not token:
        raise BadRequest(
            "Say which child: add identifier=system|value, for example "
            "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919.",
            code="identifier-missing",
        )
    try:
        return parse_identifier(token)
    except InvalidIdentifier as exc:
        raise BadRequest(str(exc), code=str(exc.code)) from None


def _checked(query: InvolvementsQuery, caller: Caller) -> tuple[Identifier | None, str, Requester]:
    identifier = None if query.person_id is not None else _child_named(query.identifier)
    purpose = purpose_named(query.purpose, asking="Say why you are asking: purpose must be one of ")
    practitioner = practitioner_named(
        query.practitioner,
        refusal="Say on whose behalf you ask: send the practitioner's id at your agency "
        "in the X-Practitioner header (1 to 64 characters).",
    )
    requester = Requester(
        agency_code=caller.agency_code,
        agency_kind=caller.agency_kind,
        client_id=caller.client_id,
        practitioner=practitioner,
        role=role_named(query.role),
    )
    return identifier, purpose, requester


OVERRIDE_HELP = (
    "A safeguarding override needs X-Override-Legal-Basis (one of {bases}), "
    "X-Override-Reason (why consent is not sought, DPA 2018 Schedule 1 paragraph 18(c): "
    "{reasons}) and X-Override-Justification (at least {chars} characters, in your words)."
)
MIN_JUSTIFICATION = 20


def checked_override(raw: OverrideRequest, *, role: str) -> Override | None:
    """Refuse an override that is not fully argued; it is never silent and never partial."""
    if not raw.asked:
        return None
    bases = sorted(b.value for b in LegalBasis if b is not LegalBasis.CONSENT)
    reasons = sorted(r.value for r in OverrideReason)
    help_text = OVERRIDE_HELP.format(
        bases=", ".join(bases), reasons=", ".join(reasons), chars=MIN_JUSTIFICATION
    )
    if role not in OVERRIDE_ROLES:
        raise HubError(
            "Only a front-door or social-work practitioner may share without consent "
            "through the hub; ask your front door.",
            code="override-not-allowed",
            status_code=403,
        )
    if raw.legal_basis not in bases:
        raise BadRequest(help_text, code="override-legal-basis")
    if raw.reason not in reasons:
        raise BadRequest(help_text, code="override-reason")
    justification = (raw.justification or "").strip()
    if len(justification) < MIN_JUSTIFICATION or not justification.isprintable():
        raise BadRequest(help_text, code="override-justification-missing")
    told = (raw.family_told or "yes").strip().lower()
    if told not in ("yes", "no"):
        raise BadRequest(
            "X-Override-Family-Told is 'yes' (the default) or 'no'.", code="override-family-told"
        )
    not_told = (raw.not_told_reason or "").strip() or None
    if told == "no" and (not not_told or len(not_told) < MIN_JUSTIFICATION):
        raise BadRequest(
            "When the family will not be told, say why in X-Override-Not-Told-Reason "
            f"(at least {MIN_JUSTIFICATION} characters), e.g. that telling them would put "
            "the child at increased risk.",
            code="override-not-told-reason-missing",
        )
    return Override(
        legal_basis=raw.legal_basis,
        reason=raw.reason,
        justification=justification,
        family_told=told == "yes",
        not_told_reason=not_told if told == "no" else None,
    )


def decision_entry(
    decision: Decision,
    *,
    subject: str | None,
    requester: dict[str, Any] | None,
    purpose: str | None,
    asked: dict[str, Any],
    event: LogEvent = LogEvent.DISCLOSURE_DECIDED,
) -> log.Pending:
    """The disclosure log entry for one decision: every disclosure path records one of these."""
    return log.Pending(
        event=event,
        subject=subject,
        agency=requester["agency"] if requester else None,
        outcome=str(decision.outcome),
        body={
            "requester": requester,
            "purpose": purpose if purpose in PURPOSES else None,
            "asked": asked,
            "decision": decision.as_log(),
        },
    )


def record(hub: Hub, reads: Reads, entry: log.Pending) -> log.Receipt:
    """Step 5 on this thread: returns once the entry is committed (group commit batches it
    with other requests')."""
    reads.commit()  # end this request's reads; the log writer commits in its own turn
    metrics.DECISIONS.labels(entry.outcome or "unknown").inc()
    with metrics.LOG_APPEND_SECONDS.time():
        receipt = hub.log.record(entry)
    metrics.CHAIN_HEAD_SIZE.set(receipt.index + 1)
    return receipt


async def record_async(hub: Hub, entry: log.Pending) -> log.Receipt:
    """Step 5 for a request on the event loop: the same, waiting without holding a thread."""
    metrics.DECISIONS.labels(entry.outcome or "unknown").inc()
    with metrics.LOG_APPEND_SECONDS.time():
        receipt = await hub.log.record_async(entry)
    metrics.CHAIN_HEAD_SIZE.set(receipt.index + 1)
    return receipt


def _refusal(
    hub: Hub,
    error: HubError,
    *,
    requester: dict[str, Any] | None,
    purpose: str | None,
    asked: dict[str, Any],
) -> Decided:
    """A request refused before any decision about a child: still one entry in the log."""
    decision = deny(error.code, rules=hub.current_rules())
    entry = decision_entry(
        decision, subject=None, requester=requester, purpose=purpose, asked=asked
    )
    return Decided(entry=entry, status=error.status_code, decision=decision, error=error)
