"""Sending what the outbox owes: decide, log, sign, post, and retry with back-off.

Each attempt is a disclosure like any other: it is decided by ``hub.decision.decide`` for the
subscriber's agency, role and purpose against the family's consents as they stand at that
moment, and recorded in the disclosure log before anything leaves. A refused one is withheld
for good. Delivery is at least once: a row is leased while it is being sent, and a receiver
that sees the same Bundle id twice (a crash between sending and settling) can drop the copy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consent.check import consents_for
from hub.agencies.models import Agency
from hub.db.base import new_id, utcnow
from hub.decision.decide import Decision, Item, Requester, decide, deny
from hub.disclosure.flow import decision_entry, record
from hub.fhir import resources
from hub.involvements.models import Involvement
from hub.involvements.views import OpenInvolvement
from hub.logging import log
from hub.notify.models import OutboxMessage, Subscription
from hub.notify.signing import SIGNATURE_HEADER, sign
from hub.runtime import Hub
from hub.vocab import LogEvent

LEASE = timedelta(seconds=120)
BACKOFF_CAP = timedelta(hours=1)


@dataclass(frozen=True)
class Outgoing:
    message_id: str
    endpoint: str
    body: bytes
    signature: str


@dataclass
class Report:
    sent: int = 0
    withheld: int = 0
    retrying: int = 0
    failed: int = 0


def backoff(settings_base: float, attempts: int) -> timedelta:
    """Exponential: base, 2×base, 4×base… after each failed attempt, capped at an hour."""
    return min(timedelta(seconds=settings_base * 2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def deliver_due(
    hub: Hub, http: httpx.Client, *, now: datetime | None = None, limit: int = 100
) -> Report:
    """Send every message due by ``now`` (one pass); failures wait for their next turn."""
    report = Report()
    for _ in range(limit):
        at = now or utcnow()
        outgoing = _claim(hub, at, report)
        if outgoing is None:
            break
        if isinstance(outgoing, str):
            continue
        status, error = _post(hub, http, outgoing)
        _settle(hub, outgoing.message_id, at, status, error, report)
    return report


def _claim(hub: Hub, now: datetime, report: Report) -> Outgoing | str | None:
    """Take the next due message, decide and log it, and lease it for sending."""
    with hub.sessions() as session:
        message = session.execute(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if message is None:
            return None
        subscription = session.get(Subscription, message.subscription_id)
        if subscription is None or subscription.status != "active":
            message.status = "cancelled"
            session.commit()
            return message.id
        decision, receipt_id, focus = _decide(hub, session, message, subscription, now)
        if not decision.permitted:
            message.status = "withheld"
            message.last_error = decision.reasons[0][:200]
            session.commit()
            report.withheld += 1
            return message.id
        body = _bundle(hub, message, subscription, decision, receipt_id, focus, now)
        message.leased_until = now + LEASE
        outgoing = Outgoing(
            message_id=message.id,
            endpoint=subscription.endpoint,
            body=body,
            signature=sign(body, key=hub.keyring.token_signing_key, key_id=hub.tokens.key_id),
        )
        session.commit()
        return outgoing


def _decide(
    hub: Hub,
    session: Session,
    message: OutboxMessage,
    subscription: Subscription,
    now: datetime,
) -> tuple[Decision, str, Involvement | None]:
    agency = session.get(Agency, subscription.agency_id)
    assert agency is not None
    requester = Requester(
        agency_code=agency.code,
        agency_kind=agency.kind,
        client_id=subscription.client_id,
        practitioner=subscription.practitioner,
        role=subscription.role,
    )
    today = now.date()
    still_involved = session.execute(
        select(Involvement.id).where(
            Involvement.person_id == message.person_id,
            Involvement.agency_id == agency.id,
            Involvement.start_date <= today,
            (Involvement.end_date.is_(None)) | (Involvement.end_date >= today),
        )
    ).first()
    focus = (
        session.get(Involvement, message.focus_id)
        if message.focus_type == "EpisodeOfCare"
        else None
    )
    if still_involved is None:
        decision = deny("recipient-no-longer-involved", rules=hub.rules)
    elif message.focus_type == "EpisodeOfCare" and focus is None:
        decision = deny("event-no-longer-held", rules=hub.rules)
    else:
        items = (
            [
                Item(
                    id=focus.id,
                    kind="involvement",
                    source_kind=focus.agency.kind,
                    sensitivity=focus.sensitivity,
                )
            ]
            if focus
            else []
        )
        decision = decide(
            requester=requester,
            purpose=subscription.purpose,
            subject_known=True,
            items=items,
            consents=consents_for(session, message.person_id),
            rules=hub.rules,
            at=now,
        )
    entry = decision_entry(
        decision,
        subject=message.person_id,
        requester={
            "agency": agency.code,
            "client": subscription.client_id,
            "practitioner": subscription.practitioner,
            "role": subscription.role,
        },
        purpose=subscription.purpose,
        asked={
            "what": "notification",
            "interface": "fhir-subscription",
            "topic": message.topic,
            "subscription": subscription.id,
            "message": message.id,
            "attempt": message.attempts + 1,
        },
        event=LogEvent.NOTIFICATION_DECIDED,
    )
    receipt = record(hub, session, entry)
    return decision, receipt.entry_id, focus


def _bundle(
    hub: Hub,
    message: OutboxMessage,
    subscription: Subscription,
    decision: Decision,
    decision_id: str,
    focus: Involvement | None,
    now: datetime,
) -> bytes:
    """A topic-based notification (R4B backport shape): SubscriptionStatus, then the focus."""
    base = f"{hub.settings.public_url}/fhir"
    focus_url = f"{base}/{message.focus_type}/{message.focus_id}"
    status: dict[str, Any] = {
        "resourceType": "SubscriptionStatus",
        "status": "active",
        "type": "event-notification",
        "eventsSinceSubscriptionStart": str(message.event_number),
        "notificationEvent": [
            {
                "eventNumber": str(message.event_number),
                "timestamp": now.isoformat(),
                "focus": {"reference": focus_url},
            }
        ],
        "subscription": {"reference": f"{base}/Subscription/{subscription.id}"},
        "topic": subscription.topic,
    }
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{new_id()}",
            "resource": status,
            "request": {"method": "GET", "url": f"Subscription/{subscription.id}/$status"},
            "response": {"status": "200"},
        }
    ]
    if focus is not None:
        episode = resources.episode_of_care(
            message.person_id, OpenInvolvement.of(focus), focus.id in set(decision.shielded)
        )
        entries.append(
            {
                "fullUrl": focus_url,
                "resource": resources.dump(episode),
                "request": {"method": "POST", "url": "EpisodeOfCare"},
                "response": {"status": "201"},
            }
        )
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": message.id,
            "type": "history",
            "timestamp": now.isoformat(),
            "identifier": {"system": resources.DECISION_SYSTEM, "value": decision_id},
            "entry": entries,
        }
    )
    return bundle.model_dump_json(exclude_none=True).encode("utf-8")


def _post(hub: Hub, http: httpx.Client, outgoing: Outgoing) -> tuple[int | None, str | None]:
    try:
        response = http.post(
            outgoing.endpoint,
            content=outgoing.body,
            headers={
                "Content-Type": "application/fhir+json",
                SIGNATURE_HEADER: outgoing.signature,
            },
            timeout=hub.settings.notify_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        return None, type(exc).__name__
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _settle(
    hub: Hub,
    message_id: str,
    now: datetime,
    status: int | None,
    error: str | None,
    report: Report,
) -> None:
    with hub.sessions() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        message.attempts += 1
        message.leased_until = None
        message.last_status = status
        if error is None:
            message.status = "delivered"
            message.delivered_at = utcnow()
            message.last_error = None
            report.sent += 1
        elif message.attempts >= hub.settings.notify_max_attempts:
            message.status = "failed"
            message.last_error = error
            report.failed += 1
            log.warning("notification_failed", message=message.id, attempts=message.attempts)
        else:
            message.last_error = error
            message.next_attempt_at = now + backoff(
                hub.settings.notify_backoff_seconds, message.attempts
            )
            report.retrying += 1
        session.commit()


class DeliveryWorker:
    """Delivers in a background thread of the hub process (``HUB_NOTIFY_IN_PROCESS=true``)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="hub-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def run(self) -> None:
        with httpx.Client(follow_redirects=False) as http:
            while not self._stop.is_set():
                try:
                    deliver_due(self.hub, http)
                except Exception as exc:  # keep delivering; the outbox keeps what is owed
                    log.error("notify_worker_error", error=type(exc).__name__)
                self._stop.wait(self.hub.settings.notify_poll_seconds)
