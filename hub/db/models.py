"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from adapters.ledger import ImportLedger
from consent.models import ConsentRecord, ConsentVersion
from hub.agencies.models import Agency, ApiClient, Practitioner, UsedAssertion
from hub.console.users import ConsoleUser
from hub.db.base import Base
from hub.disclosure.models import LogCheckpoint, LogEntry, LogFacet, LogHead, LogNode
from hub.involvements.models import Involvement
from hub.notify.models import OutboxMessage, Subscription
from hub.people.models import AgencyRecord, Person, RecordIdentifier, Relationship

__all__ = [
    "Agency",
    "AgencyRecord",
    "ApiClient",
    "Base",
    "ConsentRecord",
    "ConsentVersion",
    "ConsoleUser",
    "ImportLedger",
    "Involvement",
    "LogCheckpoint",
    "LogEntry",
    "LogFacet",
    "LogHead",
    "LogNode",
    "OutboxMessage",
    "Person",
    "Practitioner",
    "RecordIdentifier",
    "Relationship",
    "Subscription",
    "UsedAssertion",
]
