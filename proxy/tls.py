"""TLS for vecgate's own listeners: server certificate, and client certificates (mTLS).

qdrant-client switches to TLS whenever an api_key is given, so TLS is how most
deployments with keys run. `[server] tls_cert` and `tls_key` turn it on for the
gRPC port and the HTTP side alike; `client_ca` also demands a client certificate
signed by that CA (mutual TLS).
"""

from __future__ import annotations

import ssl

import grpc

from proxy.config import ServerConfig


def grpc_credentials(server: ServerConfig) -> grpc.ServerCredentials | None:
    """Server credentials for the gRPC port, or None when TLS is off."""
    if server.tls_cert is None or server.tls_key is None:
        return None
    pair = (server.tls_key.read_bytes(), server.tls_cert.read_bytes())
    roots = server.client_ca.read_bytes() if server.client_ca else None
    return grpc.ssl_server_credentials(
        [pair], root_certificates=roots, require_client_auth=roots is not None
    )


def http_context(server: ServerConfig) -> ssl.SSLContext | None:
    """The same certificate (and client CA) for the HTTP side, or None when TLS is off."""
    if server.tls_cert is None or server.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.tls_cert, server.tls_key)
    if server.client_ca is not None:
        context.load_verify_locations(server.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
