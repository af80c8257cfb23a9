"""vecgate: a Qdrant-compatible gRPC gateway that keeps embedding model versions apart."""

__version__ = "0.1.0"
