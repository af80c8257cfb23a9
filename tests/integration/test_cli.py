"""The `vecgate` command line against a real `vecgate serve`: exit codes, JSON and refusals."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from qdrant_client import models

from proxy.admin.generated import admin_pb2
from proxy.config import hash_key
from tests.gatewayproc import ROOT, GatewayProcess

ADMIN, QUICK, WRITER, UNBOUND = "adm", "quick-start", "w-secret", "u-secret"
CONFIG = f"""
[server]
allow_anonymous = true  # anonymous callers are part of what these tests explain
[[keys]]
name = "ops"
sha256 = "{hash_key(ADMIN)}"
role = "admin"
[[keys]]
name = "indexer"
sha256 = "{hash_key(WRITER)}"
identity = "emb@1"
[[keys]]
name = "unbound"
sha256 = "{hash_key(UNBOUND)}"
"""
QUERY = [1.0, 0.0, 0.5, 0.0]


def vecgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m proxy ARGS` as a user would, without any VECGATE_* variable of ours."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, **(env or {})},
    )


def admin_cmd(
    gw: GatewayProcess, *args: str, key: str | None = ADMIN
) -> subprocess.CompletedProcess[str]:
    """A client command aimed at `gw`, with `key` as the admin key (None: no key)."""
    target = ["--target", f"127.0.0.1:{gw.grpc_port}"]
    return vecgate(*args, *target, *(["--admin-key", key] if key else []))


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a command printed on stdout."""
    return json.loads(result.stdout)


def queries(gw: GatewayProcess) -> list[dict[str, Any]]:
    """The Points/Query records of the gateway's request log so far."""
    return [r for r in gw.requests() if r["method"] == "Points/Query"]


def next_query(gw: GatewayProcess, seen: int) -> dict[str, Any]:
    """The first Points/Query record after the `seen` earlier ones (stderr lags a little)."""
    deadline = time.monotonic() + 5
    while len(records := queries(gw)) <= seen:
        assert time.monotonic() < deadline, "no new Points/Query record in the request log"
        time.sleep(0.05)
    return records[seen]


def one_line_reason(result: subprocess.CompletedProcess[str]) -> str:
    """The single `vecgate: ...` line a failed command writes on stderr, never a traceback."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vecgate: ")
    return lines[0]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory):
    """One gateway with an admin, a bound and an unbound key; `docs` holds emb@1 and emb@2."""
    proc = GatewayProcess(
        tmp_path_factory.mktemp("cli") / "data", CONFIG, "--admin-key", QUICK
    ).start()
    params = models.VectorParams(size=4, distance="Cosine")
    for identity, count in (("emb@1", 3), ("emb@2", 2)):
        client = proc.client(identity)
        client.create_collection("docs", vectors_config=params)
        client.upsert(
            "docs", [models.PointStruct(id=i, vector=[1.0, i, 0.5, 0.0]) for i in range(count)]
        )
    yield proc
    proc.stop()


def test_collections_json_lists_every_version_with_counts_and_the_active_one(gw):
    """`collections --json` shows both versions of `docs`: dimension, points, active state."""
    result = admin_cmd(gw, "collections", "--json")
    assert result.returncode == 0, result.stderr
    (docs,) = [c for c in as_json(result)["collections"] if c["name"] == "docs"]
    assert docs["active"] == "emb@1"
    versions = {v["identity"]: v for v in docs["versions"]}
    assert set(versions) == {"emb@1", "emb@2"}
    for identity, points, state in (("emb@1", 3, "active"), ("emb@2", 2, "inactive")):
        version = versions[identity]
        assert int(version["points"]) == points  # uint64: a string in proto3 JSON
        assert version["state"] == state
        assert version["vectors"][0]["dimension"] == 4
        assert version["vectors"][0]["distance"] == "Cosine"
        assert version["partition"].startswith("vg__docs__")
    described = admin_cmd(gw, "collections", "docs", "--json")
    assert described.returncode == 0, described.stderr
    assert as_json(described) == docs


def test_collections_table_marks_the_active_version(gw):
    """The table for people has one row per version and marks the active one."""
    result = admin_cmd(gw, "collections", "docs")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "emb@" in line and "│" in line]
    assert len(rows) == 2
    assert "active" in next(r for r in rows if "emb@1" in r)
    assert "inactive" in next(r for r in rows if "emb@2" in r)


def test_describe_missing_collection_exits_1_with_not_found(gw):
    """A gRPC error status from vecgate (NOT_FOUND) exits 1 with a one-line reason."""
    result = admin_cmd(gw, "collections", "no_such_collection")
    assert result.returncode == 1
    assert one_line_reason(result).startswith("vecgate: NOT_FOUND: ")


def test_explain_routed_names_the_partition_a_real_request_reaches(gw):
    """A routed explain exits 0 and names the partition the same real query then reaches."""
    result = admin_cmd(gw, "explain", "--collection", "docs", "--model", "emb@2", "--json")
    assert result.returncode == 0, result.stderr
    reply = as_json(result)
    assert (reply["allowed"], reply["status"], reply["version"]) == (True, "OK", "emb@2")
    assert reply["identity_source"] == "header"
    seen = len(queries(gw))
    gw.client("emb@2").query_points("docs", query=QUERY, limit=1)
    assert next_query(gw, seen)["partition"] == reply["partition"]


@pytest.mark.parametrize(
    ("caller", "headers", "status"),
    [
        (["--model", "emb@3"], {"x-embedding-model": "emb@3"}, "FAILED_PRECONDITION"),
        (["--model", "emb@latest"], {"x-embedding-model": "emb@latest"}, "INVALID_ARGUMENT"),
        (["--api-key", "not-a-key"], {"api-key": "not-a-key"}, "UNAUTHENTICATED"),
        (["--api-key", UNBOUND], {"api-key": UNBOUND}, "FAILED_PRECONDITION"),
    ],
    ids=["cross-version", "latest", "unknown-key", "unbound-key"],
)
def test_explain_refusal_is_word_for_word_what_the_request_gets(gw, caller, headers, status):
    """A refused explain exits 1 and its message equals the real request's error details."""
    result = admin_cmd(gw, "explain", "--collection", "docs", *caller, "--op", "search", "--json")
    assert result.returncode == 1, result.stderr
    reply = as_json(result)
    assert (reply["allowed"], reply["status"]) == (False, status)
    with pytest.raises(grpc.RpcError) as excinfo:
        gw.client(headers=headers).query_points("docs", query=QUERY, limit=1)
    assert excinfo.value.code().name == status
    assert reply["message"] == excinfo.value.details()
    assert one_line_reason(result) == " ".join(f"vecgate: {status}: {reply['message']}".split())
    human = admin_cmd(gw, "explain", "--collection", "docs", *caller)
    assert human.returncode == 1
    assert f"{status}: {reply['message']}" in human.stdout


