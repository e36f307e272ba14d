"""Addresses of channels and threads, the same for every platform.

A channel is written ``platform:workspace/channel`` (``chat:T1/C42``,
``console:local/terminal``); channel rules in the config match that string with
shell-style wildcards (``chat:*/C42``, ``console:*``).
A thread lives in a channel and inherits the channel's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True, slots=True)
class ChannelKey:
    platform: str
    workspace: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}/{self.channel}"

    def matches(self, pattern: str) -> bool:
        """Whether a channel rule's pattern (``chat:T1/*``) covers this channel."""
        return fnmatchcase(str(self), pattern)

    @classmethod
    def parse(cls, text: str) -> ChannelKey:
        platform, colon, rest = text.partition(":")
        workspace, slash, channel = rest.partition("/")
        if not (colon and slash and platform and workspace and channel):
            raise ValueError(
                f"{text!r} is not a channel: write platform:workspace/channel, "
                "for example slack:T0123/C0456, discord:111/222 or console:local/terminal"
            )
        return cls(platform, workspace, channel)


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """One conversation: a thread (or DM, or reply chain) inside a channel."""

    platform: str
    workspace: str
    channel: str
    thread: str

    @property
    def channel_key(self) -> ChannelKey:
        return ChannelKey(self.platform, self.workspace, self.channel)

    def __str__(self) -> str:
        return f"{self.channel_key}#{self.thread}"
