"""Field checks shared by the adapters; each raises RowError naming the field."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import ValidationError

from adapters.base import RowError
from hub.identifiers import (
    InvalidIdentifier,
    normalise_nhs_number,
    normalise_pnc_id,
    normalise_postcode,
    normalise_upn,
)


def required(value: str | None, field: str) -> str:
    if value is None or not value.strip():
        raise RowError(field, f"{field} is required but is empty.")
    return value.strip()


def optional(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip()


def nhs_number(value: str | None, field: str) -> str | None:
    if optional(value) is None:
        return None
    try:
        return normalise_nhs_number(value or "")
    except InvalidIdentifier as exc:
        raise RowError(field, exc.message) from None


def upn(value: str | None, field: str) -> str | None:
    if optional(value) is None:
        return None
    try:
        return normalise_upn(value or "")
    except InvalidIdentifier as exc:
        raise RowError(field, exc.message) from None


def pnc_id(value: str | None, field: str) -> str | None:
    if optional(value) is None:
        return None
    try:
        return normalise_pnc_id(value or "")
    except InvalidIdentifier as exc:
        raise RowError(field, exc.message) from None


def postcode(value: str | None, field: str) -> str | None:
    if optional(value) is None:
        return None
    try:
        return normalise_postcode(value or "")
    except InvalidIdentifier as exc:
        raise RowError(field, exc.message) from None


def iso_date(value: str | None, field: str, *, needed: bool = False) -> date | None:
    text = optional(value)
    if text is None:
        if needed:
            raise RowError(field, f"{field} is required but is empty.")
        return None
    try:
        parsed = date.fromisoformat(text[:10])
    except ValueError:
        raise RowError(field, f"{field} is not a real date in YYYY-MM-DD form.") from None
    if parsed.year < 1900 or parsed > date.today().replace(year=date.today().year + 5):
        raise RowError(field, f"{field} is out of range.")
    return parsed


def birth_date(value: str | None, field: str) -> date | None:
    born = iso_date(value, field)
    if born is not None and born > date.today():
        raise RowError(field, f"{field} is in the future.")
    return born


def age_on(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def kind_for(born: date | None, *, default: str) -> str:
    """A person is a child until their 18th birthday; unknown age keeps the source's default."""
    age = age_on(born, date.today())
    if age is None:
        return default
    return "child" if age < 18 else "adult"


def first_error(exc: ValidationError) -> RowError:
    """The first pydantic error as a RowError, without echoing the value."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "row"
    return RowError(where, f"{where}: {error.get('msg', 'invalid')}")


def timestamp(value: str | None, field: str) -> datetime | None:
    text = optional(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(field, f"{field} is not a date and time.") from None
