"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from consent.models import ConsentRecord
from hub.agencies.models import Agency, ApiClient, Practitioner, UsedAssertion
from hub.db.base import Base
from hub.disclosure.models import LogEntry, LogHead
from hub.involvements.models import Involvement
from hub.people.models import AgencyRecord, Person, RecordIdentifier, Relationship

__all__ = [
    "Agency",
    "AgencyRecord",
    "ApiClient",
    "Base",
    "ConsentRecord",
    "Involvement",
    "LogEntry",
    "LogHead",
    "Person",
    "Practitioner",
    "RecordIdentifier",
    "Relationship",
    "UsedAssertion",
]
