"""Shared fixtures: a real gateway process, real embeddings, unique collection names."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.gatewayproc import GatewayProcess

DATA = Path(__file__).parent / "data"
_counter = itertools.count()


@pytest.fixture(scope="session")
def embeddings() -> dict[str, np.ndarray]:
    """The real-embedding slice copied from shared/data/embeddings (see tests/data/README.md)."""
    with np.load(DATA / "embeddings.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One `vecgate serve` process per test module, on free ports, embedded engine."""
    proc = GatewayProcess(tmp_path_factory.mktemp("gw") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A collection name unique to this test."""
    return f"{request.node.name.split('[')[0][:40]}_{next(_counter)}"
