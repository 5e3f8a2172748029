""" "Who else is involved with this child?": the one path a disclosure request takes.

Read top to bottom: authenticate, check the request, resolve the child, decide (rules, then
consent, then shielding), record the decision durably, respond. Every request that reaches
this flow leaves exactly one log entry, whether it is answered, refused or malformed, and
the entry is committed before the answer leaves. "No such child" and "not permitted" give
the same answer, so the API cannot be used to find out whether a child is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from consent.check import consents_for
from hub import metrics
from hub.auth.scopes import Scope
from hub.auth.tokens import Caller
from hub.db.base import utcnow
from hub.decision.decide import Decision, Item, Requester, decide, deny
from hub.disclosure import log
from hub.errors import BadRequest, HubError, Unauthenticated
from hub.identifiers import Identifier, InvalidIdentifier, parse_identifier
from hub.involvements.models import Involvement
from hub.involvements.service import open_involvements
from hub.people.resolve import NOBODY, resolve
from hub.runtime import Hub
from hub.vocab import LogEvent, Purpose, Role

NOT_PERMITTED = (
    "The hub cannot share information about this child with you for this purpose. "
    "If you think you should be able to see it, check the identifier and the purpose, "
    "or contact your information governance lead."
)


@dataclass(frozen=True)
class InvolvementsQuery:
    """The request as it arrived, before anything about it is trusted."""

    authorization: str | None
    identifier: str | None
    purpose: str | None
    practitioner: str | None
    role: str | None


@dataclass
class InvolvementsAnswer:
    status: int
    receipt: log.Receipt
    decision: Decision
    involvements: list[Involvement] = field(default_factory=list)
    error: HubError | None = None


def who_else_is_involved(
    hub: Hub, session: Session, query: InvolvementsQuery
) -> InvolvementsAnswer:
    asked: dict[str, Any] = {"what": "involvements"}

    # 1. Authenticate the agency system.
    try:
        caller = hub.tokens.verify(bearer(query.authorization))
    except Unauthenticated as refused:
        return _refuse(hub, session, refused, requester=None, purpose=query.purpose, asked=asked)
    requester_log = {"agency": caller.agency_code, "client": caller.client_id}
    if Scope.INVOLVEMENTS_READ not in caller.scopes:
        no_scope = HubError(
            "Your system's token does not allow it to ask who is involved.",
            code="insufficient-scope",
            status_code=403,
        )
        return _refuse(
            hub, session, no_scope, requester=requester_log, purpose=query.purpose, asked=asked
        )

    # 2. Check the request itself.
    try:
        identifier, purpose, requester = _checked(query, caller)
    except BadRequest as malformed:
        return _refuse(
            hub, session, malformed, requester=requester_log, purpose=query.purpose, asked=asked
        )
    requester_log.update({"practitioner": requester.practitioner, "role": requester.role})
    asked.update(
        {
            "identifier_system": identifier.system,
            "identifier_index": hub.crypto.blind.of(identifier.system, identifier.value),
        }
    )

    # 3. Resolve the child.
    resolution = resolve(session, hub.crypto.blind, identifier)
    person = resolution.person

    # 4. Decide: rules, then consent, then shielding. An unknown child costs the same
    # queries as a known one (against an id no one has), so time does not tell them apart.
    now = utcnow()
    subject_id = person.id if person else NOBODY
    involvements = open_involvements(session, subject_id, now.date())
    decision = decide(
        requester=requester,
        purpose=purpose,
        subject_known=person is not None,
        items=[Item(id=i.id, kind="involvement", sensitivity=i.sensitivity) for i in involvements],
        consents=consents_for(session, subject_id),
        rules=hub.rules,
        at=now,
    )
    if resolution.reason and decision.reasons == ("subject-not-found",):
        decision = deny(resolution.reason, rules=hub.rules, rule_ids=decision.rule_ids)

    # 5. Record the decision durably, before the answer leaves.
    receipt = _record(
        session,
        decision,
        subject=person.id if person else None,
        requester=requester_log,
        purpose=purpose,
        asked=asked,
    )
    session.commit()

    # 6. Respond: the same refusal whether the child is unknown or the answer is no.
    if not decision.permitted:
        refusal = HubError(NOT_PERMITTED, code="not-permitted", status_code=403)
        return InvolvementsAnswer(status=403, receipt=receipt, decision=decision, error=refusal)
    shown = set(decision.disclosed) | set(decision.shielded)
    return InvolvementsAnswer(
        status=200,
        receipt=receipt,
        decision=decision,
        involvements=[i for i in involvements if i.id in shown],
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


def _checked(query: InvolvementsQuery, caller: Caller) -> tuple[Identifier, str, Requester]:
    if not query.identifier:
        raise BadRequest(
            "Say which child: add identifier=system|value, for example "
            "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919.",
            code="identifier-missing",
        )
    try:
        identifier = parse_identifier(query.identifier)
    except InvalidIdentifier as exc:
        raise BadRequest(str(exc), code=str(exc.code)) from None
    purposes = {p.value for p in Purpose}
    if query.purpose not in purposes:
        raise BadRequest(
            "Say why you are asking: purpose must be one of " + ", ".join(sorted(purposes)) + ".",
            code="purpose-invalid",
        )
    practitioner = (query.practitioner or "").strip()
    if not practitioner or len(practitioner) > 64 or not practitioner.isprintable():
        raise BadRequest(
            "Say on whose behalf you ask: send the practitioner's id at your agency "
            "in the X-Practitioner header (1 to 64 characters).",
            code="practitioner-missing",
        )
    roles = {r.value for r in Role}
    if query.role not in roles:
        raise BadRequest(
            "Send the practitioner's role in the X-Practitioner-Role header, one of "
            + ", ".join(sorted(roles))
            + ".",
            code="role-invalid",
        )
    requester = Requester(
        agency_code=caller.agency_code,
        agency_kind=caller.agency_kind,
        client_id=caller.client_id,
        practitioner=practitioner,
        role=query.role,
    )
    return identifier, query.purpose, requester


def _record(
    session: Session,
    decision: Decision,
    *,
    subject: str | None,
    requester: dict[str, Any] | None,
    purpose: str | None,
    asked: dict[str, Any],
) -> log.Receipt:
    metrics.DECISIONS.labels(str(decision.outcome)).inc()
    with metrics.LOG_APPEND_SECONDS.time():
        receipt = log.append(
            session,
            event=LogEvent.DISCLOSURE_DECIDED,
            subject=subject,
            agency=requester["agency"] if requester else None,
            outcome=str(decision.outcome),
            body={
                "requester": requester,
                "purpose": purpose if purpose in {p.value for p in Purpose} else None,
                "asked": asked,
                "decision": decision.as_log(),
            },
        )
    metrics.CHAIN_HEAD_SIZE.set(receipt.index + 1)
    return receipt


def _refuse(
    hub: Hub,
    session: Session,
    error: HubError,
    *,
    requester: dict[str, Any] | None,
    purpose: str | None,
    asked: dict[str, Any],
) -> InvolvementsAnswer:
    """A request refused before any decision about a child: still one entry in the log."""
    decision = deny(error.code, rules=hub.rules)
    receipt = _record(
        session, decision, subject=None, requester=requester, purpose=purpose, asked=asked
    )
    session.commit()
    return InvolvementsAnswer(
        status=error.status_code, receipt=receipt, decision=decision, error=error
    )
