"""`vecgate migrate ...` against a real `vecgate serve`: backfill, resume, verify, the switches.

The "embedding" is real data without a model: a small module written into the test's
directory maps each passage (or query) text to its stored MiniLM vector from
tests/data/embeddings.npz, v1 = `minilm` ("minilm@1"), v2 = `minilm_ft` ("minilm@2").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from qdrant_client import models

from proxy.config import hash_key
from tests.gatewayproc import ROOT, GatewayProcess

V1, V2 = "minilm@1", "minilm@2"
ADMIN = "adm"
FLOOR = 0.5  # the verify floor; the real v1/v2 top-10 overlap here is 0.70
CONFIG = f"""
[[keys]]
name = "ops"
sha256 = "{hash_key(ADMIN)}"
role = "admin"
[migration]
min_overlap = {FLOOR}
"""
DATA = ROOT / "tests" / "data"
EMBED_MODULE = '''
"""Test embedder: each known text -> its stored vector (numpy rows, as real models return)."""
import json, os, time
import numpy as np

_DATA = {data!r}
with np.load(_DATA + "/embeddings.npz") as _npz:
    _arrays = {{key: _npz[key] for key in _npz.files}}
_rows = {{int(i): r for r, i in enumerate(_arrays["corpus_ids"])}}
_PASSAGES = {{}}
with open(_DATA + "/texts.jsonl") as _file:
    for _line in _file:
        _entry = json.loads(_line)
        _PASSAGES[_entry["text"]] = _arrays["corpus_minilm_ft"][_rows[_entry["id"]]]
_QUERIES = {{}}
with open(_DATA + "/queries.jsonl") as _file:
    for _line in _file:
        _entry = json.loads(_line)
        _QUERIES[_entry["text"]] = _entry["qid"]
_qrows = {{int(q): r for r, q in enumerate(_arrays["query_ids"])}}


def embed(texts):
    """v2 passages; logs the batch (one write) to $EMBED_LOG, sleeps $EMBED_SLEEP seconds."""
    log = os.environ.get("EMBED_LOG")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (json.dumps(texts) + "\\n").encode())
        os.close(fd)
    time.sleep(float(os.environ.get("EMBED_SLEEP", "0")))
    return [_PASSAGES[text] for text in texts]


def query_v1(texts):
    return [_arrays["query_minilm"][_qrows[_QUERIES[t]]] for t in texts]


def query_v2(texts):
    return [_arrays["query_minilm_ft"][_qrows[_QUERIES[t]]] for t in texts]
'''


@dataclass(frozen=True)
class Corpus:
    """The passages, row-aligned: ids, texts, v1 and v2 vectors."""

    ids: list[int]
    texts: list[str]
    v1: np.ndarray
    v2: np.ndarray


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway for this module, with the admin key `ops` and a verify floor."""
    proc = GatewayProcess(tmp_path_factory.mktemp("migrate") / "data", CONFIG).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def corpus(embeddings: dict[str, np.ndarray]) -> Corpus:
    """The 1,087 passages with both versions' vectors."""
    texts = {}
    for line in (DATA / "texts.jsonl").read_text().splitlines():
        entry = json.loads(line)
        texts[entry["id"]] = entry["text"]
    ids = [int(i) for i in embeddings["corpus_ids"]]
    return Corpus(
        ids, [texts[i] for i in ids], embeddings["corpus_minilm"], embeddings["corpus_minilm_ft"]
    )


@pytest.fixture
def embedder(tmp_path: Path) -> Path:
    """A directory holding the module `embed_ft` (run the CLI there to import it)."""
    (tmp_path / "embed_ft.py").write_text(EMBED_MODULE.format(data=str(DATA)))
    return tmp_path


# -- helpers ----------------------------------------------------------------------------------


