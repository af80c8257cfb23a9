"""Drift watch end to end: fingerprints through the CLI and the helper, writes under a
suspect version refused to a real qdrant-client, streaming statistics of real vectors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
from qdrant_client import models

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.config import hash_key
from proxy.drift.client import FingerprintMismatch, check_fingerprint
from tests.gatewayproc import ROOT, GatewayProcess

ADMIN, WRITER = "drift-admin", "drift-writer"
DATA = ROOT / "tests" / "data"
CONFIG = f"""
[server]
allow_anonymous = true  # these tests use anonymous clients beside the app key
[drift]
reference_size = 200
window = 50
score_interval_seconds = 0.0
max_vectors_per_second = 0.0
cpu_share = 0.0  # every batch watched and scored: these tests check the detector, not its budget
[[keys]]
name = "ops"
sha256 = "{hash_key(ADMIN)}"
role = "admin"
[[keys]]
name = "app"
sha256 = "{hash_key(WRITER)}"
identity = "minilm@1"
"""

#: An application's embedding function, here looking up the data set's stored vectors
#: of each version for the anchor texts (no model runs in the tests).
EMBED_MODULE = """
import json, numpy as np
from pathlib import Path
DATA = Path({data!r})
TEXTS = [json.loads(line)["text"] for line in (DATA / "anchors.jsonl").read_text().splitlines()]
with np.load(DATA / "embeddings.npz") as e, np.load(DATA / "drift.npz") as d:
    TABLE = {{"minilm": e["anchor_minilm"], "minilm_ft": e["anchor_minilm_ft"],
             "minilm_int8": d["anchor_minilm_int8"], "mpnet": d["anchor_mpnet"]}}
def _embed(version, texts):
    return [TABLE[version][TEXTS.index(t)].tolist() for t in texts]
def minilm(texts): return _embed("minilm", texts)
def minilm_ft(texts): return _embed("minilm_ft", texts)
def minilm_int8(texts): return _embed("minilm_int8", texts)
def mpnet(texts): return _embed("mpnet", texts)
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory):
    proc = GatewayProcess(tmp_path_factory.mktemp("drift") / "data", CONFIG).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Path:
    work = tmp_path_factory.mktemp("drift-work")
    (work / "vg_embed.py").write_text(EMBED_MODULE.format(data=str(DATA)))
    texts = [json.loads(line)["text"] for line in (DATA / "anchors.jsonl").read_text().splitlines()]
    lines = [
        json.dumps({"text": t, "vector": v.tolist()})
        for t, v in zip(texts, embeddings["anchor_minilm"], strict=True)
    ]
    (work / "anchors.jsonl").write_text("\n".join(lines) + "\n")
    return work


def cli(gw: GatewayProcess, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECGATE_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "proxy",
            *args,
            "--target",
            f"127.0.0.1:{gw.grpc_port}",
            "--admin-key",
            ADMIN,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean, "PYTHONPATH": str(ROOT)},
    )


def admin(gw: GatewayProcess):
    channel = grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}")
    return admin_pb2_grpc.AdminStub(channel), (("api-key", ADMIN),)  # type: ignore[no-untyped-call]


