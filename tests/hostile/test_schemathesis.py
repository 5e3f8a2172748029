"""schemathesis (v4) against the hub's own OpenAPI document, in process, with valid tokens.

Every operation is fuzzed from its schema, with data that fits it and data that does not:
no response may be a 5xx, and every response must match the status codes, content types,
headers and bodies the document declares. (Driven through schemathesis's Python API rather
than its pytest plugin, whose fixture loader does not yet run under pytest 9.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.app import create_app
from hub.runtime import Hub
from tests.factories import World, make_world, populate

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzzed(hub: Hub) -> Iterator[tuple[FastAPI, World]]:
    app = create_app(hub)
    with TestClient(app) as api:
        world = make_world(hub, api)
        populate(world)
        yield app, world


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_and_every_response_as_documented(
    fuzzed: tuple[FastAPI, World], mode: GenerationMode
) -> None:
    app, world = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    token = world.token("COUNCIL")
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS
    failures: list[str] = []
    seen: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            headers = dict(case.headers or {})
            headers.setdefault("Authorization", f"Bearer {token}")
            response = case.call_and_validate(headers=headers, checks=checks)
            seen.setdefault(case.operation.label, set()).add(response.status_code)

        try:
            fuzz()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no input to break on a bare GET
        except Exception as failure:  # collect every operation's failure, then report all
            failures.append(f"{operation.label}: {failure}")

    assert not failures, "\n\n".join(failures)
    if mode is GenerationMode.POSITIVE:  # valid tokens and valid data do get through
        assert 200 in seen["PUT /v1/records/{local_id}"]
        assert 200 in seen["GET /healthz"]