def _env(gw: GatewayProcess, **extra: str) -> dict[str, str]:
    """The environment of a CLI run: target and admin key from VECGATE_*, nothing else of ours."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VECGATE_", "EMBED_"))}
    target = {"VECGATE_TARGET": f"127.0.0.1:{gw.grpc_port}", "VECGATE_ADMIN_KEY": ADMIN}
    return {**clean, **target, **extra}


def vecgate(
    gw: GatewayProcess,
    *args: str,
    cwd: Path = ROOT,
    program: Sequence[str] | None = None,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """Run `vecgate ARGS` as a user would (default: `python -m proxy` in the project root)."""
    command = [*(program or (sys.executable, "-m", "proxy")), *args]
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_env(gw, **env),
    )


def migrate(gw: GatewayProcess, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `vecgate migrate ARGS`."""
    return vecgate(gw, "migrate", *args, **kwargs)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must have succeeded."""
    assert result.returncode == 0, result.stderr
    return result.stdout


def reason(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single `vecgate: ...` line of a command that exited with `code`."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("vecgate: ")
    return line


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a command printed."""
    return json.loads(ok(result))


def load_v1(gw: GatewayProcess, name: str, corpus: Corpus, count: int | None = None) -> None:
    """Create `name` under minilm@1 and write the first `count` passages with their texts."""
    client = gw.client(V1)
    client.create_collection(name, vectors_config=models.VectorParams(size=384, distance="Cosine"))
    rows = range(count or len(corpus.ids))
    points = [
        models.PointStruct(
            id=corpus.ids[r],
            vector=corpus.v1[r].tolist(),
            payload={"text": corpus.texts[r], "row": r},
        )
        for r in rows
    ]
    client.upsert(name, points, wait=True)


def write_v2(gw: GatewayProcess, name: str, corpus: Corpus, rows: Sequence[int]) -> None:
    """Write v2 vectors for some passages directly, as a dual-writing application would."""
    points = [
        models.PointStruct(id=corpus.ids[r], vector=corpus.v2[r].tolist(), payload={"row": r})
        for r in rows
    ]
    gw.client(V2).upsert(name, points, wait=True)


def v2_ids(gw: GatewayProcess, name: str) -> set[int]:
    """Every point id of the minilm@2 version."""
    records, _ = gw.client(V2).scroll(name, limit=10_000, with_payload=False)
    return {int(r.id) for r in records}


def start(gw: GatewayProcess, name: str) -> None:
    """`migrate start NAME --to minilm@2` with the shape given on the command line."""
    ok(migrate(gw, "start", name, "--to", V2, "--dimension", "384", "--distance", "cosine"))


def logged(path: Path) -> list[str]:
    """Every text the embed module logged, in order."""
    if not path.exists():
        return []
    return [text for line in path.read_text().splitlines() for text in json.loads(line)]


# -- tests ------------------------------------------------------------------------------------


def test_start_status_backfill_reaches_full_coverage_with_the_same_ids_and_payloads(
    gw: GatewayProcess, corpus: Corpus, embedder: Path, name: str
) -> None:
    """start → status 0% → backfill → status 100%: every point re-embedded, same id and payload."""
    load_v1(gw, name, corpus)
    start(gw, name)
    before = as_json(migrate(gw, "status", name, "--json"))
    assert (before["state"], before["active"], before["target"]) == ("migrating", V1, V2)
    ledger = before["ledger"]
    assert (ledger["source_points"], ledger["covered"], ledger["missing"]) == ("1087", "0", "1087")
    assert ledger["percent"] == 0.0
    assert "0.0%" in ok(migrate(gw, "status", name))

    # The console script, run from the module's directory: cwd must be on the import path.
    script = Path(sys.executable).with_name("vecgate")
    program = [str(script)] if script.exists() else None
    args = ("backfill", name, "--embed", "embed_ft:embed", "--text-field", "text")
    done = migrate(gw, *args, "--batch-size", "100", cwd=embedder, program=program)
    assert "wrote 1,087 points under minilm@2" in ok(done)

    after = as_json(migrate(gw, "status", name, "--json"))["ledger"]
    assert (after["covered"], after["missing"], after["target_points"]) == ("1087", "0", "1087")
    assert after["percent"] == 100.0
    assert "100.0%" in ok(migrate(gw, "status", name))
    records = gw.client(V2).retrieve(name, corpus.ids, with_vectors=True, with_payload=True)
    assert len(records) == len(corpus.ids)
    for record in records:
        row = record.payload["row"]
        assert record.id == corpus.ids[row]
        assert record.payload == {
            "text": corpus.texts[row],
            "row": row,
            "embedding_model": "minilm",
            "embedding_version": "2",
        }
        np.testing.assert_allclose(record.vector, corpus.v2[row], rtol=0, atol=1e-6)


