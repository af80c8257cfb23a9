"""Fingerprint check for applications: a few lines at start-up.

    from proxy.drift.client import check_fingerprint

    report = check_fingerprint("vecgate:6334", "minilm@1", model.encode, api_key=KEY)
    # raises FingerprintMismatch (the version is now suspect) when the weights changed

`embed` takes the list of anchor texts and returns one vector per text. It is called
once, with every anchor in the registered order: embed them as they were registered
(a batch-dependent build, such as a dynamic-int8 model, gives other vectors in
other batches). The key may be a writer key (bound to this version) or an admin key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

from proxy.admin.generated import admin_pb2, admin_pb2_grpc

Embed = Callable[[list[str]], Sequence[Sequence[float]]]


class FingerprintMismatch(Exception):
    """The re-computed anchors do not match: the weights behind the tag changed."""

    def __init__(self, report: Any) -> None:
        super().__init__(f"{report.model}: {report.message}")
        self.report = report


def anchor_vectors(texts: list[str], embed: Embed) -> list[list[float]]:
    """Embed the anchors in one call, in order; refuse a wrong number of vectors."""
    vectors = [[float(x) for x in vector] for vector in embed(list(texts))]
    if len(vectors) != len(texts):
        raise ValueError(f"the embed function returned {len(vectors)} vectors for {len(texts)}")
    return vectors


def verify(stub: Any, model: str, embed: Embed, metadata: Sequence[tuple[str, str]]) -> Any:
    """GetFingerprint, embed the anchors, VerifyFingerprint; the report (never raises on
    a mismatch)."""
    view = stub.GetFingerprint(
        admin_pb2.GetFingerprintRequest(model=model), metadata=metadata, timeout=30
    )
    request = admin_pb2.VerifyFingerprintRequest(model=model)
    for vector in anchor_vectors(list(view.texts), embed):
        request.vectors.add().values.extend(vector)
    return stub.VerifyFingerprint(request, metadata=metadata, timeout=30)


def check_fingerprint(target: str, model: str, embed: Embed, *, api_key: str) -> Any:
    """Verify `model`'s fingerprint at vecgate `target`; raise `FingerprintMismatch` if it
    fails. Returns the `FingerprintReport`."""
    with grpc.insecure_channel(target) as channel:
        stub = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
        report = verify(stub, model, embed, (("api-key", api_key),))
    if not report.passed:
        raise FingerprintMismatch(report)
    return report
