"""Query and header parameters read straight from the request, for the hub's busiest route.

FastAPI solving a parameter model cost the "who else is involved" route about a fifth of
its event-loop time (measured with py-spy under bench/e2e.py load), more than validating
the same model once. ``parsed`` validates it once and raises the same error FastAPI would
(so the 400 answer is unchanged); ``documented`` writes the OpenAPI parameters FastAPI
would have written for it, so the published document and schemathesis see no difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

Model = TypeVar("Model", bound=BaseModel)
Where = Literal["query", "header"]


def _name(field: str, where: Where) -> str:
    """The parameter's name on the wire: headers spell underscores as hyphens."""
    return field.replace("_", "-") if where == "header" else field


Query = TypeVar("Query", bound=BaseModel)
Headers = TypeVar("Headers", bound=BaseModel)


def parsed(query: type[Query], headers: type[Headers], request: Request) -> tuple[Query, Headers]:
    """The two models from the request's query string and headers; 400 (through the app's
    handler, naming every bad parameter) when a value breaks its constraints. A repeated
    parameter counts by its last value, as FastAPI counts it."""
    errors: list[dict[str, Any]] = []
    asked = _validated(query, request.query_params, "query", errors)
    told = _validated(headers, request.headers, "header", errors)
    if asked is None or told is None:
        raise RequestValidationError(errors)
    return asked, told


def _validated(
    model: type[Model], values: Mapping[str, str], where: Where, errors: list[dict[str, Any]]
) -> Model | None:
    given = {}
    for field in model.model_fields:
        value = values.get(_name(field, where))
        if value is not None:
            given[field] = value
    try:
        return model.model_validate(given)
    except ValidationError as invalid:
        errors.extend(
            {**error, "loc": (where, _name(str(error["loc"][0]), where), *error["loc"][1:])}
            for error in invalid.errors(include_url=False, include_input=False)
        )
        return None


def documented(model: type[BaseModel], where: Where) -> list[dict[str, Any]]:
    """The model's fields as OpenAPI parameters, as FastAPI writes a parameter model."""
    properties = model.model_json_schema()["properties"]
    documented: list[dict[str, Any]] = []
    for field, info in model.model_fields.items():
        parameter: dict[str, Any] = {
            "name": _name(field, where),
            "in": where,
            "required": info.is_required(),
            "schema": properties[field],
        }
        if info.description:
            parameter["description"] = info.description
        documented.append(parameter)
    return documented