def test_backfill_killed_midway_resumes_without_rewriting_or_skipping_a_point(
    gw: GatewayProcess, corpus: Corpus, embedder: Path, name: str
) -> None:
    """After a SIGKILL a second backfill embeds exactly the points still missing, once each."""
    load_v1(gw, name, corpus)
    start(gw, name)
    first, second = embedder / "first.log", embedder / "second.log"
    args = ["backfill", name, "--embed", "embed_ft:embed", "--text-field", "text"]
    batch = 25
    written = _kill_midway(gw, name, [*args, "--batch-size", str(batch)], embedder, 8 * batch)
    assert 8 * batch <= len(written) < len(corpus.ids)

    ok(migrate(gw, *args, "--batch-size", str(batch), cwd=embedder, EMBED_LOG=str(second)))

    assert gw.client(V2).count(name).count == gw.client(V1).count(name).count == len(corpus.ids)
    found = gw.client(V2).retrieve(name, corpus.ids, with_payload=False)
    assert {int(r.id) for r in found} == set(corpus.ids)
    text_of = dict(zip(corpus.ids, corpus.texts, strict=True))
    upserted_first = {text_of[i] for i in written}
    embedded_first, embedded_second = logged(first), logged(second)
    assert len(embedded_first) == len(set(embedded_first))
    assert len(embedded_second) == len(set(embedded_second))
    assert upserted_first <= set(embedded_first)
    assert not upserted_first & set(embedded_second), "a point written by run 1 was re-embedded"
    assert set(embedded_second) == set(corpus.texts) - upserted_first
    # Only the batches in flight at the kill (one embedding, one being written) are redone.
    assert len(set(embedded_first) - upserted_first) <= 2 * batch


