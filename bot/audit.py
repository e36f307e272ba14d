"""The audit log of settings changes: who changed which key of which channel, when, how, and from where."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Changer:
    """Who makes a settings change, and through what (``chat (PLATFORM)``, ``command line``, ``web console``)."""

    who: str
    origin: str


UNKNOWN = Changer("unknown", "unknown")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: str
    """When, ISO 8601 in UTC."""
    who: str
    origin: str
    channel: str
    key: str
    old: str
    """The value in effect before the change, as ``/show`` writes it."""
    new: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> AuditEntry | None:
        try:
            data = json.loads(raw)
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError):
            return None

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.at)
