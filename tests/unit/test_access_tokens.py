"""The hub's access tokens: a verified token is remembered, but never past its expiry."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.auth import tokens as tokens_module
from hub.auth.tokens import TokenService
from hub.crypto.keys import Keyring
from hub.errors import Unauthenticated
from hub.settings import Settings


def _service(tmp_path: Path) -> TokenService:
    settings = Settings(data_dir=tmp_path, public_url="https://hub.example.org")
    return TokenService(settings, Keyring.generate())


def _issue(service: TokenService) -> str:
    return service.issue(
        client_id="council-system", agency_code="COUNCIL", agency_kind="council", scopes=["a", "b"]
    )


def test_a_token_verifies_and_again_from_memory(tmp_path: Path) -> None:
    service = _service(tmp_path)
    token = _issue(service)
    first = service.verify(token)
    assert first.client_id == "council-system" and first.scopes == frozenset({"a", "b"})
    assert service.verify(token) == first


def test_a_remembered_token_is_refused_once_it_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(tmp_path)
    token = _issue(service)
    service.verify(token)
    later = time.time() + 300 + 30 + 5  # past the lifetime and the clock leeway
    monkeypatch.setattr(tokens_module.time, "time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        service.verify(token)


def test_a_token_changed_by_one_character_is_not_taken_from_memory(tmp_path: Path) -> None:
    service = _service(tmp_path)
    token = _issue(service)
    service.verify(token)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(Unauthenticated):
        service.verify(tampered)