def _kill_midway(
    gw: GatewayProcess, name: str, args: list[str], cwd: Path, at_least: int
) -> set[int]:
    """Run a slow backfill (logging to first.log), SIGKILL it once `at_least` points are
    written, and return the v2 ids once no write is landing any more."""
    stderr = cwd / "slow.stderr"
    with stderr.open("w") as sink:
        slow = subprocess.Popen(
            [sys.executable, "-m", "proxy", "migrate", *args],
            cwd=cwd,
            env=_env(gw, EMBED_LOG=str(cwd / "first.log"), EMBED_SLEEP="0.1"),
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    v2 = gw.client(V2)
    try:
        deadline = time.monotonic() + 30
        while v2.count(name).count < at_least:
            assert slow.poll() is None, f"backfill ended too early: {stderr.read_text()}"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        slow.send_signal(signal.SIGKILL)
        assert slow.wait(10) == -signal.SIGKILL
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    ids = v2_ids(gw, name)
    while True:  # an upsert sent just before the kill may still land
        time.sleep(0.3)
        again = v2_ids(gw, name)
        if again == ids:
            return ids
        ids = again


def test_backfill_names_the_point_whose_payload_lacks_the_text_field(
    gw: GatewayProcess, corpus: Corpus, embedder: Path, name: str
) -> None:
    """A backlog point without the --text-field is a one-line failure naming the point."""
    load_v1(gw, name, corpus, count=3)
    gw.client(V1).overwrite_payload(name, {"title": "no text"}, points=[corpus.ids[1]])
    start(gw, name)
    args = ("backfill", name, "--embed", "embed_ft:embed", "--text-field", "text")
    line = reason(migrate(gw, *args, cwd=embedder), 1)
    assert f"point {corpus.ids[1]} has no payload field 'text'" in line


def test_backfill_keeps_uuid_point_ids(
    gw: GatewayProcess, corpus: Corpus, embedder: Path, name: str
) -> None:
    """Points with UUID ids are written under the same UUIDs in the target version."""
    ids = [str(uuid.UUID(int=row + 1)) for row in range(5)]
    client = gw.client(V1)
    client.create_collection(name, vectors_config=models.VectorParams(size=384, distance="Cosine"))
    points = [
        models.PointStruct(id=i, vector=corpus.v1[r].tolist(), payload={"text": corpus.texts[r]})
        for r, i in enumerate(ids)
    ]
    client.upsert(name, points, wait=True)
    start(gw, name)
    args = ("backfill", name, "--embed", "embed_ft:embed", "--text-field", "text")
    assert "wrote 5 points" in ok(migrate(gw, *args, "--batch-size", "2", cwd=embedder))
    records = gw.client(V2).retrieve(name, ids, with_vectors=True)
    assert sorted(str(r.id) for r in records) == sorted(ids)
    for record in records:
        row = ids.index(str(record.id))
        np.testing.assert_allclose(record.vector, corpus.v2[row], rtol=0, atol=1e-6)


def _golden_vectors(embeddings: dict[str, np.ndarray], path: Path, sign: float = 1.0) -> Path:
    """The 100 query pairs (v1, v2 vectors) labelled with their source passage, as JSON Lines."""
    lines = [
        json.dumps(
            {
                "source_vector": embeddings["query_minilm"][q].tolist(),
                "target_vector": (sign * embeddings["query_minilm_ft"][q]).tolist(),
                "relevant_ids": [int(embeddings["query_source_doc"][q])],
            }
        )
        for q in range(len(embeddings["query_ids"]))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _expected(embeddings: dict[str, np.ndarray], corpus: Corpus, k: int) -> dict[str, float]:
    """Exact top-k overlap and recall of both versions, computed here with numpy."""
    ids = np.array(corpus.ids)
    top1 = np.argsort(-(embeddings["query_minilm"] @ corpus.v1.T), axis=1)[:, :k]
    top2 = np.argsort(-(embeddings["query_minilm_ft"] @ corpus.v2.T), axis=1)[:, :k]
    labels = embeddings["query_source_doc"]
    return {
        "overlap": float(
            np.mean([len(set(a) & set(b)) / k for a, b in zip(top1, top2, strict=True)])
        ),
        "source_recall": float(
            np.mean([lab in ids[a] for lab, a in zip(labels, top1, strict=True)])
        ),
        "target_recall": float(
            np.mean([lab in ids[b] for lab, b in zip(labels, top2, strict=True)])
        ),
    }


def test_verify_reports_the_real_overlap_and_recall_from_vectors_or_texts(
    gw: GatewayProcess,
    corpus: Corpus,
    embedder: Path,
    embeddings: dict[str, np.ndarray],
    name: str,
) -> None:
    """verify sends each pair the right way round: the report matches numpy's exact top-10."""
    load_v1(gw, name, corpus)
    start(gw, name)
    write_v2(gw, name, corpus, range(len(corpus.ids)))
    golden = _golden_vectors(embeddings, embedder / "golden.jsonl")
    report = as_json(migrate(gw, "verify", name, "--golden", str(golden), "--json"))
    expected = _expected(embeddings, corpus, 10)
    assert (report["k"], report["queries"], report["labelled"], report["passed"]) == (
        10,
        100,
        100,
        True,
    )
    assert abs(report["overlap"] - expected["overlap"]) <= 0.0015  # one near-tie at rank 10
    assert report["source_recall"] == pytest.approx(expected["source_recall"])
    assert report["target_recall"] == pytest.approx(expected["target_recall"])

    queries = [json.loads(line) for line in (DATA / "queries.jsonl").read_text().splitlines()]
    by_qid = {q["qid"]: q for q in queries}
    texts = embedder / "golden_texts.jsonl"
    texts.write_text(
        "".join(
            json.dumps({"text": by_qid[int(q)]["text"], "relevant_ids": [int(doc)]}) + "\n"
            for q, doc in zip(embeddings["query_ids"], embeddings["query_source_doc"], strict=True)
        )
    )
    embeds = ("--embed-source", "embed_ft:query_v1", "--embed-target", "embed_ft:query_v2")
    shown = ok(migrate(gw, "verify", name, "--golden", str(texts), *embeds, cwd=embedder))
    assert f"{report['overlap']:.3f}" in shown
    assert "passed" in shown
    last = as_json(migrate(gw, "status", name, "--json"))["last_verify"]
    assert last["overlap"] == report["overlap"]
    assert last["labelled"] == 100


def test_verify_below_the_floor_exits_1_and_blocks_the_cutover(
    gw: GatewayProcess,
    corpus: Corpus,
    embedder: Path,
    embeddings: dict[str, np.ndarray],
    name: str,
) -> None:
    """A target that finds other neighbours fails verify (exit 1), and cut-over then refuses."""
    load_v1(gw, name, corpus)
    start(gw, name)
    write_v2(gw, name, corpus, range(len(corpus.ids)))
    golden = _golden_vectors(embeddings, embedder / "golden.jsonl", sign=-1.0)
    result = migrate(gw, "verify", name, "--golden", str(golden), "--json")
    line = reason(result, 1)
    assert "did not pass" in line
    assert json.loads(result.stdout)["passed"] is False
    assert "min_overlap" in reason(migrate(gw, "cutover", name, "--force"), 1)


def test_cutover_below_full_coverage_needs_force(
    gw: GatewayProcess, corpus: Corpus, name: str
) -> None:
    """Cut-over is refused (exit 1, the reason on stderr) until every point is covered or forced."""
    load_v1(gw, name, corpus, count=40)
    start(gw, name)
    write_v2(gw, name, corpus, range(30))
    line = reason(migrate(gw, "cutover", name), 1)
    assert "FAILED_PRECONDITION" in line
    assert "10 of 40 points" in line
    assert as_json(migrate(gw, "status", name, "--json"))["active"] == V1
    forced = as_json(migrate(gw, "cutover", name, "--force", "--json"))
    assert (forced["state"], forced["active"]) == ("cut_over", V2)


def _version_read_without_identity(gw: GatewayProcess, name: str, point: int) -> str:
    """The `embedding_version` tag of a point read with no identity (the active version)."""
    (record,) = gw.client().retrieve(name, [point])
    return str(record.payload["embedding_version"])


def test_cutover_rollback_cutover_retire_drop_and_the_history_in_order(
    gw: GatewayProcess, corpus: Corpus, name: str
) -> None:
    """The switches move reads without identity; retire stops v1 writes; drop needs --yes."""
    load_v1(gw, name, corpus, count=20)
    start(gw, name)
    write_v2(gw, name, corpus, range(20))
    point = corpus.ids[0]
    steps = [("cutover", V2, "2"), ("rollback", V1, "1"), ("cutover", V2, "2")]
    for step, active, tag in steps:
        view = as_json(migrate(gw, step, name, "--json"))
        assert view["active"] == active
        assert _version_read_without_identity(gw, name, point) == tag
    assert "retired" in ok(migrate(gw, "retire", name))
    rewrite = models.PointStruct(id=point, vector=corpus.v1[0].tolist())
    with pytest.raises(grpc.RpcError) as refused:
        gw.client(V1).upsert(name, [rewrite])
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "FAILED_PRECONDITION" in reason(migrate(gw, "rollback", name), 1)

    line = reason(migrate(gw, "drop", name), 2)
    assert f"{V1} of `{name}`" in line
    assert "20 points" in line
    assert "--yes" in line
    assert ok(migrate(gw, "drop", name, "--yes"))
    described = vecgate(gw, "collections", name, "--json")
    assert [v["identity"] for v in as_json(described)["versions"]] == [V2]

    events = as_json(migrate(gw, "history", name, "--json"))["events"]
    expected = ["start", "cutover", "rollback", "cutover", "retire", "drop"]
    assert [e["step"] for e in events] == expected
    assert {(e["collection"], e["by"]) for e in events} == {(name, "ops")}
    everything = as_json(migrate(gw, "history", "--json"))["events"]
    assert [e["step"] for e in everything if e["collection"] == name] == expected
    assert "rollback" in ok(migrate(gw, "history", name))


def test_unknown_migration_and_unreachable_gateway_exit_1_and_3(gw: GatewayProcess) -> None:
    """status of a collection without migration exits 1; an address nobody serves exits 3."""
    assert "NOT_FOUND" in reason(migrate(gw, "status", "no_such_collection"), 1)
    with_dead_target = migrate(gw, "status", "x", "--target", "127.0.0.1:1")
    assert "UNAVAILABLE" in reason(with_dead_target, 3)
