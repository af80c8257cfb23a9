"""The embedded engine's collections on disk: one `EdgeShard` per collection, plus aliases.

Layout under the data directory:

    collections/<slug>-<hash>/collection.json   name, creation request, metadata, creation time
    collections/<slug>-<hash>/shard/             the EdgeShard (segments + write-ahead log)
    aliases.json                                 {"aliases": {"alias": "collection", ...}}

- `collection.json` is the commit point of a create: a directory without it is a create
  that did not finish, removed at the next start. A delete renames the directory to a
  trash name first (the commit point), then removes it.
- Small files are written atomically (temp file, fsync, `os.replace`, fsync of the
  directory), so a kill -9 never leaves one half-written.
- Writes to points are durable against a crash of the process as soon as
  `EdgeShard.update` returns: the engine appends every operation to its write-ahead
  log (a memory-mapped file, so the bytes are in the kernel's page cache) before
  applying it, and replays the log on load. `sync_writes=True` also calls
  `EdgeShard.flush()` after each write (fsync of WAL and segments) to survive a crash
  of the machine, at ~3-5 ms per write on this machine.
- Directory names are derived from collection names (readable slug + SHA-256 prefix),
  so any name Qdrant accepts is a safe, collision-free path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import qdrant_edge as qe
from google.protobuf import json_format
from qdrant_client.grpc import collections_pb2 as cpb

from proxy.errors import AlreadyExists, Internal, InvalidArgument, NotFound
from proxy.values import payload_to_python

log = logging.getLogger(__name__)

FORMAT = 1
COLLECTIONS_DIR = "collections"
CONFIG_FILE = "collection.json"
SHARD_DIR = "shard"
ALIASES_FILE = "aliases.json"
_TRASH_PREFIX = ".trash-"
_TEMP_MARK = ".tmp-"

#: Characters Qdrant refuses in a new collection name (they are unsafe in paths).
INVALID_NAME_CHARS = ("<", ">", ":", '"', "/", "\\", "|", "?", "*", "\0", "\x1f")
MAX_NAME_CHARS = 255
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_SLUG_CHARS = 48


def collection_not_found(name: str) -> NotFound:
    """Qdrant's error for a collection (or alias) that does not exist."""
    return NotFound(f"Not found: Collection `{name}` doesn't exist!", reason="no_collection")


def validate_collection_name(name: str) -> None:
    """Refuse a new collection name as Qdrant does (length 1..255, no path-unsafe chars)."""
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidArgument(
            "Validation error in body: [collection_name: must be from 1 to "
            f"{MAX_NAME_CHARS} characters]",
            reason="bad_name",
        )
    for char in INVALID_NAME_CHARS:
        if char in name:
            raise InvalidArgument(
                "Validation error in body: [collection_name: collection name cannot "
                f"contain {json.dumps(char)} char]",
                reason="bad_name",
            )
    if name in (".", ".."):
        raise InvalidArgument(
            f"Validation error in body: [collection_name: collection name cannot be {name!r}]",
            reason="bad_name",
        )


def directory_name(name: str) -> str:
    """The directory of a collection: readable slug plus a hash of the exact name."""
    slug = _SLUG_UNSAFE.sub("_", name)[:_SLUG_CHARS] or "_"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{slug}-{digest}"


