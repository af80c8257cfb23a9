"""Known model versions: shape, provenance and sunset date; deprecation flags.

Models come from two places: the configuration file (read-only through the API)
and `RegisterModel`, which stores them in the backend itself, in the collection
``vg__models`` (one point per model, its record in the payload), so every gateway
replica on one backend sees the same registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from adapters.base import Backend
from proxy.config import DeprecationConfig, ModelConfig
from proxy.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from proxy.identity import Identity, PinPolicy
from proxy.store import RecordStore

STORE = "vg__models"
_DISTANCES = ("Cosine", "Euclid", "Dot", "Manhattan")


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One model version known to vecgate."""

    identity: Identity
    dimension: int = 0
    distance: str = ""
    digest: str = ""
    sunset: date | None = None
    notes: str = ""
    source: str = "registered"  # or "config"

    def days_to_sunset(self, today: date) -> int | None:
        """Days until the sunset date (negative once past), or None when unknown."""
        return None if self.sunset is None else (self.sunset - today).days

    def deprecation(self, today: date, policy: DeprecationConfig) -> str:
        """``""``, ``"near"`` (within the warning window) or ``"past"``."""
        days = self.days_to_sunset(today)
        if days is None:
            return ""
        if days < 0:
            return "past"
        return "near" if days <= policy.warn_days else ""

    def warning(self, today: date) -> str:
        """The sentence a request under this model carries when it is deprecated."""
        days = self.days_to_sunset(today)
        assert days is not None
        assert self.sunset is not None
        if days < 0:
            return (
                f"model {self.identity} passed its sunset date {self.sunset.isoformat()} "
                f"{-days} day(s) ago; migrate to a supported version"
            )
        return (
            f"model {self.identity} reaches its sunset date {self.sunset.isoformat()} in "
            f"{days} day(s); plan the migration to a supported version"
        )

    def to_json(self) -> str:
        """The payload stored for a registered model."""
        data = asdict(self)
        data["identity"] = str(self.identity)
        data["sunset"] = self.sunset.isoformat() if self.sunset else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelRecord:
        """Read a stored record back."""
        data: dict[str, Any] = json.loads(text)
        data["identity"] = Identity.parse(data["identity"])
        data["sunset"] = date.fromisoformat(data["sunset"]) if data["sunset"] else None
        return cls(**data)


def parse_sunset(text: str) -> date | None:
    """``YYYY-MM-DD`` as a date; empty means none."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"sunset {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2027-03-31"
        ) from None


def check_distance(text: str) -> str:
    """A distance name as Qdrant spells it, or empty."""
    if text and text not in _DISTANCES:
        raise InvalidArgument(f"distance {text!r} is not one of {', '.join(_DISTANCES)}")
    return text


class ModelRegistry:
    """Configured plus registered models, registered ones kept in the backend."""

    def __init__(self, backend: Backend, configured: Iterable[ModelConfig], policy: PinPolicy):
        self.store = RecordStore(backend, STORE)
        self.policy = policy
        self.configured = {
            record.identity: record
            for record in (
                ModelRecord(
                    identity=policy.parse(m.name, where=f"models.{m.name}"),
                    dimension=m.dimension or 0,
                    distance=m.distance or "",
                    digest=m.digest or "",
                    sunset=m.sunset,
                    notes=m.notes,
                    source="config",
                )
                for m in configured
            )
        }
        self.registered: dict[Identity, ModelRecord] = {}

    def all(self) -> list[ModelRecord]:
        """Every known model, configured ones first, each group sorted."""
        ordered = sorted(self.configured.values(), key=lambda r: str(r.identity))
        ordered += sorted(
            (r for i, r in self.registered.items() if i not in self.configured),
            key=lambda r: str(r.identity),
        )
        return ordered

    def get(self, identity: Identity) -> ModelRecord | None:
        """The record of one model version, if known."""
        return self.configured.get(identity) or self.registered.get(identity)

    async def refresh(self) -> None:
        """Reload registered models from the backend."""
        records = [ModelRecord.from_json(text) for text in await self.store.all()]
        self.registered = {record.identity: record for record in records}

    async def register(self, record: ModelRecord) -> ModelRecord:
        """Store a new model version; ALREADY_EXISTS if it is known."""
        await self.refresh()
        if self.get(record.identity) is not None:
            raise AlreadyExists(
                f"model {record.identity} is already registered; use UpdateModel to change it",
                reason="model_exists",
            )
        await self._store(record)
        return record

    async def update(
        self, identity: Identity, *, digest: str | None, sunset: str | None, notes: str | None
    ) -> ModelRecord:
        """Change what may change of a registered model."""
        await self.refresh()
        if identity in self.configured:
            raise FailedPrecondition(
                f"model {identity} is defined in the configuration file; change it there",
                reason="model_in_config",
            )
        record = self.registered.get(identity)
        if record is None:
            raise NotFound(f"model {identity} is not registered", reason="no_model")
        record = replace(
            record,
            digest=record.digest if digest is None else digest,
            sunset=record.sunset if sunset is None else parse_sunset(sunset),
            notes=record.notes if notes is None else notes,
        )
        await self._store(record)
        return record

    async def _store(self, record: ModelRecord) -> None:
        await self.store.put(str(record.identity), record.to_json())
        self.registered[record.identity] = record
