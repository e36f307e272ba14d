"""The terminal adapter: each line typed (or piped in) is one turn of one thread."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import queue
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TextIO

from bot.api import Author, Conversation, IncomingMessage, SinkLimits, ThreadKey

PLATFORM = "console"
WORKSPACE = "local"
CHANNEL = "terminal"


# Escape sequences (CSI, OSC) whole, then any other control character but tab and newline.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?$")


def console_thread(name: str) -> ThreadKey:
    return ThreadKey(PLATFORM, WORKSPACE, CHANNEL, name)


class ConsoleSink:
    """Prints a reply as it streams: every edit only adds text at the end.

    Model output never drives the terminal: escape sequences and control
    characters are dropped, and a sequence still arriving at the end of an
    edit is held back until the next one completes it.
    """

    limits = SinkLimits(max_chars=1_000_000, edit_interval=0.0)

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._shown: dict[str, str] = {}  # message id -> the text it was last given
        self._held: dict[str, str] = {}  # message id -> an unfinished escape sequence at its end
        self._open = False
        self.closed = False
        """True once the reader went away (``parley chat | head``): the chat then ends."""
        self.failed_turns = 0
        """Turns that got a notice instead of an answer (``parley chat`` then exits with 1)."""

    def _write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self._out.write(text)
            self._out.flush()
        except (BrokenPipeError, OSError):  # the reader went away, or the terminal hung up
            self.closed = True
            # Keep the interpreter's last flush from failing on the closed pipe.
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._out.fileno())

    async def post(self, text: str) -> str:
        if self._open:
            self._write("\n")
        message_id = str(len(self._shown) + 1)
        self._shown[message_id] = ""
        self._open = True
        await self.edit(message_id, text)
        return message_id

    async def edit(self, message_id: str, text: str) -> None:
        shown = self._shown[message_id]
        if text.startswith(shown):
            new = self._held.get(message_id, "") + text[len(shown) :]
        else:
            new = f"\n{text}"
        unfinished = _UNFINISHED.search(new)
        held = new[unfinished.start() :] if unfinished else ""
        self._write(_CONTROL.sub("", new[: len(new) - len(held)]))
        self._shown[message_id], self._held[message_id] = text, held

    def turn_failed(self) -> None:
        self.failed_turns += 1

    def end_turn(self) -> None:
        if self._open:
            self._write("\n")
        self._open = False


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container run with a uid that has no passwd entry
        return f"uid{os.getuid()}"


class LineReader:
    """Runs a blocking ``read_line`` in a daemon thread, one line per request.

    A daemon thread (not the event loop's executor) so that Ctrl-C or the end
    of the conversation never waits for a line nobody will type.
    """

    def __init__(self, read_line: Callable[[], str | None]) -> None:
        self._read_line = read_line
        self._requests: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[str | None]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    async def next_line(self) -> str | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str | None] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="parley-stdin", daemon=True)
            self._thread.start()
        self._requests.put((loop, answer))
        return await answer

    def _serve(self) -> None:
        while True:
            loop, answer = self._requests.get()
            try:
                line = self._read_line()
            except (OSError, ValueError):
                line = None
            loop.call_soon_threadsafe(_resolve, answer, line)
            if line is None:
                return


def _resolve(answer: asyncio.Future[str | None], line: str | None) -> None:
    if not answer.done():
        answer.set_result(line)


async def chat(
    conversation: Conversation,
    thread_name: str,
    *,
    read_line: Callable[[], str | None],
    out: TextIO,
) -> int:
    """Talk until end of input; the number of turns that got no answer. ``read_line`` runs in its own thread."""
    thread = console_thread(thread_name)
    author = Author(local_user(), local_user(), is_admin=True)
    sink = ConsoleSink(out)
    reader = LineReader(read_line)
    while (line := await reader.next_line()) is not None:
        if not line.strip():
            continue
        message = IncomingMessage(
            thread, author, line.rstrip("\n"), event_id=uuid.uuid4().hex, mentioned=True, is_dm=True
        )
        await conversation.receive(message, sink)
        sink.end_turn()
        if sink.closed:
            break
    return sink.failed_turns


def terminal_reader(prompt: str) -> Callable[[], str | None]:
    """Read with line editing on a terminal, plain lines from a pipe; None at end of input."""
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (gives input() line editing and history)

    # The prompt goes where the person is: stdout may be a file collecting only the replies.
    prompt_here = prompt if sys.stdout.isatty() else ""

    def read_line() -> str | None:
        if interactive:
            if not prompt_here:
                print(prompt, end="", file=sys.stderr, flush=True)
            try:
                line = input(prompt_here)
            except EOFError:
                print()
                return None
        else:
            line = sys.stdin.readline()
            if not line:
                return None
        # Bytes that are not UTF-8 arrive as lone surrogates; make them visible replacement characters.
        return line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    return read_line


@contextlib.contextmanager
def terminal_restored() -> Iterator[None]:
    """Give the terminal back as it was, even when Ctrl-C ends parley in the middle of a line edit."""
    if not sys.stdin.isatty():
        yield
        return
    import termios

    saved = termios.tcgetattr(sys.stdin.fileno())
    try:
        yield
    finally:
        with contextlib.suppress(termios.error, OSError):  # the terminal may be gone (window closed)
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
