"""Model migrations end to end: admin RPCs plus unmodified qdrant-clients on a real `vecgate serve`.

Versions are told apart by the `embedding_version` tag vecgate puts on every point:
"1" for minilm@1 (the source), "2" for minilm@2 (the target).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.config import hash_key
from tests.conftest import BACKENDS, gateway_on
from tests.gatewayproc import GatewayProcess, running_gateway

V1, V2 = "minilm@1", "minilm@2"
ADMIN_KEY = "adm"
META = (("api-key", ADMIN_KEY),)
CONFIG = f"""
[[keys]]
name = "ops"
sha256 = "{hash_key(ADMIN_KEY)}"
role = "admin"
[migration]
min_overlap = 0.5  # the verify floor a cut-over needs
"""
NEW_IDS = list(range(100_000, 100_010))  # documents written under both versions mid-migration
TARGET_ONLY = 100_010  # written under the target only: no source point to cover
Embeddings = dict[str, np.ndarray]


@pytest.fixture(scope="module", params=BACKENDS)
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """One gateway for this module and backend, with the admin key `ops`."""
    with gateway_on(request.param, tmp_path_factory, CONFIG) as proc:
        yield proc


@pytest.fixture
def admin(gw: GatewayProcess) -> Iterator[admin_pb2_grpc.AdminStub]:
    """A raw stub of vecgate's admin API."""
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
        yield admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]


# -- helpers ----------------------------------------------------------------------------------


def _refused(call: Callable[[], Any]) -> grpc.RpcError:
    """Run `call` and return the gRPC error it must raise."""
    with pytest.raises(grpc.RpcError) as excinfo:
        call()
    return excinfo.value


def _code(error: grpc.RpcError) -> grpc.StatusCode:
    return error.code()


def _details(error: grpc.RpcError) -> str:
    return error.details() or ""


def _migration(admin: Any, name: str, ledger: bool = False) -> Any:
    return admin.GetMigration(
        admin_pb2.GetMigrationRequest(collection=name, ledger=ledger), metadata=META, timeout=30
    )


def _ledger(admin: Any, name: str) -> tuple[int, int, int, int]:
    """(source_points, covered, missing, target_points) as GetMigration counts them."""
    led = _migration(admin, name, ledger=True).ledger
    return (led.source_points, led.covered, led.missing, led.target_points)


def _start(admin: Any, name: str) -> Any:
    return admin.StartMigration(
        admin_pb2.StartMigrationRequest(collection=name, to=V2, dimension=384, distance="Cosine"),
        metadata=META,
        timeout=30,
    )


def _cutover(admin: Any, name: str, force: bool = False) -> Any:
    return admin.Cutover(
        admin_pb2.CutoverRequest(collection=name, force=force), metadata=META, timeout=30
    )


def _rollback(admin: Any, name: str) -> Any:
    return admin.Rollback(admin_pb2.RollbackRequest(collection=name), metadata=META, timeout=30)


def _golden(emb: Embeddings, target_key: str = "query_minilm_ft") -> list[Any]:
    """The 100 queries of the slice as golden queries, labelled with their source passage."""
    targets = emb[target_key]
    if targets.shape[1] != 384:  # the wrong model: mpnet truncated to 384 and renormalised
        targets = targets[:, :384] / np.linalg.norm(targets[:, :384], axis=1, keepdims=True)
    return [
        admin_pb2.GoldenQuery(
            source_vector=emb["query_minilm"][i].tolist(),
            target_vector=targets[i].tolist(),
            relevant_ids=[str(int(emb["query_source_doc"][i]))],
        )
        for i in range(len(targets))
    ]


def _verify(admin: Any, name: str, queries: list[Any]) -> Any:
    return admin.Verify(
        admin_pb2.VerifyRequest(collection=name, k=10, queries=queries), metadata=META, timeout=60
    )


def _create(client: QdrantClient, name: str) -> None:
    client.create_collection(
        name, vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE)
    )


def _upsert(client: QdrantClient, name: str, ids: list[int], vectors: np.ndarray) -> None:
    """Upsert `vectors[i]` as point `ids[i]` with payload {"doc": id}, 256 at a time."""
    for at in range(0, len(ids), 256):
        client.upsert(
            name,
            [
                models.PointStruct(id=pid, vector=vec.tolist(), payload={"doc": pid})
                for pid, vec in zip(ids[at : at + 256], vectors[at : at + 256], strict=True)
            ],
        )


