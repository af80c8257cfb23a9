"""The committed admin stubs are exactly what protos/ generates: protos and code never drift."""

from __future__ import annotations

from proxy.admin import codegen


def test_generated_stubs_match_the_proto(tmp_path):
    """Regenerating from protos/vecgate/v1/admin.proto reproduces every committed file."""
    written = codegen.generate(tmp_path)
    assert {p.name for p in written} == {"admin_pb2.py", "admin_pb2.pyi", "admin_pb2_grpc.py"}
    for fresh in written:
        committed = codegen.OUT / fresh.name
        assert committed.read_text() == fresh.read_text(), (
            f"{committed} differs from what protos/ generates; run `make protos`"
        )
