"""Start-up validation, API-key bindings and restarts, each with its own gateway process."""

from __future__ import annotations

import subprocess
import sys
import warnings

import grpc
import pytest
from qdrant_client import models

from proxy.config import hash_key
from tests.gatewayproc import ROOT, GatewayProcess, running_gateway


def _serve_with(tmp_path, config: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "vecgate.toml"
    path.write_text(config)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "proxy",
            "serve",
            "--config",
            str(path),
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("config", "entry"),
    [
        ('[identity]\ndefault = "emb@latest"\n', "identity.default"),
        ('[identity.collections]\ndocs = "emb@stable"\n', "identity.collections.docs"),
        (
            f'[[keys]]\nname = "app"\nsha256 = "{hash_key("k")}"\nidentity = "emb@latest"\n',
            "keys.app.identity",
        ),
    ],
)
def test_config_with_mutable_version_stops_start_up(tmp_path, config, entry):
    """A configured identity pinned to a mutable tag stops start-up and names the entry."""
    result = _serve_with(tmp_path, config)
    assert result.returncode == 2
    assert (entry in result.stderr and "latest" in result.stderr) or "stable" in result.stderr
    assert "ready" not in result.stdout


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("[server]\ngrpc_prot = 1\n", "server.grpc_prot: unknown setting"),
        ('[server]\nhost = "not-an-address"\n', "server.host"),
        (
            f'[[keys]]\nname = "a"\nsha256 = "{hash_key("k")}"\n'
            f'[[keys]]\nname = "b"\nsha256 = "{hash_key("k")}"\n',
            "bind the same API key",
        ),
    ],
)
def test_invalid_config_stops_start_up_naming_the_entry(tmp_path, config, needle):
    """Unknown keys, bad addresses and duplicate key bindings stop start-up with the entry named."""
    result = _serve_with(tmp_path, config)
    assert result.returncode == 2
    assert needle in result.stderr


def test_bound_api_key_tags_and_routes_without_headers(tmp_path, embeddings):
    """A client that only sends its API key is tagged and routed by the key's binding."""
    config = (
        f'[[keys]]\nname = "indexer"\nsha256 = "{hash_key("s3cret-v1")}"\nidentity = "emb@1"\n'
        f'[[keys]]\nname = "indexer2"\nsha256 = "{hash_key("s3cret-v2")}"\nidentity = "emb@2"\n'
    )
    with running_gateway(tmp_path / "data", config) as gw, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Api key is used with an insecure connection")
        v1 = gw.client(api_key="s3cret-v1", https=False)
        v2 = gw.client(api_key="s3cret-v2", https=False)
        v1.create_collection(
            "docs", vectors_config=models.VectorParams(size=384, distance="Cosine")
        )
        v1.upsert(
            "docs", [models.PointStruct(id=1, vector=embeddings["corpus_minilm"][0].tolist())]
        )
        (record,) = v1.retrieve("docs", [1], with_payload=True)
        assert record.payload == {"embedding_model": "emb", "embedding_version": "1"}
        with pytest.raises(grpc.RpcError) as excinfo:
            v2.query_points("docs", query=embeddings["query_minilm_ft"][0].tolist(), limit=1)
        assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "emb@1" in excinfo.value.details()
        unknown = gw.client(api_key="wrong", https=False)
        with pytest.raises(grpc.RpcError) as excinfo:
            unknown.count("docs")
        assert excinfo.value.code() is grpc.StatusCode.UNAUTHENTICATED
        requests = [r for r in gw.requests() if r["method"] == "Points/Upsert"]
        assert requests
        assert requests[-1]["identity_source"] == "api-key"


def test_default_identity_for_clients_without_metadata(tmp_path, embeddings):
    """A per-collection default identity lets a client with no metadata write and search."""
    config = '[identity]\ndefault = "emb@1"\n[identity.collections]\nft = "emb@2"\n'
    with running_gateway(tmp_path / "data", config) as gw:
        plain = gw.client()
        for collection in ("docs", "ft"):
            plain.create_collection(
                collection, vectors_config=models.VectorParams(size=384, distance="Cosine")
            )
            plain.upsert(
                collection,
                [models.PointStruct(id=1, vector=embeddings["corpus_minilm"][0].tolist())],
            )
        assert plain.retrieve("docs", [1], with_payload=True)[0].payload["embedding_version"] == "1"
        assert plain.retrieve("ft", [1], with_payload=True)[0].payload["embedding_version"] == "2"
        with pytest.raises(grpc.RpcError) as excinfo:
            gw.client("emb@2").count("docs")
        assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION


def test_restart_keeps_routing_and_data(tmp_path, embeddings):
    """After a restart the versions, the active one, aliases and every point are still there."""
    data = tmp_path / "data"
    corpus, corpus_ft = embeddings["corpus_minilm"], embeddings["corpus_minilm_ft"]
    with running_gateway(data) as gw:
        v1, v2 = gw.client("emb@1"), gw.client("emb@2")
        for client in (v1, v2):
            client.create_collection(
                "docs", vectors_config=models.VectorParams(size=384, distance="Cosine")
            )
        v1.upsert("docs", [models.PointStruct(id=i, vector=corpus[i].tolist()) for i in range(40)])
        v2.upsert(
            "docs", [models.PointStruct(id=i, vector=corpus_ft[i].tolist()) for i in range(7)]
        )
        v1.update_collection_aliases(
            [
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name="docs", alias_name="live")
                )
            ]
        )
        before = [h.id for h in v1.query_points("docs", query=corpus[3].tolist(), limit=5).points]
    gw2 = GatewayProcess(data).start()
    try:
        v1, v2, anonymous = gw2.client("emb@1"), gw2.client("emb@2"), gw2.client()
        assert v1.count("docs").count == 40
        assert v2.count("docs").count == 7
        assert anonymous.count("live").count == 40  # active version behind the alias
        assert [
            h.id for h in v1.query_points("docs", query=corpus[3].tolist(), limit=5).points
        ] == before
        with pytest.raises(grpc.RpcError) as excinfo:
            gw2.client("emb@3").count("docs")
        assert "emb@1 (active)" in excinfo.value.details()
        assert "emb@2" in excinfo.value.details()
    finally:
        assert gw2.stop() == 0