def _versions(points: list[Any]) -> set[str]:
    """The `embedding_version` tags of a list of hits or records."""
    return {str(p.payload["embedding_version"]) for p in points}


def _search(client: QdrantClient, name: str, query: Any, limit: int = 10) -> list[Any]:
    return list(client.query_points(name, query=query, limit=limit, with_payload=True).points)


def _corpus_ids(emb: Embeddings) -> list[int]:
    return [int(i) for i in emb["corpus_ids"]]


# -- the whole path ---------------------------------------------------------------------------


def test_migration_whole_path_through_clients_and_admin_rpcs(
    gw: GatewayProcess, admin: Any, name: str, embeddings: Embeddings
) -> None:
    """Every migration step routes each identity and refuses out-of-order steps as specified."""
    emb = embeddings
    app1, app2, anon = gw.client(V1), gw.client(V2), gw.client()
    ids = _corpus_ids(emb)
    alias = f"{name}_live"
    _create(app1, name)
    _upsert(app1, name, ids, emb["corpus_minilm"])
    app1.update_collection_aliases(
        [
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=name, alias_name=alias)
            )
        ]
    )
    # Before the migration minilm@2 has no partition here: its writes are refused.
    error = _refused(lambda: _upsert(app2, name, [1], emb["corpus_minilm_ft"][:1]))
    assert _code(error) is grpc.StatusCode.FAILED_PRECONDITION

    # -- start
    view = _start(admin, name)
    assert (view.collection, view.source, view.target) == (name, V1, V2)
    assert (view.state, view.active) == ("migrating", V1)
    described = admin.DescribeCollection(
        admin_pb2.DescribeCollectionRequest(name=name), metadata=META, timeout=30
    )
    assert described.active == V1
    assert {v.identity for v in described.versions} == {V1, V2}
    assert _ledger(admin, name) == (len(ids), 0, len(ids), 0)

    # -- dual write: both identities write, each reads its own partition only
    _upsert(app1, name, NEW_IDS, emb["anchor_minilm"][: len(NEW_IDS)])
    _upsert(app2, name, NEW_IDS, emb["anchor_minilm_ft"][: len(NEW_IDS)])
    _upsert(app2, name, [TARGET_ONLY], emb["anchor_minilm_ft"][len(NEW_IDS) :][:1])
    n_source, n_target = len(ids) + len(NEW_IDS), len(NEW_IDS) + 1
    assert app1.count(name).count == n_source
    assert app2.count(name).count == n_target
    assert anon.count(name).count == n_source  # no identity: the active (source) version
    assert anon.count(alias).count == n_source
    hits1 = _search(app1, name, emb["query_minilm"][0].tolist(), limit=50)
    assert len(hits1) == 50
    assert _versions(hits1) == {"1"}
    hits2 = _search(app2, name, emb["anchor_minilm_ft"][0].tolist(), limit=100)
    assert {h.id for h in hits2} == {*NEW_IDS, TARGET_ONLY}
    assert _versions(hits2) == {"2"}
    anon_hits = _search(anon, name, NEW_IDS[0], limit=20)  # search by point id: no vector
    assert len(anon_hits) == 20
    assert _versions(anon_hits) == {"1"}
    records, _ = anon.scroll(name, limit=200, with_payload=True)
    assert _versions(records) == {"1"}
    before = _ledger(admin, name)
    assert before == (n_source, len(NEW_IDS), len(ids), n_target)
    assert _migration(admin, name, ledger=True).ledger.percent == pytest.approx(
        100 * len(NEW_IDS) / n_source, abs=0.01
    )

    # -- backfill, first half: stream the backlog and write the target vectors, same ids
    row_of = {pid: row for row, pid in enumerate(ids)}
    backlog_ids: list[int] = []
    cursor = ""

    def write_page(page: Any) -> None:
        page_ids = [int(p.id) for p in page.points]
        for point in page.points:
            payload = json.loads(point.payload_json)
            assert payload["doc"] == int(point.id)
            assert "embedding_version" not in payload
            assert "embedding_model" not in payload
        _upsert(app2, name, page_ids, emb["corpus_minilm_ft"][[row_of[i] for i in page_ids]])
        backlog_ids.extend(page_ids)

    stream = admin.StreamBacklog(
        admin_pb2.BacklogRequest(collection=name, page_size=100), metadata=META, timeout=60
    )
    for page in stream:
        assert 0 < len(page.points) <= 100
        write_page(page)
        cursor = page.cursor
        if len(backlog_ids) >= len(ids) // 2:
            break
    stream.cancel()
    done = len(backlog_ids)
    assert cursor
    assert len(set(backlog_ids)) == done
    assert set(backlog_ids) <= set(ids)  # only source points without a target vector
    midway = _ledger(admin, name)
    assert midway == (n_source, len(NEW_IDS) + done, len(ids) - done, n_target + done)

    # Below full coverage a cut-over is refused unless forced; nothing changes.
    error = _refused(lambda: _cutover(admin, name))
    assert _code(error) is grpc.StatusCode.FAILED_PRECONDITION
    assert "force" in _details(error).lower()
    view = _migration(admin, name)
    assert (view.state, view.active) == ("migrating", V1)
    assert anon.count(name).count == n_source

    # -- backfill, second half: resume after the cursor of the last page handled
    for page in admin.StreamBacklog(
        admin_pb2.BacklogRequest(collection=name, page_size=100, cursor=cursor),
        metadata=META,
        timeout=60,
    ):
        write_page(page)
    assert len(backlog_ids) == len(set(backlog_ids))
    assert set(backlog_ids) == set(ids)
    pages = list(
        admin.StreamBacklog(admin_pb2.BacklogRequest(collection=name), metadata=META, timeout=60)
    )
    assert [p.id for page in pages for p in page.points] == []
    after = _migration(admin, name, ledger=True).ledger
    assert (after.source_points, after.covered, after.missing, after.target_points) == (
        n_source,
        n_source,
        0,
        n_source + 1,
    )
    assert after.percent == 100.0
    assert after.rate_per_second > 0
    assert after.eta_seconds == 0

    # -- verify
    report = _verify(admin, name, _golden(emb))
    assert (report.k, report.queries, report.labelled) == (10, 100, 100)
    assert 0.5 < report.overlap <= 1.0
    assert report.source_recall > 0.8
    assert report.target_recall > 0.8
    assert report.passed
    assert _migration(admin, name).last_verify.overlap == pytest.approx(report.overlap)

    # -- cut-over: no identity now reads the target; both identities keep their own partition
    view = _cutover(admin, name)
    assert (view.state, view.active, view.source, view.target) == ("cut_over", V2, V1, V2)
    n_target = n_source + 1

    def routes(active: str) -> None:
        version = active[-1]
        assert anon.count(name).count == (n_target if active == V2 else n_source)
        assert anon.count(alias).count == (n_target if active == V2 else n_source)
        assert _versions(_search(anon, name, NEW_IDS[0], limit=20)) == {version}
        assert app1.count(name).count == n_source
        assert app2.count(name).count == n_target
        assert _versions(_search(app1, name, emb["query_minilm"][1].tolist(), limit=30)) == {"1"}
        assert _versions(_search(app2, name, emb["query_minilm_ft"][1].tolist(), limit=30)) == {"2"}
        described = admin.DescribeCollection(
            admin_pb2.DescribeCollectionRequest(name=name), metadata=META, timeout=30
        )
        assert described.active == active

    routes(V2)
    # The source still takes writes until it is retired (an app dual-writes both versions).
    _upsert(app1, name, [100_020], emb["anchor_minilm"][20:21])
    _upsert(app2, name, [100_020], emb["anchor_minilm_ft"][20:21])
    n_source, n_target = n_source + 1, n_target + 1
    routes(V2)

    # -- rollback, then cut over again
    view = _rollback(admin, name)
    assert (view.state, view.active) == ("rolled_back", V1)
    routes(V1)
    view = _cutover(admin, name)
    assert (view.state, view.active) == ("cut_over", V2)
    routes(V2)

    # -- retire: the source is read-only, still readable; rollback is over
    view = admin.Retire(admin_pb2.RetireRequest(collection=name), metadata=META, timeout=30)
    assert (view.state, view.active) == ("retired", V2)
    error = _refused(lambda: _upsert(app1, name, [100_030], emb["anchor_minilm"][30:31]))
    assert _code(error) is grpc.StatusCode.FAILED_PRECONDITION
    assert "retired" in _details(error)
    error = _refused(lambda: app1.delete(name, points_selector=[NEW_IDS[0]]))
    assert _code(error) is grpc.StatusCode.FAILED_PRECONDITION
    assert "retired" in _details(error)
    routes(V2)  # reads under the source still work, and nothing was written
    _upsert(app2, name, [100_030], emb["anchor_minilm_ft"][30:31])  # the target still writes
    n_target += 1
    assert app2.count(name).count == n_target
    error = _refused(lambda: _rollback(admin, name))
    assert _code(error) is grpc.StatusCode.FAILED_PRECONDITION
    assert _migration(admin, name).active == V2

    # -- drop: refused without confirm; then the source identity names what is held
    error = _refused(
        lambda: admin.DropVersion(
            admin_pb2.DropVersionRequest(collection=name), metadata=META, timeout=30
        )
    )
    assert _code(error) in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)
    assert "confirm" in _details(error)
    assert app1.count(name).count == n_source
    view = admin.DropVersion(
        admin_pb2.DropVersionRequest(collection=name, confirm=True), metadata=META, timeout=30
    )
    assert (view.state, view.active) == ("dropped", V2)
    for call in (
        lambda: _search(app1, name, emb["query_minilm"][2].tolist()),
        lambda: app1.count(name),
    ):
        error = _refused(call)
        assert _code(error) is grpc.StatusCode.FAILED_PRECONDITION
        assert V1 in _details(error)
        assert f"{V2} (active)" in _details(error)
    assert app2.count(name).count == n_target
    assert anon.count(name).count == n_target
    assert anon.count(alias).count == n_target
    described = admin.DescribeCollection(
        admin_pb2.DescribeCollectionRequest(name=name), metadata=META, timeout=30
    )
    assert [v.identity for v in described.versions] == [V2]

    history = admin.MigrationHistory(
        admin_pb2.MigrationHistoryRequest(collection=name), metadata=META, timeout=30
    )
    assert [e.step for e in history.events] == [
        "start",
        "verify",
        "cutover",
        "rollback",
        "cutover",
        "retire",
        "drop",
    ]
    assert {(e.collection, e.by) for e in history.events} == {(name, "ops")}


