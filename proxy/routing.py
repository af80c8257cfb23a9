"""Choosing the partition a request may touch, or the refusal that says why none."""

from __future__ import annotations

from collections.abc import Iterable

from proxy.envelope import Claim
from proxy.errors import FailedPrecondition, MissingIdentity, NoPartition
from proxy.registry import LogicalCollection, Partition

HOW_TO_IDENTIFY = (
    "send gRPC metadata 'x-embedding-model: <name>@<version>' (qdrant-client: "
    "QdrantClient(..., headers={'x-embedding-model': 'minilm@2'})), use an API key bound to "
    "an identity, or configure a default identity for this collection"
)


def missing_identity(what: str, collection: str, names: Iterable[str] = ()) -> MissingIdentity:
    """The refusal for a request that needs an identity and states none."""
    named = sorted(n for n in names if n)
    vectors = f" (vectors: {', '.join(named)})" if named else ""
    return MissingIdentity(
        f"{what} on collection `{collection}` carries vectors{vectors} but says which "
        f"embedding model made them nowhere; {HOW_TO_IDENTIFY}",
        reason="missing_identity",
    )


def compatible(partition: Partition, claim: Claim) -> bool:
    """Whether every identity the claim states for this partition's vectors matches it."""
    stated = False
    for name, identity in partition.binding.items():
        claimed = claim.for_name(name)
        if claimed is None:
            continue
        if claimed != identity:
            return False
        stated = True
    return stated


def choose_partition(
    logical: LogicalCollection, claim: Claim, *, needs_identity: bool, what: str
) -> Partition:
    """The one partition this request reaches, or a precise refusal.

    Without an identity a request is served by the active version, unless it carries
    vectors (`needs_identity`): those are refused, since their space is unknown.
    """
    if claim.empty:
        if needs_identity:
            raise missing_identity(what, logical.name)
        if logical.active is None:
            raise FailedPrecondition(
                f"collection `{logical.name}` has no active version", reason="no_active"
            )
        return logical.active
    matches = [p for p in logical.partitions if compatible(p, claim)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        claimed = claim.general or next(iter(claim.per_name.values()))
        raise NoPartition(
            f"collection `{logical.name}` has no index built by {claimed}; it holds "
            f"{logical.versions_text()}. Comparing vectors of different model versions "
            "returns meaningless neighbours, so vecgate refuses. Query with a version it "
            f"holds, or create `{logical.name}` under {claimed} and fill it.",
            reason="cross_version",
        )
    if logical.active in matches:
        return logical.active
    raise FailedPrecondition(
        f"the identity stated matches several versions of `{logical.name}` "
        f"({', '.join(p.label() for p in matches)}); state the model of every vector name "
        "with x-embedding-model-<vector_name>",
        reason="ambiguous_identity",
    )
