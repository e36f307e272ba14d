"""The ``parley`` command: the composition root that wires config, Redis, backends and an adapter."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import signal
import sys
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from adapters import config as parley_config
from adapters import console, feedback_cli, queue_cli, run
from adapters.web.serve import serve_console
from bot.api import (
    LOG_FORMATS,
    NO_BACKEND_HELP,
    Author,
    ChannelKey,
    Command,
    Config,
    ConfigError,
    ThreadKey,
    check_backends,
    find_config_file,
    open_commands,
    open_conversation,
    open_knowledge,
    parse_day,
    setup_logging,
)

CLI_ADMIN = Author("cli", "command line", is_admin=True)


def _load(args: argparse.Namespace) -> Config:
    config = parley_config.load(find_config_file(args.config, os.environ), os.environ)
    level = "DEBUG" if args.verbose > 1 else "INFO" if args.verbose else config.log_level
    args.log_format = args.log_format or config.log_format
    setup_logging(level, config.secrets(os.environ), args.log_format)
    args.logging_set_up = True
    return config


PATTERN_CHARACTERS = "*?["


def _channel(text: str) -> ChannelKey:
    if any(character in text for character in PATTERN_CHARACTERS):
        raise ConfigError(
            f"{text!r} is a pattern, not a channel: name one channel (platform:workspace/channel). "
            f'Settings for every channel a pattern matches belong in the config file: [[channels]] match = "{text}"'
        )
    try:
        return ChannelKey.parse(text)
    except ValueError as error:
        raise ConfigError(str(error)) from None


# -- parley chat ----------------------------------------------------------------
def cmd_chat(args: argparse.Namespace) -> int:
    config = _load(args)
    if not config.backends:
        raise ConfigError(NO_BACKEND_HELP)
    thread = args.thread or f"chat-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    hint = " /help lists commands; Ctrl-D quits." if sys.stdin.isatty() else ""
    later = f"parley chat --thread {shlex.quote(thread)}"
    print(f"parley: thread {thread!r} (continue it later: {later}).{hint}", file=sys.stderr)
    with console.terminal_restored():
        return run_until_signal(_chat(config, thread))


async def _chat(config: Config, thread: str) -> int:
    """0 when every turn got an answer; 1 when one got a notice instead (a script can tell)."""
    async with open_conversation(config, os.environ) as conversation:
        failed = await console.chat(conversation, thread, read_line=console.terminal_reader("you> "), out=sys.stdout)
    return 1 if failed else 0


def run_until_signal(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main``; SIGTERM or SIGHUP (docker stop, a closed terminal) cancel it so cleanup runs."""

    async def guarded() -> int:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        received: list[int] = []

        def stop(signum: int) -> None:
            if received:  # one signal starts the shutdown; more must not interrupt its cleanup
                return
            received.append(signum)
            if task is not None:
                task.cancel()

        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, stop, signum)
        try:
            return await main
        except asyncio.CancelledError:
            if received:
                return 128 + received[0]
            raise

    return asyncio.run(guarded())


# -- parley run -------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    if not config.backends:
        raise ConfigError(NO_BACKEND_HELP)
    names = run.chosen(args.platform, os.environ)
    return run_until_signal(run.serve(config, os.environ, names, args.host, args.port, ingress_only=args.ingress_only))


def cmd_console(args: argparse.Namespace) -> int:
    config = _load(args)
    if not config.backends:
        raise ConfigError(NO_BACKEND_HELP)
    return run_until_signal(serve_console(config, os.environ, args.host, args.port))