def test_cutover_below_full_coverage_needs_force(
    gw: GatewayProcess, admin: Any, name: str, embeddings: Embeddings
) -> None:
    """A cut-over at half coverage is refused, and forced it switches the active version."""
    app1, app2, anon = gw.client(V1), gw.client(V2), gw.client()
    _create(app1, name)
    _upsert(app1, name, list(range(40)), embeddings["corpus_minilm"][:40])
    _start(admin, name)
    _upsert(app2, name, list(range(20)), embeddings["corpus_minilm_ft"][:20])
    assert _ledger(admin, name) == (40, 20, 20, 20)
    error = _refused(lambda: _cutover(admin, name))
    assert _code(error) is grpc.StatusCode.FAILED_PRECONDITION
    assert (_migration(admin, name).active, anon.count(name).count) == (V1, 40)
    view = _cutover(admin, name, force=True)
    assert (view.state, view.active) == ("cut_over", V2)
    assert anon.count(name).count == 20
    assert _versions(_search(anon, name, 3, limit=15)) == {"2"}


# -- zero downtime ----------------------------------------------------------------------------


@dataclass
class Answer:
    """One search issued during the switches: when, by whom, and the versions it returned."""

    who: str
    start: float
    end: float
    versions: frozenset[str]
    hits: int


