"""milvus-lite as a child process: `--backend milvus-lite:PATH`.

milvus-lite 3.x is a pure-Python Milvus server. vecgate runs it as a separate
process (its own interpreter, so its searches do not compete for the gateway's GIL)
on a free loopback port, with one BLAS/OpenMP thread (`SINGLE_THREADED`), waits until
it accepts connections, and stops it on close.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from proxy.errors import Unavailable

START_TIMEOUT = 60.0
#: milvus-lite searches with numpy; OpenBLAS (and OpenMP) worker threads spin after
#: each call, burning ~9 ms of CPU per search on a core the gateway needs (decision 43).
#: One thread each unless the environment says otherwise.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiteServer:
    """`python -m milvus_lite server --data-dir PATH` on a free port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """The address pymilvus dials."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiteServer:
        """Start the server and wait until its port accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "milvus-lite.log").open("ab")
        args = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir)]
        args += ["--host", "127.0.0.1", "--port", str(self.port)]
        env = {**SINGLE_THREADED, **os.environ}
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable(
                    f"milvus-lite exited at start (code {self.proc.returncode}); see "
                    f"{self.data_dir / 'milvus-lite.log'}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise Unavailable(f"milvus-lite did not listen within {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