# -- parley config ----------------------------------------------------------------
def cmd_config_check(args: argparse.Namespace) -> int:
    """Exit 0 when the file and environment are usable, 1 with every problem found otherwise."""
    try:
        path = Path(args.path) if args.path else find_config_file(args.config, os.environ)
        if path is not None and not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        config = parley_config.load(path, os.environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    where = str(path) if path else "no config file (environment only)"
    if not config.backends:
        print(f"{where}: no backend.\n\n{NO_BACKEND_HELP}", file=sys.stderr)
        return 1
    missing = [
        f"  [backends.{name}] api_key_env: {b.api_key_env} is not set in this environment"
        for name, b in config.backends.items()
        if b.api_key_env and not os.environ.get(b.api_key_env)
    ]
    if missing:
        print(f"{where}: {len(missing)} problem(s):\n" + "\n".join(missing), file=sys.stderr)
        return 1
    backends = ", ".join(f"{name} ({b.base_url})" for name, b in config.backends.items())
    print(f"{where}: OK. Backends: {backends}. Channel rules: {len(config.channels)}.")
    return 0


# -- parley backends ----------------------------------------------------------------
def cmd_backends_check(args: argparse.Namespace) -> int:
    """One line per backend: OK with model and latency, or why not. Exit 0 when all work, 1 otherwise."""
    config = _load(args)
    if not config.backends:
        raise ConfigError(NO_BACKEND_HELP)
    results = asyncio.run(check_backends(config, os.environ))
    width = max(len(result.name) for result in results)
    for result in results:
        print(result.line(width))
    return 0 if all(result.ok for result in results) else 1


def cmd_show(args: argparse.Namespace) -> int:
    return _run_command(args, Command("show"))


# -- parley channel ---------------------------------------------------------------
def cmd_channel_set(args: argparse.Namespace) -> int:
    return _run_command(args, Command("set", f"{args.key} {' '.join(args.value)}"))


def cmd_channel_unset(args: argparse.Namespace) -> int:
    return _run_command(args, Command("unset", args.key))


def _run_command(args: argparse.Namespace, command: Command) -> int:
    config = _load(args)
    if not config.backends:
        raise ConfigError(NO_BACKEND_HELP)
    channel = _channel(args.channel)
    answer = _with_redis(_command(config, channel, command))
    failed = answer.startswith(("Not changed", "Usage"))
    print(answer, file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


async def _command(config: Config, channel: ChannelKey, command: Command) -> str:
    async with open_commands(config, os.environ) as commands:
        thread = ThreadKey(channel.platform, channel.workspace, channel.channel, "")
        return await commands.run(command, thread, CLI_ADMIN, origin="command line")


def _with_redis(main: Coroutine[Any, Any, str]) -> str:
    """Run an admin command; Redis going away under it (a parley it joined stopped) is said in one line."""
    try:
        return asyncio.run(main)
    except (RedisError, OSError) as error:
        raise ConfigError(f"lost the connection to Redis: {error}") from None


# -- parley usage ------------------------------------------------------------------
def cmd_usage(args: argparse.Namespace) -> int:
    """Token totals of a day (default: today, UTC): one channel's, or every channel's and user's."""
    config = _load(args)
    channel = _channel(args.channel) if args.channel else None
    print(_with_redis(_usage(config, channel, args.date)))
    return 0


async def _usage(config: Config, channel: ChannelKey | None, day: str | None) -> str:
    async with open_commands(config, os.environ) as commands:
        if channel is None:
            return await commands.day_report(day)
        return await commands.usage(channel, day or "")


# -- parley feedback export ------------------------------------------------------------
def cmd_feedback_export(args: argparse.Namespace) -> int:
    """The helpdesk's votes (CSV or JSON lines) on standard output."""
    config = _load(args)
    channel = _channel(args.channel) if args.channel else None
    sys.stdout.write(_with_redis(feedback_cli.export(config, channel, args.since, args.form)))
    return 0


def _day(text: str) -> str:
    try:
        return parse_day(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# -- parley kb ---------------------------------------------------------------------
def cmd_kb_index(args: argparse.Namespace) -> int:
    """Index one knowledge source (or every one): only new and changed files are read."""
    print(_with_redis(_kb_index(_load(args), args.name)))
    return 0


async def _kb_index(config: Config, name: str | None) -> str:
    async with open_knowledge(config) as kb:
        return await kb.index(name)


def cmd_kb_search(args: argparse.Namespace) -> int:
    """What a question would retrieve from a knowledge source, with scores."""
    try:
        print(_with_redis(_kb_search(_load(args), args.name, " ".join(args.query))))
    except LookupError as error:
        print(f"parley: {error}", file=sys.stderr)
        return 1
    return 0


async def _kb_search(config: Config, name: str, query: str) -> str:
    async with open_knowledge(config) as kb:
        return await kb.search(name, query)


# -- the parser -------------------------------------------------------------------
CONFIG_HELP = "config file (default: $PARLEY_CONFIG, else ./parley.toml)"
VERBOSE_HELP = "log more (-vv: debug)"
LOG_FORMAT_HELP = "text or json (one JSON object per line; default: log_format in the config, else text)"


def build_parser() -> argparse.ArgumentParser:
    """``--config``, ``-v`` and ``--log-format`` go before or after the command (``parley -v chat``,
    ``parley chat -v``).

    Before it they land in ``top_config``/``top_verbose``/``top_log_format``: a subcommand's own
    defaults would otherwise overwrite them; ``parse_args`` joins the two.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    common.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    common.add_argument("--log-format", choices=LOG_FORMATS, help=LOG_FORMAT_HELP)

    parser = argparse.ArgumentParser(prog="parley", description="An LLM where your team already talks.")
    parser.add_argument("--config", dest="top_config", metavar="PATH", help=CONFIG_HELP)
    parser.add_argument("-v", "--verbose", dest="top_verbose", action="count", default=0, help=VERBOSE_HELP)
    parser.add_argument("--log-format", dest="top_log_format", choices=LOG_FORMATS, help=LOG_FORMAT_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str,
            handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:  # fmt: skip
        sub = parent.add_parser(name, help=help, description=help, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    chat = add(commands, "chat", "talk to the model in this terminal (lines may be piped in)", cmd_chat)
    chat.add_argument("--thread", metavar="NAME", help="a named thread; the same name continues it later")

    run_ = add(commands, "run", "serve chat platforms: Slack, Discord (default: every one whose token is set)", cmd_run)
    run_.add_argument("platform", nargs="?", choices=sorted(run.PLATFORMS), help="only this platform")
    run_.add_argument("--host", default="0.0.0.0", help="address of the HTTP server (default: 0.0.0.0)")
    run_.add_argument("--port", type=int, default=3000, help="port of the HTTP server (default: 3000)")
    run_.add_argument("--ingress-only", action="store_true",
                      help="only accept and queue messages; parley worker processes answer them")  # fmt: skip

    console_ = add(commands, "console", "serve only the web console, for local use (needs PARLEY_ADMIN_TOKEN)",
                   cmd_console)  # fmt: skip
    console_.add_argument("--host", default="127.0.0.1", help="address of the HTTP server (default: 127.0.0.1)")
    console_.add_argument("--port", type=int, default=3000, help="port of the HTTP server (default: 3000)")

    config = commands.add_parser("config", help="check or explain the configuration")
    config_commands = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = add(config_commands, "check", "validate a config file and the environment", cmd_config_check)
    check.add_argument("path", nargs="?", help="the file to check (default: as for --config)")
    show = add(config_commands, "show", "the effective parameters of a channel and where each comes from", cmd_show)
    show.add_argument("channel", metavar="CHANNEL", help="platform:workspace/channel, e.g. slack:T1/C42")

    backends = commands.add_parser("backends", help="the configured LLM backends")
    backends_commands = backends.add_subparsers(dest="action", required=True, metavar="ACTION")
    add(backends_commands, "check", "send a one-token request to every backend and say which work", cmd_backends_check)

    channel = commands.add_parser("channel", help="a channel's runtime overrides (stored in Redis)")
    channel_commands = channel.add_subparsers(dest="action", required=True, metavar="ACTION")
    for_show = add(channel_commands, "show", "the effective parameters of a channel", cmd_show)
    for_show.add_argument("channel", metavar="CHANNEL")
    set_ = add(channel_commands, "set", "override a parameter for a channel", cmd_channel_set)
    set_.add_argument("channel", metavar="CHANNEL")
    set_.add_argument("key", metavar="KEY")
    set_.add_argument("value", metavar="VALUE", nargs="+")
    unset = add(channel_commands, "unset", "drop a channel's override of a parameter", cmd_channel_unset)
    unset.add_argument("channel", metavar="CHANNEL")
    unset.add_argument("key", metavar="KEY")
    kb = commands.add_parser("kb", help="the documents grounded answers come from ([knowledge.NAME] tables)")
    kb_commands = kb.add_subparsers(dest="action", required=True, metavar="ACTION")
    index = add(kb_commands, "index", "index knowledge folders: only new and changed files are read again",
                cmd_kb_index)  # fmt: skip
    index.add_argument("name", metavar="NAME", nargs="?", help="only this [knowledge.NAME] (default: every one)")
    search = add(kb_commands, "search", "what a question would retrieve: passages, scores, document titles",
                 cmd_kb_search)  # fmt: skip
    search.add_argument("name", metavar="NAME", help="a [knowledge.NAME] table")
    search.add_argument("query", metavar="QUERY", nargs="+", help="the question, in quotes or not")
    usage = add(commands, "usage", "tokens used per channel and per user on a day (default: today, UTC)", cmd_usage)
    usage.add_argument("channel", metavar="CHANNEL", nargs="?", help="only this channel, e.g. slack:T1/C42")
    usage.add_argument("--date", metavar="YYYY-MM-DD", type=_day, help="the UTC day (default: today)")
    queue_cli.add_commands(commands, add, _load, run_until_signal)
    feedback = commands.add_parser("feedback", help="the helpdesk's 👍 / 👎 on answers")
    feedback_commands = feedback.add_subparsers(dest="action", required=True, metavar="ACTION")
    feedback_cli.add_arguments(add(feedback_commands, "export", "every vote with its question and answer, as CSV or "
                                   "JSON lines", cmd_feedback_export), day=_day)  # fmt: skip
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with ``--config``, ``-v`` and ``--log-format`` taken from either side of the command."""
    args = build_parser().parse_args(argv)
    args.config = getattr(args, "config", None) or args.top_config
    args.log_format = getattr(args, "log_format", None) or args.top_log_format
    args.verbose = getattr(args, "verbose", 0) + args.top_verbose
    return args


def _say_error(error: ConfigError, args: argparse.Namespace) -> None:
    """A configuration error, on stderr: one JSON log line when the logs are JSON (a log collector reads
    every line), else ``parley: ...``."""
    if (args.log_format or os.environ.get("PARLEY_LOG_FORMAT", "").strip().lower()) != "json":
        print(f"parley: {error}", file=sys.stderr)
        return
    if not getattr(args, "logging_set_up", False):  # the config did not load: the flag asked for JSON
        setup_logging("WARNING", (), "json")
    logging.getLogger("parley").error("%s", error)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        code = args.handler(args)
    except ConfigError as error:
        _say_error(error, args)
        code = 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        code = 130
    except BrokenPipeError:  # the reader went away (parley config show ... | head)
        code = 0
    try:
        sys.stdout.flush()
    except OSError:  # a closed pipe, or a terminal that hung up: nothing more can be shown
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