def test_switches_under_concurrent_searches_lose_nothing(
    gw: GatewayProcess, admin: Any, name: str, embeddings: Embeddings
) -> None:
    """Switching the active version under concurrent searches fails none and mixes none."""
    emb = embeddings
    ids = _corpus_ids(emb)
    app1, app2 = gw.client(V1), gw.client(V2)
    _create(app1, name)
    _upsert(app1, name, ids, emb["corpus_minilm"])
    _start(admin, name)
    _upsert(app2, name, ids, emb["corpus_minilm_ft"])
    assert _ledger(admin, name) == (len(ids), len(ids), 0, len(ids))
    assert _verify(admin, name, _golden(emb)).passed

    stop = threading.Event()
    answers: list[Answer] = []
    errors: list[str] = []

    def searcher(who: str, identity: str | None, queries: list[Any]) -> None:
        client = gw.client(identity)
        i = 0
        while not stop.is_set():
            query = queries[i % len(queries)]
            i += 1
            start = time.monotonic()
            try:
                hits = _search(client, name, query)
            except Exception as exc:  # every failure is a finding, whatever its type
                errors.append(f"{who}: {exc!r}")
                continue
            answers.append(
                Answer(who, start, time.monotonic(), frozenset(_versions(hits)), len(hits))
            )
        client.close()

    threads = [
        threading.Thread(target=searcher, args=("v1", V1, emb["query_minilm"].tolist())),
        threading.Thread(target=searcher, args=("v2", V2, emb["query_minilm_ft"].tolist())),
        threading.Thread(target=searcher, args=("none", None, ids[::7])),
    ]
    for thread in threads:
        thread.start()

    def wait_for(total: int, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while len(answers) + len(errors) < total and time.monotonic() < deadline:
            time.sleep(0.02)

    switches: list[tuple[float, float, str]] = []  # (start, end, active afterwards)
    try:
        for step, (call, active) in enumerate(
            [(_cutover, V2), (_rollback, V1), (_cutover, V2)], start=1
        ):
            wait_for(400 * step)
            start = time.monotonic()
            view = call(admin, name)
            switches.append((start, time.monotonic(), active))
            assert view.active == active
        wait_for(2_000)
        wait_for(len(answers) + 150)  # some searches after the last switch too
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    assert errors == []
    assert len(answers) >= 2_000
    assert all(a.hits == 10 for a in answers)
    assert all(len(a.versions) == 1 for a in answers), "an answer mixed two versions"
    by_who = {who: [a for a in answers if a.who == who] for who in ("v1", "v2", "none")}
    assert {v for a in by_who["v1"] for v in a.versions} == {"1"}
    assert {v for a in by_who["v2"] for v in a.versions} == {"2"}
    anonymous = sorted(by_who["none"], key=lambda a: a.start)
    assert {v for a in anonymous for v in a.versions} == {"1", "2"}
    # A search that ran wholly between two switches saw the version made active by the first.
    bounds = [(-1.0, switches[0][0], "1")]
    bounds += [
        (switches[i][1], switches[i + 1][0] if i + 1 < len(switches) else float("inf"), active[-1])
        for i, (_, _, active) in enumerate(switches)
    ]
    for lo, hi, version in bounds:
        inside = [a for a in anonymous if a.start >= lo and a.end <= hi]
        assert inside, "no search ran between two switches: nothing was checked"
        assert {v for a in inside for v in a.versions} == {version}
    flips = sum(1 for a, b in itertools.pairwise(anonymous) if a.versions != b.versions)
    assert flips <= len(switches)


# -- real vectors -----------------------------------------------------------------------------


def _expected_overlap(emb: Embeddings, target_queries: np.ndarray, k: int = 10) -> float:
    """Mean top-k overlap of exact cosine search in the two corpora, computed here."""
    source = np.argsort(-(emb["query_minilm"] @ emb["corpus_minilm"].T), axis=1)[:, :k]
    target = np.argsort(-(target_queries @ emb["corpus_minilm_ft"].T), axis=1)[:, :k]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(source, target, strict=True)]))


