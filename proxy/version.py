"""Versions vecgate reports: its own, and the Qdrant protocol version it speaks."""

from __future__ import annotations

from importlib.metadata import version

from proxy import __version__

#: The Qdrant API version of the bundled protos (qdrant-client's version tracks it);
#: clients check that major versions match and minor versions differ by at most one.
QDRANT_PROTOCOL_VERSION = version("qdrant-client")
QDRANT_TITLE = "qdrant - vector search engine"
VECGATE_VERSION = __version__
