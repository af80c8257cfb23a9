"""Shared fixtures: a real gateway process, real embeddings, unique collection names."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from adapters.milvus.lite import LiteServer
from tests.gatewayproc import GatewayProcess
from tests.upstream import UpstreamProcess

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


#: The backends the suites that say so run on: the embedded engine, a Qdrant server
#: reached over gRPC (`tests/upstream.py`, since no Qdrant server runs on this machine),
#: and Milvus (a milvus-lite server the fixture starts, reached as `milvus://`).
BACKENDS = ("embedded", "qdrant", "milvus")


@contextmanager
def gateway_on(
    backend: str, tmp_path_factory: pytest.TempPathFactory, config: str | None = None
) -> Iterator[GatewayProcess]:
    """A `vecgate serve` process on `backend` (one of BACKENDS), stopped on exit."""
    upstream: UpstreamProcess | LiteServer | None = None
    extra: tuple[str, ...] = ()
    if backend == "qdrant":
        upstream = UpstreamProcess(tmp_path_factory.mktemp("upstream")).start()
        extra = ("--backend", upstream.url)
    elif backend == "milvus":
        upstream = LiteServer(tmp_path_factory.mktemp("milvus")).start()
        extra = ("--backend", f"milvus://127.0.0.1:{upstream.port}")
    try:
        proc = GatewayProcess(tmp_path_factory.mktemp("gw") / "data", config, *extra).start()
        try:
            yield proc
        finally:
            proc.stop()
    finally:
        if upstream is not None:
            upstream.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def gateway_each_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """A `vecgate serve` process per module and backend (embedded, remote Qdrant, Milvus)."""
    with gateway_on(request.param, tmp_path_factory) as proc:
        yield proc


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A collection name unique to this test."""
    return f"{request.node.name.split('[')[0][:40]}_{next(_counter)}"