def test_verify_measures_real_overlap_and_catches_the_wrong_model(
    gw: GatewayProcess, admin: Any, name: str, embeddings: Embeddings
) -> None:
    """Verify reports the real overlap of two MiniLM versions and near zero for a wrong model."""
    emb = embeddings
    ids = _corpus_ids(emb)
    app1, app2 = gw.client(V1), gw.client(V2)
    _create(app1, name)
    _upsert(app1, name, ids, emb["corpus_minilm"])
    _start(admin, name)
    _upsert(app2, name, ids, emb["corpus_minilm_ft"])

    good = _verify(admin, name, _golden(emb))
    assert (good.k, good.queries, good.labelled) == (10, 100, 100)
    assert good.overlap > 0.5
    assert good.overlap == pytest.approx(_expected_overlap(emb, emb["query_minilm_ft"]), abs=0.02)
    assert good.source_recall > 0.8
    assert good.target_recall > 0.8
    assert good.passed

    wrong = _golden(emb, "query_mpnet")
    mpnet = np.array([list(q.target_vector) for q in wrong], dtype=np.float32)
    bad = _verify(admin, name, wrong)
    assert bad.overlap < 0.1
    assert bad.overlap == pytest.approx(_expected_overlap(emb, mpnet), abs=0.02)
    assert bad.source_recall > 0.8
    assert bad.target_recall < 0.2
    assert not bad.passed
    assert _migration(admin, name).last_verify.overlap == pytest.approx(bad.overlap)
    # Full coverage, but the last verify is below the floor: the cut-over is refused.
    assert _ledger(admin, name) == (len(ids), len(ids), 0, len(ids))
    error = _refused(lambda: _cutover(admin, name))
    assert _code(error) is grpc.StatusCode.FAILED_PRECONDITION
    assert _migration(admin, name).active == V1


