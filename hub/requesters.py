"""Who asks, and why: the checks on the practitioner, role and purpose an agency's system sends.

A disclosure, a subscription and a linkage decision are each made for a named practitioner;
the rules for what counts as a name, a role or a purpose are the same everywhere.
"""

from __future__ import annotations

from hub.errors import BadRequest
from hub.vocab import Purpose, Role

PRACTITIONER_MAX = 64
_ROLES = frozenset(r.value for r in Role)
PURPOSES = frozenset(p.value for p in Purpose)
"""Every request is checked against these, and its log entry names only a purpose in
PURPOSES: iterating the enums each time cost more than the rest of the check."""


def practitioner_named(value: str | None, *, refusal: str) -> str:
    """The practitioner's id at their agency: 1 to 64 printable characters, trimmed."""
    who = (value or "").strip()
    if not who or len(who) > PRACTITIONER_MAX or not who.isprintable():
        raise BadRequest(refusal, code="practitioner-missing")
    return who


def role_named(value: str | None) -> str:
    if value is None or value not in _ROLES:
        raise BadRequest(
            "Send the practitioner's role in the X-Practitioner-Role header, one of "
            + ", ".join(sorted(_ROLES))
            + ".",
            code="role-invalid",
        )
    return value


def purpose_named(value: str | None, *, asking: str) -> str:
    """A purpose from the vocabulary; ``asking`` opens the refusal, which lists them all."""
    if value is None or value not in PURPOSES:
        raise BadRequest(asking + ", ".join(sorted(PURPOSES)) + ".", code="purpose-invalid")
    return value
