"""Builds the backend named by the configuration."""

from __future__ import annotations

from adapters.base import Backend
from proxy.config import Config


def make_backend(config: Config) -> Backend:
    """The backend for `config.backend.url`: the embedded engine, a remote Qdrant, Milvus."""
    milvus = config.backend.milvus
    if milvus is not None:
        from adapters.milvus import MilvusBackend

        return MilvusBackend(config.backend, uri=milvus.uri, lite=milvus.lite)
    remote = config.backend.remote
    if remote is not None:
        from adapters.qdrant_remote import RemoteQdrantBackend

        return RemoteQdrantBackend(remote, config.backend)
    from adapters.embedded import EmbeddedBackend

    return EmbeddedBackend(config.server.data_dir, sync_writes=config.backend.sync_writes)