def test_fingerprint_check_passes_for_minilm_and_fails_for_every_other_version(gw, workdir):
    """One model version per registration: the right model passes, the three others fail
    (exit 1), and each failure leaves the version suspect until cleared."""
    done = cli(
        gw,
        workdir,
        "models",
        "fingerprint",
        "register",
        "minilm@1",
        "--anchors",
        "anchors.jsonl",
        "--batch-size",
        "32",
        "--how",
        "sentence-transformers encode, batch 32, normalize",
    )
    assert done.returncode == 0, done.stderr
    ok = cli(
        gw, workdir, "fingerprint", "check", "minilm@1", "--embed", "vg_embed:minilm", "--json"
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["passed"]
    assert report["min_cosine"] > 0.99999
    assert report["state"] == "ok"
    for version in ("minilm_ft", "minilm_int8", "mpnet"):
        bad = cli(
            gw,
            workdir,
            "fingerprint",
            "check",
            "minilm@1",
            "--embed",
            f"vg_embed:{version}",
            "--json",
        )
        assert bad.returncode == 1, (version, bad.stdout, bad.stderr)
        report = json.loads(bad.stdout)
        assert not report["passed"], version
        assert report["state"] == "suspect", version
        if version == "mpnet":
            assert "768 dimensions" in report["message"]
        else:
            assert report["below"], version
        cleared = cli(gw, workdir, "fingerprint", "clear", "minilm@1", "--note", "test")
        assert cleared.returncode == 0, cleared.stderr


def test_writes_under_a_suspect_version_are_refused_until_cleared(gw, workdir, embeddings, name):
    """qdrant-client's upsert gets FAILED_PRECONDITION naming the changed weights; the
    application helper raises on the mismatch; clearing lets writes through again."""
    client = gw.client("minilm@1")
    client.create_collection(name, vectors_config=models.VectorParams(size=384, distance="Cosine"))
    point = models.PointStruct(id=1, vector=embeddings["corpus_minilm"][0].tolist())
    client.upsert(name, [point])
    target = f"127.0.0.1:{gw.grpc_port}"
    with np.load(DATA / "drift.npz") as extra:
        int8 = extra["anchor_minilm_int8"]
    texts = [json.loads(line)["text"] for line in (DATA / "anchors.jsonl").read_text().splitlines()]
    lookup = dict(zip(texts, int8.tolist(), strict=True))
    with pytest.raises(FingerprintMismatch, match="weights behind the tag changed"):
        check_fingerprint(target, "minilm@1", lambda ts: [lookup[t] for t in ts], api_key=WRITER)
    with pytest.raises(grpc.RpcError) as refused:
        client.upsert(name, [point])
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert "weights behind minilm@1 changed" in refused.value.details()  # type: ignore[attr-defined]
    hits = client.query_points(name, query=point.vector, limit=1).points  # reads still served
    assert [h.id for h in hits] == [1]
    cleared = cli(gw, workdir, "fingerprint", "clear", "minilm@1", "--note", "re-embedded")
    assert cleared.returncode == 0, cleared.stderr
    client.upsert(name, [point])
    good = dict(zip(texts, embeddings["anchor_minilm"].tolist(), strict=True))
    report = check_fingerprint(target, "minilm@1", lambda ts: [good[t] for t in ts], api_key=WRITER)
    assert report.passed
    assert report.state == "ok"


def test_a_different_digest_is_refused_and_marks_the_version_suspect(gw, embeddings, name):
    stub, meta = admin(gw)
    stub.RegisterModel(
        admin_pb2.RegisterModelRequest(
            model="nomic@1", dimension=384, distance="Cosine", digest="sha256:aaa"
        ),
        metadata=meta,
    )
    client = gw.client("nomic@1", headers={"x-embedding-digest": "sha256:aaa"})
    client.create_collection(name, vectors_config=models.VectorParams(size=384, distance="Cosine"))
    vector = embeddings["corpus_minilm"][0].tolist()
    client.upsert(name, [models.PointStruct(id=1, vector=vector)])
    other = gw.client("nomic@1", headers={"x-embedding-digest": "sha256:bbb"})
    with pytest.raises(grpc.RpcError) as refused:
        other.upsert(name, [models.PointStruct(id=2, vector=vector)])
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert "sha256:bbb" in refused.value.details()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    state = ""
    while time.monotonic() < deadline and state != "suspect":  # marked right after, in the
        time.sleep(0.1)  # background: the refusal does not wait for the backend write
        view = stub.GetFingerprint(admin_pb2.GetFingerprintRequest(model="nomic@1"), metadata=meta)
        state = view.state
    assert state == "suspect"
    assert "sha256:bbb" in view.suspect_reason
    with pytest.raises(grpc.RpcError) as still:  # now every write under it, whatever the digest
        client.upsert(name, [models.PointStruct(id=3, vector=vector)])
    assert "weights behind nomic@1 changed" in still.value.details()  # type: ignore[attr-defined]


def _upsert(client, name, rows, ids, texts):
    client.upsert(
        name,
        [
            models.PointStruct(id=int(i), vector=r.tolist(), payload={"text": t})
            for i, r, t in zip(ids, rows, texts, strict=True)
        ],
    )


def test_streaming_statistics_flag_a_model_switch_and_say_it_is_the_model(
    gw, workdir, embeddings, name
):
    """MiniLM for 300 points, then the fine-tuned MiniLM under the same tag (with a few
    re-upserts of unchanged text): the alarm rises, the verdict is `model`."""
    texts = [json.loads(line)["text"] for line in (DATA / "texts.jsonl").read_text().splitlines()]
    mini, ft = embeddings["corpus_minilm"], embeddings["corpus_minilm_ft"]
    order = np.random.default_rng(11).permutation(len(mini))
    client = gw.client("minilm@1")
    client.create_collection(name, vectors_config=models.VectorParams(size=384, distance="Cosine"))
    for start in range(0, 300, 20):
        ids = order[start : start + 20]
        _upsert(client, name, mini[ids], ids, [texts[i] for i in ids])
    quiet = json.loads(cli(gw, workdir, "drift", name, "--json").stdout)
    (part,) = quiet["partitions"]
    assert part["verdict"] == "none"
    assert part["ready"]
    assert not part["latest"]["alarm"]
    for start in range(300, 420, 20):
        ids = order[start : start + 20]
        rewrite = order[:3]  # the application re-writes three earlier points, text unchanged
        both = np.r_[ids, rewrite]
        _upsert(client, name, ft[both], both, [texts[i] for i in both])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done = cli(gw, workdir, "drift", name, "--json")
        part = json.loads(done.stdout)["partitions"][0]
        if part["verdict"] == "model" and part["latest"]["alarm"]:
            break
        time.sleep(0.3)
    assert part["verdict"] == "model", part
    assert part["latest"]["centroid_distance"] > part["latest"]["threshold"]
    assert int(part["reupserts_diverged"]) > 0
    table = cli(gw, workdir, "drift")
    assert table.returncode == 0
    assert "model" in table.stdout
    page = workdir / "drift.html"
    report = cli(gw, workdir, "drift", "report", "--html", str(page), name)
    assert report.returncode == 0, report.stderr
    html = page.read_text()
    assert html.count("<svg") == 2
    assert "verdict: model" in html
    assert any("drift alarm" in line for line in gw.log_lines)
    with urllib.request.urlopen(f"http://127.0.0.1:{gw.http_port}/metrics", timeout=10) as got:
        metrics = got.read().decode()
    alarm = f'vecgate_drift_alarm{{collection="{name}",model_version="minilm@1"}} 1.0'
    assert alarm in metrics  # the same alarm, on /metrics
    assert 'vecgate_drift_watch{counter="processed"}' in metrics


def test_the_cpu_budget_skips_whole_batches_and_says_so(tmp_path, embeddings, name):
    """A tiny `cpu_share`: after its small saved-up credit the watch skips whole batches
    (counted), and reports the CPU it spent; the writes themselves all succeed."""
    config = CONFIG.replace("cpu_share = 0.0 ", "cpu_share = 0.00001 ")
    assert "cpu_share = 0.00001" in config
    proc = GatewayProcess(tmp_path / "budget", config).start()
    try:
        mini = embeddings["corpus_minilm"]
        client = proc.client("minilm@1")
        client.create_collection(
            name, vectors_config=models.VectorParams(size=384, distance="Cosine")
        )
        for start in range(0, 1000, 100):
            ids = np.arange(start, start + 100)
            _upsert(client, name, mini[ids], ids, [f"text {i}" for i in ids])
        assert client.count(name, exact=True).count == 1000
        stub, meta = admin(proc)
        deadline = time.monotonic() + 10
        while True:  # the watch drains its queue in the background
            reply = stub.GetDrift(admin_pb2.GetDriftRequest(), metadata=meta, timeout=30)
            if reply.queued == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert reply.offered == 10
        assert reply.skipped > 0
        assert sum(p.vectors for p in reply.partitions) == (10 - reply.skipped) * 100
        with urllib.request.urlopen(
            f"http://127.0.0.1:{proc.http_port}/metrics", timeout=10
        ) as got:
            metrics = got.read().decode()
        (line,) = [
            text
            for text in metrics.splitlines()
            if text.startswith('vecgate_drift_watch{counter="cpu_seconds"}')
        ]
        assert float(line.split()[-1]) > 0
    finally:
        proc.stop()