_CONFIG_FOR_RACE = f'[[keys]]\nname = "ops"\nsha256 = "{hash_key("race-adm")}"\nrole = "admin"\n'
_RACE_META = (("api-key", "race-adm"),)


def _race_admin(gw: GatewayProcess) -> Any:
    channel = grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}")
    return admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]


def test_backfill_never_overwrites_a_newer_target_point(tmp_path):
    """A point written under the target during the backfill is kept: backfill writes insert-only."""
    from proxy.migrate_backfill import run_backfill

    with running_gateway(tmp_path / "data", _CONFIG_FOR_RACE) as gw:
        v1, v2 = gw.client("minilm@1"), gw.client("minilm@2")
        v1.create_collection("docs", vectors_config=models.VectorParams(size=4, distance="Cosine"))
        v1.upsert(
            "docs",
            [
                models.PointStruct(id=i, vector=[1.0, i, 0, 0], payload={"text": f"t{i}"})
                for i in range(20)
            ],
        )
        admin = _race_admin(gw)
        start = admin_pb2.StartMigrationRequest(
            collection="docs", to="minilm@2", dimension=4, distance="Cosine"
        )
        admin.StartMigration(start, metadata=_RACE_META, timeout=30)
        fresh = [0.0, 0.0, 1.0, 0.0]

        def embed(texts: list[str]) -> list[list[float]]:
            # The application writes point 5 under v2 while the backfill is running.
            v2.upsert("docs", [models.PointStruct(id=5, vector=fresh, payload={"text": "newer"})])
            return [[0.0, 1.0, 0.0, 0.0] for _ in texts]

        run_backfill(f"127.0.0.1:{gw.grpc_port}", "race-adm", "docs", embed, "text", batch_size=50)
        (kept,) = v2.retrieve("docs", [5], with_payload=True, with_vectors=True)
        assert kept.payload["text"] == "newer"
        np.testing.assert_allclose(kept.vector, fresh, atol=1e-6)
        assert v2.count("docs").count == 20


def test_deleting_a_collection_ends_its_migration(tmp_path):
    """A collection deleted mid-migration and created again can start a new migration."""
    with running_gateway(tmp_path / "data", _CONFIG_FOR_RACE) as gw:
        admin = _race_admin(gw)
        start = admin_pb2.StartMigrationRequest(
            collection="docs", to="minilm@2", dimension=4, distance="Cosine"
        )
        for _ in range(2):
            gw.client("minilm@1").create_collection(
                "docs", vectors_config=models.VectorParams(size=4, distance="Cosine")
            )
            view = admin.StartMigration(start, metadata=_RACE_META, timeout=30)
            assert view.state == "migrating"
            with pytest.raises(grpc.RpcError) as excinfo:  # a live migration is not restarted
                admin.StartMigration(start, metadata=_RACE_META, timeout=30)
            assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert gw.client().delete_collection("docs")
        history = admin.MigrationHistory(
            admin_pb2.MigrationHistoryRequest(collection="docs"), metadata=_RACE_META, timeout=30
        )
        assert [e.step for e in history.events] == ["start", "start"]
