"""Generate the admin API's Python stubs from protos/ (run: python -m proxy.admin.codegen).

grpcio-tools writes `from vecgate.v1 import admin_pb2`; the stubs live inside the
`proxy.admin.generated` package, so that one import is rewritten to its full path.
A test regenerates into a temporary folder and compares, so protos and code never drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = "vecgate/v1/admin.proto"
OUT = ROOT / "proxy" / "admin" / "generated"
_FILES = ("admin_pb2.py", "admin_pb2.pyi", "admin_pb2_grpc.py")


def generate(out: Path = OUT) -> list[Path]:
    """Run protoc (from grpcio-tools) and return the files it wrote under `out`."""
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{ROOT / 'protos'}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        str(ROOT / "protos" / PROTO),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO}")
    produced = out / "vecgate" / "v1"
    written = []
    for name in _FILES:
        source = produced / name
        text = source.read_text().replace(
            "from vecgate.v1 import admin_pb2", "from proxy.admin.generated import admin_pb2"
        )
        target = out / name
        target.write_text(text)
        written.append(target)
    scratch = out / "vecgate"
    for leftover in sorted(scratch.rglob("*"), reverse=True):
        leftover.unlink() if leftover.is_file() else leftover.rmdir()
    scratch.rmdir()
    (out / "__init__.py").write_text('"""Generated from protos/vecgate/v1/admin.proto."""\n')
    return written


if __name__ == "__main__":
    for path in generate():
        print(path.relative_to(ROOT), file=sys.stderr)
