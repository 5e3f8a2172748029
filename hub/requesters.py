"""Who asks, and why: the checks on the practitioner, role and purpose an agency's system sends.

A disclosure, a subscription and a linkage decision are each made for a named practitioner;
the rules for what counts as a name, a role or a purpose are the same everywhere.
"""

from __future__ import annotations

from hub.errors import BadRequest
from hub.vocab import Purpose, Role

PRACTITIONER_MAX = 64


def practitioner_named(value: str | None, *, refusal: str) -> str:
    """The practitioner's id at their agency: 1 to 64 printable characters, trimmed."""
    who = (value or "").strip()
    if not who or len(who) > PRACTITIONER_MAX or not who.isprintable():
        raise BadRequest(refusal, code="practitioner-missing")
    return who


def role_named(value: str | None) -> str:
    roles = sorted(r.value for r in Role)
    if value is None or value not in roles:
        raise BadRequest(
            "Send the practitioner's role in the X-Practitioner-Role header, one of "
            + ", ".join(roles)
            + ".",
            code="role-invalid",
        )
    return value


def purpose_named(value: str | None, *, asking: str) -> str:
    """A purpose from the vocabulary; ``asking`` opens the refusal, which lists them all."""
    purposes = sorted(p.value for p in Purpose)
    if value is None or value not in purposes:
        raise BadRequest(asking + ", ".join(purposes) + ".", code="purpose-invalid")
    return value