@pytest.mark.parametrize(
    ("key", "status"), [(None, "UNAUTHENTICATED"), (WRITER, "PERMISSION_DENIED")]
)
def test_admin_commands_refuse_without_an_admin_key(gw, key, status):
    """No key exits 1 with UNAUTHENTICATED; a writer key exits 1 with PERMISSION_DENIED."""
    for command in (["status"], ["keys", "--json"]):
        result = admin_cmd(gw, *command, key=key)
        assert result.returncode == 1
        assert one_line_reason(result).startswith(f"vecgate: {status}: ")
        assert result.stdout == ""


def test_quick_start_admin_key_from_serve_and_the_environment(gw):
    """`serve --admin-key` accepts that key, and the client reads VECGATE_ADMIN_KEY."""
    target = f"127.0.0.1:{gw.grpc_port}"
    result = vecgate("keys", "--json", env={"VECGATE_ADMIN_KEY": QUICK, "VECGATE_TARGET": target})
    assert result.returncode == 0, result.stderr
    keys = {k["name"]: k for k in as_json(result)["keys"]}
    assert keys["admin"]["role"] == "admin"
    assert keys["indexer"]["identity"] == "emb@1"
    assert keys["ops"]["fingerprint"] == hash_key(ADMIN)[:8]
    assert QUICK not in result.stdout
    assert hash_key(QUICK) not in result.stdout


def test_status_json_reports_counts(gw):
    """`status --json` prints every StatusReply field with the gateway's counts."""
    result = admin_cmd(gw, "status", "--json")
    assert result.returncode == 0, result.stderr
    status = as_json(result)
    assert (status["collections"], status["partitions"], status["keys"]) == (1, 2, 4)
    assert status["backend"] == "embedded"
    assert set(status) == set(admin_pb2.StatusReply.DESCRIPTOR.fields_by_name)


