"""TLS and mutual TLS on vecgate's own ports, with certificates from scripts/make-test-ca.sh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
import pytest
from qdrant_client.grpc import qdrant_pb2, qdrant_pb2_grpc

from proxy.config import hash_key
from tests.gatewayproc import ROOT, GatewayProcess

KEY = "tls-writer-secret"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throw-away CA with a server and a client certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    folder = tmp_path_factory.mktemp("ca")
    subprocess.run([str(ROOT / "scripts" / "make-test-ca.sh"), str(folder)], check=True)
    return folder


def _tls_config(certs: Path, mutual: bool = False) -> str:
    lines = [
        "[server]",
        f'tls_cert = "{certs / "server.pem"}"',
        f'tls_key = "{certs / "server.key"}"',
    ]
    if mutual:
        lines.append(f'client_ca = "{certs / "ca.pem"}"')
    lines += ["[[keys]]", 'name = "app"', f'sha256 = "{hash_key(KEY)}"', 'identity = "minilm@1"']
    return "\n".join(lines) + "\n"


_CLIENT = textwrap.dedent(
    """
    import json, sys
    from qdrant_client import QdrantClient, models
    client = QdrantClient(host="localhost", port=int(sys.argv[2]), grpc_port=int(sys.argv[1]),
                          prefer_grpc=True, https=True, api_key=sys.argv[3])
    client.create_collection("secure", models.VectorParams(size=4, distance="Cosine"))
    client.upsert("secure", [models.PointStruct(id=7, vector=[1.0, 0.0, 0.0, 0.0])])
    hit = client.query_points("secure", query=[1.0, 0.0, 0.0, 0.0], limit=1).points[0]
    print(json.dumps({"id": hit.id, "payload": hit.payload}))
    """
)


def test_qdrant_client_with_an_api_key_over_tls(tmp_path, certs):
    """An unmodified qdrant-client with api_key (which turns https on) works end to end:
    it trusts the CA through GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (gRPC) and SSL_CERT_FILE
    (its HTTP version check); a plaintext client gets nothing."""
    gw = GatewayProcess(tmp_path / "data", _tls_config(certs)).start()
    try:
        env = {
            **os.environ,
            "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(certs / "ca.pem"),
            "SSL_CERT_FILE": str(certs / "ca.pem"),
        }
        run = subprocess.run(
            [
                sys.executable,
                "-W",
                "error",
                "-c",
                _CLIENT,
                *map(str, (gw.grpc_port, gw.http_port)),
                KEY,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        answer = json.loads(run.stdout)
        assert answer["id"] == 7
        assert answer["payload"]["embedding_model"] == "minilm"  # identity bound to the key
        with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as plain:
            stub = qdrant_pb2_grpc.QdrantStub(plain)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.RpcError) as refused:
                stub.HealthCheck(qdrant_pb2.HealthCheckRequest(), timeout=3)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        gw.stop()


def _mutual_call(gw: GatewayProcess, certs: Path, *, with_client_cert: bool) -> str:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(),
        private_key=(certs / "client.key").read_bytes() if with_client_cert else None,
        certificate_chain=(certs / "client.pem").read_bytes() if with_client_cert else None,
    )
    with grpc.secure_channel(f"localhost:{gw.grpc_port}", credentials) as channel:
        stub = qdrant_pb2_grpc.QdrantStub(channel)  # type: ignore[no-untyped-call]
        try:
            return str(stub.HealthCheck(qdrant_pb2.HealthCheckRequest(), timeout=3).title)
        except grpc.RpcError as exc:
            return str(exc.code().name)


def test_mutual_tls_demands_a_client_certificate(tmp_path, certs):
    """With server.client_ca, a client certificate signed by that CA gets in; none does not."""
    gw = GatewayProcess(tmp_path / "data", _tls_config(certs, mutual=True)).start()
    try:
        assert _mutual_call(gw, certs, with_client_cert=True) == "qdrant - vector search engine"
        assert _mutual_call(gw, certs, with_client_cert=False) == "UNAVAILABLE"
    finally:
        gw.stop()


def test_half_a_tls_configuration_is_refused(tmp_path, certs):
    """A certificate without its key stops start-up with a sentence."""
    path = tmp_path / "half.toml"
    path.write_text(f'[server]\ntls_cert = "{certs / "server.pem"}"\n')
    run = subprocess.run(
        [sys.executable, "-m", "proxy", "config", "check", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 1
    assert "tls_cert and server.tls_key go together" in run.stderr
