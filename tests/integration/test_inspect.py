"""`vecgate inspect` against a real gateway during a real workload (tracing export off)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import grpc
import pytest
from qdrant_client import models

from tests.gatewayproc import ROOT, GatewayProcess
from tests.integration.test_cli import admin_cmd, one_line_reason

ADMIN = "inspect-admin"
QUERY = [1.0, 0.0, 0.5, 0.0]
CLIENT_TRACE = "5c0ffee0000000000000000000c0ffee"


@pytest.fixture
def gw(tmp_path):
    proc = GatewayProcess(tmp_path / "data", None, "--admin-key", ADMIN).start()
    app = proc.client("emb@1")
    app.create_collection("docs", vectors_config=models.VectorParams(size=4, distance="Cosine"))
    app.create_collection("other", vectors_config=models.VectorParams(size=4, distance="Cosine"))
    yield proc
    proc.stop()


def inspect(gw: GatewayProcess, *args: str, key: str | None = ADMIN):
    """`vecgate inspect ARGS` aimed at `gw` with the admin key (None: no key)."""
    return admin_cmd(gw, "inspect", *args, key=key)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_workload(gw: GatewayProcess, rounds: int) -> list[tuple[str, str, str]]:
    """Three clients at once, routed and refused requests mixed; the refusals they got."""
    refusals: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def refused(call, identity: str) -> None:
        try:
            call()
        except grpc.RpcError as error:
            with lock:
                refusals.append((error.code().name, error.details(), identity))
        else:
            raise AssertionError("expected a refusal")

    def writer() -> None:
        app = gw.client("emb@1")
        for i in range(rounds):
            app.upsert("docs", [models.PointStruct(id=i, vector=[1.0, i, 0.5, 0.0])])
            app.query_points("docs", query=QUERY, limit=2)
            refused(lambda: app.query_points("docs", query=[1.0, 0.0], limit=2), "emb@1")

    def stranger() -> None:
        app = gw.client("emb@2")
        for _ in range(rounds):
            refused(lambda: app.query_points("docs", query=QUERY, limit=2), "emb@2")

    def anonymous() -> None:
        app = gw.client()
        for _ in range(rounds):
            app.count("docs")
            refused(lambda: app.query_points("other", query=QUERY, limit=2), "")

    threads = [threading.Thread(target=t) for t in (writer, stranger, anonymous)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return refusals


def test_inspect_refused_json_shows_exactly_the_refusals_of_a_live_workload(gw):
    """`inspect --follow --refused --json`, started before the workload, and `inspect
    --refused --json` after it show exactly the refused requests, with the status and the
    message each client received; routed requests never appear."""
    follower = subprocess.Popen(
        [
            *(sys.executable, "-m", "proxy", "inspect", "--follow", "--refused", "--json"),
            *("--target", f"127.0.0.1:{gw.grpc_port}", "--admin-key", ADMIN),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(follower.stdout), daemon=True)
    reader.start()
    try:
        refusals = run_workload(gw, rounds=8)
        assert len(refusals) == 24
        deadline = time.monotonic() + 15
        while len(lines) < len(refusals) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # nothing more may arrive
    finally:
        follower.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            follower.wait(20)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
            reader.join(5)
            errors = follower.stderr.read()
            follower.stdout.close()
            follower.stderr.close()
    assert follower.returncode == 0, errors
    assert errors == ""
    followed = json_lines("".join(lines))

    def seen(records: list[dict]) -> Counter:
        return Counter((r["status"], r["message"], r["identity"]) for r in records)

    assert seen(followed) == Counter(refusals)
    assert {r["decision"] for r in followed} == {"refused"}
    assert Counter(r["reason"] for r in followed) == {
        "wrong_dimension": 8,
        "cross_version": 8,
        "missing_identity": 8,
    }
    assert all("vector" not in key or key == "vectors" for r in followed for key in r)

    after = inspect(gw, "--refused", "--json")
    assert after.returncode == 0, after.stderr
    assert seen(json_lines(after.stdout)) == Counter(refusals)


def test_inspect_filters_trace_and_table(gw):
    """--model and --collection narrow the records; --trace shows one request in full under
    the client's own trace id (export off); the table for people shows the decisions."""
    app = gw.client("emb@1", headers={"traceparent": f"00-{CLIENT_TRACE}-00f067aa0ba902b7-01"})
    app.upsert("docs", [models.PointStruct(id=1, vector=[1.0, 0.0, 0.5, 0.0])])
    gw.client("emb@1").query_points("other", query=QUERY, limit=1)
    with pytest.raises(grpc.RpcError) as excinfo:
        gw.client("emb@2").query_points("docs", query=QUERY, limit=1)

    by_model = json_lines(inspect(gw, "--model", "emb@2", "--json").stdout)
    assert [(r["method"], r["decision"]) for r in by_model] == [("Points/Query", "refused")]
    by_collection = json_lines(inspect(gw, "--collection", "other", "--json").stdout)
    assert {r["method"] for r in by_collection} == {"Collections/Create", "Points/Query"}
    assert all(r["collection"] == "other" for r in by_collection)

    full = inspect(gw, "--trace", CLIENT_TRACE, "--json")
    assert full.returncode == 0, full.stderr
    (record,) = json_lines(full.stdout)
    assert (record["method"], record["decision"], record["points"]) == (
        "Points/Upsert",
        "routed",
        1,
    )
    assert record["partition"].startswith("vg__docs__emb-1")
    assert (record["vectors"], record["dimension"], record["sampled"]) == (1, 4, False)
    human = inspect(gw, "--trace", CLIENT_TRACE[:10])
    assert human.returncode == 0, human.stderr
    assert record["partition"] in human.stdout
    assert record["span_id"] in human.stdout

    table = inspect(gw, "--limit", "3")
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if "Points/" in line]
    assert len(rows) == 3  # --limit 3: the last three requests
    assert "routed" in rows[1]
    assert "refused:" in rows[2]
    assert "cross_version" in "".join(table.stdout.split())  # may fold in 80 columns
    assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    missing = inspect(gw, "--trace", "f" * 32)
    assert missing.returncode == 1
    assert "no request with trace id" in one_line_reason(missing)
    no_key = inspect(gw, key=None)
    assert no_key.returncode == 1
    assert one_line_reason(no_key).startswith("vecgate: UNAUTHENTICATED: ")


def test_a_request_is_recorded_before_its_client_can_look(gw):
    """The record, log line and counters are written just after the response is sent
    (decision 48). Whatever a client does after reading a response arrives later on the
    gateway's event loop, so it finds that request recorded: 40 times in a row, each
    search is in the inspection ring by its own trace id the moment its answer is back."""
    from proxy.admin.generated import admin_pb2, admin_pb2_grpc

    app = gw.client("emb@1")
    app.upsert("docs", [models.PointStruct(id=1, vector=[1.0, 0.0, 0.5, 0.0])])
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
        admin = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
        for n in range(40):
            trace = f"{n + 1:032x}"
            traced = gw.client("emb@1", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
            traced.query_points("docs", query=QUERY, limit=1)
            found = list(
                admin.InspectRequests(
                    admin_pb2.InspectRequest(trace_id=trace),
                    metadata=(("api-key", ADMIN),),
                    timeout=10,
                )
            )
            assert [(r.method, r.decision, r.trace_id) for r in found] == [
                ("Points/Query", "routed", trace)
            ], f"search {n} was not recorded when its answer arrived"