def fsync_directory(path: Path) -> None:
    """Make a directory's entries (creates, renames) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace `path` with `data` as JSON, never leaving a half-written file behind."""
    temp = path.with_name(f".{path.name}{_TEMP_MARK}{os.getpid()}")
    try:
        with temp.open("w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, sort_keys=True, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def is_engine_panic(exc: BaseException) -> bool:
    """Whether `exc` is a Rust panic surfacing from the engine (a `BaseException`)."""
    return type(exc).__name__ == "PanicException"


@dataclass(eq=False)
class Collection:
    """One Qdrant collection: a shard plus what Qdrant keeps beside it."""

    name: str
    directory: Path
    shard: qe.EdgeShard
    #: The creation request (metadata moved to `metadata`), updated by config changes.
    config: cpb.CreateCollection
    #: Qdrant collection metadata, as JSON-like Python values.
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Number of the last write acknowledged by this process (Qdrant's `operation_id`).
    operation_id: int = 0

    def next_operation_id(self) -> int:
        """Count one more acknowledged write and return its number."""
        self.operation_id += 1
        return self.operation_id

    def record(self) -> dict[str, Any]:
        """What `collection.json` holds."""
        return {
            "format": FORMAT,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "config": json_format.MessageToDict(self.config, preserving_proto_field_name=True),
            "metadata": self.metadata,
        }

    def save(self) -> None:
        """Write `collection.json` atomically."""
        write_json_atomic(self.directory / CONFIG_FILE, self.record())


def _parse_record(
    data: Mapping[str, Any],
) -> tuple[str, cpb.CreateCollection, dict[str, Any], datetime]:
    """Read `collection.json` back: name, config, metadata, creation time."""
    config = json_format.ParseDict(data["config"], cpb.CreateCollection())
    created = datetime.fromisoformat(data["created_at"])
    return data["name"], config, dict(data.get("metadata") or {}), created


class Catalog:
    """Every collection of one data directory, and the aliases over them.

    Not thread-safe: handlers run one at a time on the event loop.
    """

    def __init__(self, data_dir: Path, *, sync_writes: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / COLLECTIONS_DIR
        self.sync_writes = sync_writes
        self._collections: dict[str, Collection] = {}
        #: Collections whose shard failed to load: name -> (directory, reason).
        self._failed: dict[str, tuple[Path, str]] = {}
        self._aliases: dict[str, str] = {}
        self.root.mkdir(parents=True, exist_ok=True)
        _remove_temp_files(self.data_dir)
        self._load_collections()
        self._load_aliases()

    # -- loading ---------------------------------------------------------------------------

    def _load_collections(self) -> None:
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(_TRASH_PREFIX) or _TEMP_MARK in entry.name:
                _remove(entry)
            elif entry.is_dir():
                self._load_collection(entry)

    def _load_collection(self, directory: Path) -> None:
        record_path = directory / CONFIG_FILE
        if not record_path.exists():
            log.warning("removing %s: a collection create that did not finish", directory)
            _remove(directory)
            return
        _remove_temp_files(directory)
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            name, config, metadata, created = _parse_record(record)
        except (ValueError, KeyError, json_format.ParseError) as exc:
            raise RuntimeError(
                f"{record_path} is unreadable ({exc}); it is only ever replaced atomically, "
                "so it was changed by hand: restore it or move the directory away"
            ) from exc
        try:
            shard = qe.EdgeShard.load(str(directory / SHARD_DIR))
        except BaseException as exc:
            if not (isinstance(exc, Exception) or is_engine_panic(exc)):
                raise
            log.error("collection %r in %s failed to load: %s", name, directory, exc)
            self._failed[name] = (directory, str(exc).splitlines()[0] if str(exc) else repr(exc))
            return
        self._collections[name] = Collection(name, directory, shard, config, metadata, created)

    def _load_aliases(self) -> None:
        path = self.data_dir / ALIASES_FILE
        if not path.exists():
            return
        stored: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))["aliases"]
        known = self._collections.keys() | self._failed.keys()
        # A crash between a delete's alias update and its directory rename cannot leave a
        # dangling alias (aliases go first), but an operator removing a directory can.
        self._aliases = {alias: name for alias, name in stored.items() if name in known}

    # -- lookup ----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every collection name, sorted (as Qdrant lists them)."""
        return sorted(self._collections.keys() | self._failed.keys())

    def __iter__(self) -> Iterator[Collection]:
        return iter(list(self._collections.values()))

    def resolve(self, name: str) -> str:
        """The collection a name means: the alias target, or the name itself."""
        return self._aliases.get(name, name)

    def get(self, name: str) -> Collection:
        """The collection named `name` or aliased by it (NotFound otherwise)."""
        target = self.resolve(name)
        collection = self._collections.get(target)
        if collection is not None:
            return collection
        if target in self._failed:
            raise Internal(
                f"Service internal error: collection `{name}` could not be loaded from disk "
                f"({self._failed[target][1]}); see the server log, or delete and recreate it"
            )
        raise collection_not_found(name)

    def exists(self, name: str) -> bool:
        """Whether a collection of that name, or an alias of that name, exists."""
        target = self.resolve(name)
        return target in self._collections or target in self._failed

    # -- create and delete --------------------------------------------------------------------

    def create(self, request: cpb.CreateCollection, edge_config: qe.EdgeConfig) -> Collection:
        """Create a collection from its (validated) request and the engine config for it."""
        name = request.collection_name
        validate_collection_name(name)
        if self._is_collection(name):
            raise AlreadyExists(
                f"Wrong input: Collection `{name}` already exists!", reason="exists"
            )
        if name in self._aliases:
            raise InvalidArgument(
                f"Wrong input: Can't create collection with name {name}. "
                "Alias with the same name already exists",
                reason="name_taken",
            )
        directory = self.root / directory_name(name)
        if directory.exists():  # leftover of an earlier failure; it holds nothing committed
            _remove(directory)
        directory.mkdir()
        config = cpb.CreateCollection()
        config.CopyFrom(request)
        config.ClearField("metadata")
        collection = Collection(
            name,
            directory,
            _create_shard(directory, edge_config),
            config,
            payload_to_python(request.metadata),
        )
        try:
            collection.shard.flush()
            collection.save()
            fsync_directory(self.root)
        except BaseException:
            collection.shard.close()
            _remove(directory)
            raise
        self._collections[name] = collection
        return collection

    def delete(self, name: str) -> bool:
        """Delete a collection (not an alias) and its aliases; False if there was none."""
        if not self._is_collection(name):
            return False
        remaining = {alias: target for alias, target in self._aliases.items() if target != name}
        if remaining != self._aliases:
            self._save_aliases(remaining)
        self._aliases = remaining
        collection = self._collections.pop(name, None)
        if collection is not None:
            _close_quietly(collection)
            directory = collection.directory
        else:
            directory = self._failed.pop(name)[0]
        _remove(directory)
        return True

    def save(self, collection: Collection) -> None:
        """Persist a collection's config and metadata after a change."""
        collection.save()

    def reload(self, collection: Collection, edge_config: qe.EdgeConfig | None) -> None:
        """Reopen a collection's shard, applying `edge_config` (changed index settings)."""
        path = str(collection.directory / SHARD_DIR)
        collection.shard.close()
        try:
            collection.shard = qe.EdgeShard.load(path, edge_config)
        except BaseException:
            try:
                collection.shard = qe.EdgeShard.load(path)
            except BaseException as exc:
                del self._collections[collection.name]
                self._failed[collection.name] = (collection.directory, str(exc))
            raise

    def committed(self, collection: Collection, operations: int = 1) -> list[int]:
        """Call after applied writes: flush if configured; returns their operation ids."""
        if self.sync_writes:
            collection.shard.flush()
        return [collection.next_operation_id() for _ in range(operations)]

    # -- aliases -------------------------------------------------------------------------------

    @property
    def aliases(self) -> Mapping[str, str]:
        """Alias name -> collection name."""
        return dict(self._aliases)

    def aliases_of(self, name: str) -> list[str]:
        """The aliases of one collection (by its own name, not an alias), sorted."""
        return sorted(alias for alias, target in self._aliases.items() if target == name)

    def change_aliases(self, actions: Iterable[cpb.AliasOperations]) -> None:
        """Apply create/rename/delete alias actions in order, all or nothing."""
        aliases = dict(self._aliases)
        for action in actions:
            self._apply_alias_action(aliases, action)
        if aliases != self._aliases:
            self._save_aliases(aliases)
        self._aliases = aliases

    def _apply_alias_action(self, aliases: dict[str, str], action: cpb.AliasOperations) -> None:
        kind = action.WhichOneof("action")
        if kind == "create_alias":
            create = action.create_alias
            if not self._is_collection(create.collection_name):
                raise collection_not_found(create.collection_name)
            self._check_new_alias(create.alias_name)
            aliases[create.alias_name] = create.collection_name
        elif kind == "rename_alias":
            rename = action.rename_alias
            if rename.old_alias_name not in aliases:
                raise NotFound(
                    f"Not found: Alias {rename.old_alias_name} does not exists!",
                    reason="no_alias",
                )
            self._check_new_alias(rename.new_alias_name)
            aliases[rename.new_alias_name] = aliases.pop(rename.old_alias_name)
        elif kind == "delete_alias":
            aliases.pop(action.delete_alias.alias_name, None)
        else:
            raise InvalidArgument(
                "an alias action is empty; set create_alias, rename_alias or delete_alias"
            )

    def _check_new_alias(self, alias: str) -> None:
        if not 1 <= len(alias) <= MAX_NAME_CHARS:
            raise InvalidArgument(
                f"Validation error in body: [alias_name: must be from 1 to {MAX_NAME_CHARS} "
                "characters]",
                reason="bad_name",
            )
        if self._is_collection(alias):
            raise AlreadyExists(
                f"Wrong input: Collection `{alias}` already exists!", reason="name_taken"
            )

    def _is_collection(self, name: str) -> bool:
        return name in self._collections or name in self._failed

    def _save_aliases(self, aliases: Mapping[str, str]) -> None:
        write_json_atomic(
            self.data_dir / ALIASES_FILE, {"format": FORMAT, "aliases": dict(aliases)}
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Counts and failures, for operators."""
        return {
            "data_dir": str(self.data_dir),
            "collections": len(self._collections),
            "aliases": len(self._aliases),
            "sync_writes": self.sync_writes,
            "failed": {name: reason for name, (_, reason) in self._failed.items()},
        }

    def close(self) -> None:
        """Flush and close every shard; the catalog is unusable afterwards."""
        for collection in self._collections.values():
            _close_quietly(collection)
        self._collections.clear()


def _create_shard(directory: Path, edge_config: qe.EdgeConfig) -> qe.EdgeShard:
    """Create the engine shard of a new collection, removing the directory on failure."""
    try:
        return qe.EdgeShard.create(str(directory / SHARD_DIR), edge_config)
    except BaseException:
        _remove(directory)
        raise


def _close_quietly(collection: Collection) -> None:
    """Flush and close a shard, logging (not raising) an engine failure."""
    try:
        collection.shard.flush()
    except Exception:
        log.exception("flushing collection %r failed", collection.name)
    with contextlib.suppress(Exception):
        collection.shard.close()


def _remove_temp_files(directory: Path) -> None:
    """Remove temp files of atomic writes that a crash interrupted."""
    for temp in directory.glob(f".*{_TEMP_MARK}*"):
        if temp.is_file():
            temp.unlink(missing_ok=True)


def _remove(path: Path) -> None:
    """Remove a file or directory: a directory is renamed to trash first (atomic)."""
    if not path.is_dir():
        path.unlink(missing_ok=True)
        return
    trash = path
    if not path.name.startswith(_TRASH_PREFIX):
        trash = path.with_name(f"{_TRASH_PREFIX}{uuid.uuid4().hex}")
        os.rename(path, trash)
        fsync_directory(path.parent)
    shutil.rmtree(trash, ignore_errors=True)