def test_models_register_then_list_shows_the_model(gw):
    """A model registered with `models register` is listed by `models --json`."""
    sunset = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
    registered = admin_cmd(
        gw, "models", "register", "clip@3", "--dimension", "8", "--distance", "Dot",
        "--sunset", sunset, "--notes", "from the CLI test", "--json",
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    view = as_json(registered)
    assert (view["name"], view["version"], view["dimension"]) == ("clip", "3", 8)
    assert (view["distance"], view["sunset"], view["source"]) == ("Dot", sunset, "registered")
    listed = admin_cmd(gw, "models", "--json")
    assert listed.returncode == 0, listed.stderr
    (model,) = [m for m in as_json(listed)["models"] if m["name"] == "clip"]
    assert model["notes"] == "from the CLI test"
    assert model["deprecation"] == "near"
    assert 9 <= model["days_to_sunset"] <= 11
    again = admin_cmd(gw, "models", "register", "clip@3", "--dimension", "8", "--distance", "Dot")
    assert again.returncode == 1
    assert one_line_reason(again).startswith("vecgate: ALREADY_EXISTS: ")
    updated = admin_cmd(gw, "models", "update", "clip@3", "--notes", "changed", "--json")
    assert updated.returncode == 0, updated.stderr
    assert as_json(updated)["notes"] == "changed"


def test_usage_errors_exit_2():
    """Bad flags are usage errors (exit 2), caught before any call is made."""
    both = vecgate("explain", "--collection", "docs", "--model", "a@1", "--api-key", "k")
    assert both.returncode == 2
    assert "not both" in both.stderr
    bad_date = vecgate("models", "register", "a@1", "--dimension", "3", "--distance", "Cosine",
                       "--sunset", "2024-13-01")  # fmt: skip
    assert bad_date.returncode == 2
    assert "YYYY-MM-DD" in bad_date.stderr


def test_status_against_a_closed_port_exits_3():
    """A target where nothing listens exits 3 with UNAVAILABLE, not a traceback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = vecgate("status", "--target", f"127.0.0.1:{port}", "--timeout", "3")
    assert result.returncode == 3
    reason = one_line_reason(result)
    assert reason.startswith("vecgate: UNAVAILABLE: cannot reach vecgate at 127.0.0.1:")


@pytest.mark.parametrize(
    ("config", "needles"),
    [
        ('[identity]\ndefault = "emb@latest"\n', ["identity.default", "latest"]),
        ("[server]\ngrpc_prot = 1\n", ["server.grpc_prot", "unknown setting"]),
        (
            f'[[keys]]\nname = "a"\nsha256 = "{hash_key("k")}"\n'
            f'[[keys]]\nname = "b"\nsha256 = "{hash_key("k")}"\n',
            ["keys", "'a'", "'b'", "bind the same API key"],
        ),
    ],
    ids=["unpinned-version", "unknown-setting", "duplicate-key"],
)
def test_config_check_rejects_a_bad_file_naming_the_entry(tmp_path, config, needles):
    """`config check` exits 1 on an invalid file with one line naming the file and entry."""
    path = tmp_path / "bad.toml"
    path.write_text(config)
    result = vecgate("config", "check", str(path))
    assert result.returncode == 1
    reason = one_line_reason(result)
    assert str(path) in reason
    for needle in needles:
        assert needle in reason


def test_config_check_accepts_the_example_file():
    """`config check vecgate.example.toml` exits 0 with a summary."""
    result = vecgate("config", "check", "vecgate.example.toml")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "keys" in result.stdout
    assert "models" in result.stdout


def test_keys_added_at_run_time_work_at_once_and_stop_when_removed(gw):
    """`keys add` (secret hashed by the CLI) binds identity, role and scope for every
    request from then on; `keys remove` ends it; keys of the file are not removable."""
    secret = "reader-secret"
    added = admin_cmd(
        gw, "keys", "add", "dashboard", "--secret", secret, "--identity", "emb@1",
        "--role", "reader", "--collection", "docs", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    view = as_json(added)
    assert (view["name"], view["role"], view["identity"]) == ("dashboard", "reader", "emb@1")
    assert (view["source"], view["fingerprint"]) == ("stored", hash_key(secret)[:8])
    listed = {k["name"]: k for k in as_json(admin_cmd(gw, "keys", "--json"))["keys"]}
    assert listed["dashboard"]["source"] == "stored"
    assert listed["indexer"]["source"] == "config"

    with warnings.catch_warnings():  # api-key over plain loopback, on purpose
        warnings.filterwarnings("ignore", "Api key is used with an insecure connection")
        reader = gw.client(api_key=secret, https=False)  # identity comes from the key
    hits = reader.query_points("docs", query=QUERY, limit=3).points
    assert {h.payload["embedding_version"] for h in hits} == {"1"}
    with pytest.raises(grpc.RpcError) as denied:
        reader.upsert("docs", [models.PointStruct(id=9, vector=QUERY)])
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    again = admin_cmd(gw, "keys", "add", "dashboard", "--sha256", hash_key("other"))
    assert one_line_reason(again).startswith("vecgate: ALREADY_EXISTS: ")
    bad = admin_cmd(gw, "keys", "add", "broken", "--sha256", "not-hex")
    assert one_line_reason(bad).startswith("vecgate: INVALID_ARGUMENT: sha256")
    in_file = admin_cmd(gw, "keys", "remove", "indexer")
    assert "configuration file" in one_line_reason(in_file)

    removed = admin_cmd(gw, "keys", "remove", "dashboard")
    assert removed.returncode == 0, removed.stderr
    with pytest.raises(grpc.RpcError) as gone:
        reader.query_points("docs", query=QUERY, limit=3)
    assert gone.value.code() == grpc.StatusCode.UNAUTHENTICATED
