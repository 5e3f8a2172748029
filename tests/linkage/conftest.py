"""One small trained model for the linkage tests, trained once per run on generated data."""

from __future__ import annotations

from typing import Any

import pytest

from hub.linkage.features import features
from hub.linkage.model import Scorer, train
from hub.linkage.testdata import County, make_county


@pytest.fixture(scope="session")
def county() -> County:
    return make_county(1200, seed=11)


@pytest.fixture(scope="session")
def trained(county: County) -> dict[str, Any]:
    model, _ = train([features(r) for r in county.records], u_pairs=2e5)
    return model


@pytest.fixture(scope="session")
def scorer(trained: dict[str, Any]) -> Scorer:
    return Scorer(trained, version="test")
