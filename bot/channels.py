"""Each channel's settings panel: the config's layers plus the overrides stored in Redis."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.audit import UNKNOWN, AuditEntry, Changer
from bot.config import Config
from bot.model_catalog import ModelCatalog
from bot.settings import Layer, Resolved, SettingError, check_key, format_value, parse_value, resolve, validate_patch
from bot.store import Store
from bot.threads import ChannelKey

log = logging.getLogger(__name__)

OVERRIDE = "override (set from chat or `parley channel set`)"
FIRST_BACKEND = "built-in: the first configured backend"


@dataclass(frozen=True, slots=True)
class Stored:
    """A value ``Channels.set`` stored, and ``note``: why it could not be checked, if it could not."""

    value: Any
    note: str = ""


class Channels:
    def __init__(self, config: Config, store: Store, catalog: ModelCatalog | None = None) -> None:
        self._config = config
        self._store = store
        self._catalog = catalog

    async def resolve(self, channel: ChannelKey) -> Resolved:
        """Effective settings of a channel, with the source of each; ``backend`` is always set."""
        stored = await self._store.overrides(channel)
        layers = [*self._config.layers_for(channel), Layer(OVERRIDE, self._usable(channel, stored))]
        resolved = resolve(layers)
        if resolved.settings.backend is None:
            settings = resolved.settings.model_copy(update={"backend": self._config.default_backend})
            resolved = Resolved(settings, {**resolved.sources, "backend": FIRST_BACKEND})
        return resolved

    def _usable(self, channel: ChannelKey, stored: dict[str, Any]) -> dict[str, Any]:
        """Stored overrides that are still valid (the config may have changed since)."""
        usable: dict[str, Any] = {}
        for key, value in stored.items():
            try:
                checked = validate_patch({key: value})
                self._check_backend(key, value)
                self._check_knowledge(key, checked[key])
                usable.update(checked)
            except SettingError as error:
                log.warning("ignoring stored override of %s for %s: %s", key, channel, error)
        return usable

    def _check_backend(self, key: str, value: Any) -> None:
        unknown = self._config.unknown_backend(key, value)
        if unknown is None:
            return
        allowed = ", ".join(self._config.backends) or "none are configured"
        if key == "backend":
            raise SettingError(f"backend: unknown backend {unknown!r}. Allowed: {allowed}.")
        raise SettingError(f"fallbacks: unknown backend in {unknown!r}. Allowed: {allowed}.")

    def _check_knowledge(self, key: str, value: Any) -> None:
        if key != "knowledge":
            return
        unknown = self._config.unknown_knowledge(value)
        if unknown is not None:
            raise SettingError(
                f"knowledge: unknown knowledge source {unknown!r}. Allowed: {self._config.knowledge_names()}."
            )

    async def set(self, channel: ChannelKey, key: str, raw: str, by: Changer = UNKNOWN) -> Stored:
        """Validate and store an override, and audit the change; nothing is stored when it is refused."""
        checked = await self.check(channel, key, raw)
        old = await self._effective(channel, key)
        await self._store.set_override(channel, key, checked.value)
        await self._audit(channel, key, old, by)
        return checked

    async def check(self, channel: ChannelKey, key: str, raw: str) -> Stored:
        """What ``set`` would store, checked as ``set`` checks it, without storing it (SettingError if refused)."""
        value = parse_value(key, raw)
        self._check_backend(key, value)
        self._check_knowledge(key, value)
        if key in ("backend", "max_tokens"):
            await self._check_room(channel, {key: value})
        note = await self._check_model(channel, value) if key == "model" and value is not None else ""
        return Stored(value, note)

    async def _effective(self, channel: ChannelKey, key: str) -> str:
        return format_value(getattr((await self.resolve(channel)).settings, key))

    async def _audit(self, channel: ChannelKey, key: str, old: str, by: Changer) -> None:
        moment = datetime.now(UTC)
        new = await self._effective(channel, key)
        entry = AuditEntry(moment.isoformat(timespec="seconds"), by.who, by.origin, str(channel), key, old, new)
        await self._store.add_audit(channel, entry.to_json(), moment.timestamp())

    async def _check_model(self, channel: ChannelKey, model: str) -> str:
        """Refuse a model the channel's backend does not list; '' when it lists it, else why it was not checked."""
        if self._catalog is None:
            return ""
        backend = (await self.resolve(channel)).settings.backend or self._config.default_backend
        check = await self._catalog.check(backend, model)
        if check.listed is False:
            raise SettingError(
                f"model: backend {backend} does not list {model!r}. Allowed: a model it lists: {check.detail}."
            )
        return f"not checked: {check.detail}" if check.listed is None else ""

    async def _check_room(self, channel: ChannelKey, change: dict[str, Any]) -> None:
        """The channel's max_tokens, after the change, must leave room in its backend's context window."""
        settings = (await self.resolve(channel)).settings.model_copy(update=change)
        backend = settings.backend or self._config.default_backend
        if problem := self._config.room_problem(backend, settings.max_tokens):
            raise SettingError(problem)

    async def unset(self, channel: ChannelKey, key: str, by: Changer = UNKNOWN) -> bool:
        check_key(key)
        old = await self._effective(channel, key)
        removed = await self._store.unset_override(channel, key)
        if removed:
            await self._audit(channel, key, old, by)
        return removed

    async def default_model(self, backend: str) -> str | None:
        """The model a backend uses when a channel names none: configured, else the first its server lists."""
        if self._catalog is not None:
            return await self._catalog.default_model(backend)
        found = self._config.backends.get(backend)
        return found.model if found else None
