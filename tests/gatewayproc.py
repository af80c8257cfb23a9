"""Start and stop a real `vecgate serve` process for tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient

ROOT = Path(__file__).resolve().parent.parent


class GatewayProcess:
    """A `vecgate serve` child process on free loopback ports."""

    def __init__(
        self, data_dir: Path, config: str | None = None, *extra: str, log_file: Path | None = None
    ) -> None:
        """`log_file`: send the gateway's log there instead of reading it live (benchmarks:
        no reader thread competing with the measuring thread)."""
        self.data_dir = data_dir
        self.log_file = log_file
        self.args = [sys.executable, "-m", "proxy", "serve", "--grpc-port", "0", "--http-port", "0"]
        self.args += ["--data-dir", str(data_dir), *extra]
        if config is not None:
            path = data_dir.parent / f"{data_dir.name}.toml"
            path.write_text(config)
            self.args += ["--config", str(path)]
        self.proc: subprocess.Popen[str] | None = None
        self.grpc_port = 0
        self.http_port = 0
        self.log_lines: list[str] = []

    def rss_mb(self, kind: str = "VmRSS") -> float:
        """The process's resident memory, in MiB (Linux /proc).

        `kind` is a line of /proc/PID/status: "VmRSS" (all), "RssAnon" (the process's
        own heap and stacks) or "RssFile" (mapped files: the engine's data files).
        """
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{kind}:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {kind} line in /proc/PID/status")

    def with_ports(self, grpc_port: int, http_port: int = 0) -> GatewayProcess:
        """Listen on these ports instead of free ones (a restart where clients wait)."""
        at = self.args.index("--grpc-port")
        self.args[at + 1] = str(grpc_port)
        self.args[self.args.index("--http-port") + 1] = str(http_port)
        return self

    def start(self, timeout: float = 30.0) -> GatewayProcess:
        """Start the process and wait for its ready line."""
        self._log_handle = self.log_file.open("w") if self.log_file else None
        stderr = self._log_handle or subprocess.PIPE
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        if self.log_file is None:
            threading.Thread(target=self._drain_stderr, daemon=True).start()
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                ready = json.loads(line)
                if ready.get("event") == "ready":
                    self.grpc_port = int(ready["grpc"].rsplit(":", 1)[1])
                    self.http_port = int(ready["http"].rsplit(":", 1)[1])
                    return self
        self.stop()
        raise RuntimeError("vecgate did not start:\n" + "\n".join(self.log_lines[-20:]))

    def _drain_stderr(self) -> None:
        assert self.proc is not None
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log_lines.append(line.rstrip("\n"))

    def requests(self) -> list[dict[str, Any]]:
        """The request log lines written so far, parsed."""
        lines = self.log_file.read_text().splitlines() if self.log_file else list(self.log_lines)
        out = []
        for line in lines:
            if line.startswith("{") and '"request"' in line:
                record = json.loads(line)
                if record.get("event") == "request":
                    out.append(record)
        return out

    def requests_for(self, methods: set[str], timeout: float = 5.0) -> list[dict[str, Any]]:
        """The request log lines, once every method in `methods` has one (or `timeout`).

        The gateway writes a request's line before it answers, but the line reaches this
        process through a pipe and a reader thread, which may not have read it yet.
        """
        deadline = time.monotonic() + timeout
        while True:
            records = self.requests()
            if methods <= {r["method"] for r in records} or time.monotonic() > deadline:
                return records
            time.sleep(0.02)

    def client(self, identity: str | None = None, **kwargs: Any) -> QdrantClient:
        """An unmodified qdrant-client on the gRPC port, optionally claiming an identity."""
        headers = dict(kwargs.pop("headers", {}))
        if identity is not None:
            headers["x-embedding-model"] = identity
        return QdrantClient(
            host="127.0.0.1",
            grpc_port=self.grpc_port,
            port=self.http_port,
            prefer_grpc=True,
            headers=headers or None,
            timeout=30,
            **kwargs,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Stop the process (SIGTERM drains); returns its exit code."""
        if self.proc is None:
            return 0
        # qdrant-client checks the server version in a background thread; let those
        # finish while the server still answers, or they warn about a dead server.
        for thread in threading.enumerate():
            if "_check_compatibility" in thread.name:
                thread.join(10)
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        for stream in (self.proc.stdout, self.proc.stderr, getattr(self, "_log_handle", None)):
            if stream is not None:
                stream.close()
        self.proc = None
        return code


@contextmanager
def running_gateway(data_dir: Path, config: str | None = None) -> Iterator[GatewayProcess]:
    """A started gateway, stopped on exit."""
    gateway = GatewayProcess(data_dir, config).start()
    try:
        yield gateway
    finally:
        gateway.stop()
