"""Commands declared once, as typed data, and the parser that finds and binds them.

A command has a French name (`groupe creer`), English aliases (`group create`), a role, typed
arguments and a handler; its usage line is built from those declarations and its help text lives
in the catalogues (`commands.<name>.help`). The Discord layer will build slash commands from the
same declarations. Families (`commandes/<famille>.py`) each expose a `Router`; `bot/` includes
them in one explicit list.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from bot.i18n import text
from commandes.arguments import Arg, BadArgument, echo, fold

Handler = Callable[..., Awaitable[None]]
PREFIXES = ("!", "/")


class Role(IntEnum):
    MEMBER = 0
    MODERATOR = 1


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    role: Role
    args: tuple[Arg, ...]
    handler: Handler
    # Whether the room must already be a group (else the dispatcher explains how to create one).
    needs_group: bool = False

    @property
    def key(self) -> str:
        """Catalogue key stem: `commands.groupe_creer`."""
        return "commands." + self.name.replace(" ", "_").replace("-", "_")

    def shown_name(self, language: str) -> str:
        """The name a reader of `language` types: the French name, or the first English alias."""
        if language == "en" and self.aliases:
            return self.aliases[0]
        return self.name

    def usage(self, language: str) -> str:
        parts = [f"!{self.shown_name(language)}"]
        for arg in self.args:
            label = arg.label(language) + ("…" if arg.rest else "")
            parts.append(f"[{label}]" if arg.optional else f"<{label}>")
        return " ".join(parts)

    def help(self, language: str) -> str:
        return text(language, f"{self.key}.help")


class Router:
    """The commands of one family, collected by the `command` decorator."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def command(
        self,
        name: str,
        *,
        aliases: Iterable[str] = (),
        role: Role = Role.MEMBER,
        args: Iterable[Arg] = (),
        needs_group: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.commands.append(
                Command(name, tuple(aliases), role, tuple(args), handler, needs_group)
            )
            return handler

        return register


@dataclass(frozen=True)
class Invocation:
    """A parsed command: which one, and its bound, typed arguments."""

    command: Command
    values: dict[str, Any]


class ParseError(Exception):
    """The text names a command but its arguments do not fit; says what and how."""

    def __init__(self, command: Command, key: str, arg: Arg | None = None, **params: Any) -> None:
        super().__init__(key)
        self.command = command
        self.key = key
        self.arg = arg
        self.params = params


class UnknownCommand(Exception):
    def __init__(self, typed: str, suggestion: str | None, family: list[Command]) -> None:
        super().__init__(typed)
        self.typed = typed
        self.suggestion = suggestion
        # When the first word is a family (`!groupe`) with no such subcommand: its commands.
        self.family = family


_TOKEN = re.compile(r"\S+")


class Registry:
    def __init__(self, routers: Iterable[Router]) -> None:
        self.commands: list[Command] = []
        self._by_name: dict[str, Command] = {}
        for router in routers:
            for command in router.commands:
                self.commands.append(command)
                for name in (command.name, *command.aliases):
                    key = fold(name)
                    if key in self._by_name:
                        raise ValueError(f"command name {name!r} declared twice")
                    self._by_name[key] = command

    def find(self, name: str) -> Command | None:
        return self._by_name.get(" ".join(fold(word) for word in name.split()))

    def family(self, first_word: str) -> list[Command]:
        word = fold(first_word)
        return [
            c
            for c in self.commands
            if any(fold(n).split()[0] == word for n in (c.name, *c.aliases))
        ]

    def names(self) -> list[str]:
        return list(self._by_name)

    def is_command_text(self, body: str) -> bool:
        """Whether the message is addressed to the bot as a command at all.

        `!mot` always is. `/mot` is only when `mot` is one of ours: people write `/s` or paths.
        """
        if len(body) < 2 or body[0] not in PREFIXES or not body[1].isalpha():
            return False
        if body[0] == "!":
            return True
        first = body[1:].split(maxsplit=1)[0]
        return bool(self.family(first))

    def parse(self, body: str) -> Invocation:
        """Find the command in `body` (a command text) and bind its arguments."""
        tokens = list(_TOKEN.finditer(body[1:]))
        # A command name is one or two words: the rest (maybe 64 KiB of them) is arguments.
        words = [fold(t.group()) for t in tokens[:2]]
        for width in (2, 1):
            if len(words) >= width:
                command = self._by_name.get(" ".join(words[:width]))
                if command is not None:
                    return Invocation(command, self._bind(command, body[1:], tokens[width:]))
        typed = words[0] if words else ""
        family = self.family(typed) if typed else []
        close = difflib.get_close_matches(" ".join(words[:2]), self.names(), n=1, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(typed, self.names(), n=1, cutoff=0.6)
        raise UnknownCommand(echo(typed), close[0] if close else None, family)

    def _bind(self, command: Command, line: str, tokens: list[re.Match[str]]) -> dict[str, Any]:
        values: dict[str, Any] = {arg.name: arg.default for arg in command.args}
        position = 0
        index = 0
        while index < len(tokens):
            if position >= len(command.args):
                raise ParseError(command, "errors.too_many", extra=echo(tokens[index].group()))
            arg = command.args[position]
            if arg.rest:
                values[arg.name] = self._parse(command, arg, line[tokens[index].start() :])
                return values
            raw = tokens[index].group()
            try:
                values[arg.name] = arg.type.parse(raw)
            except BadArgument as exc:
                # An optional argument may be left out: does the word fit a later one?
                rest_of_line = line[tokens[index].start() :]
                later = (
                    self._later_match(command.args[position + 1 :], raw, rest_of_line)
                    if arg.optional
                    else None
                )
                if later is None:
                    raise ParseError(command, exc.key, arg, **exc.params) from None
                position += later + 1
                continue
            position += 1
            index += 1
        missing = [a for a in command.args[position:] if not a.optional]
        if missing:
            raise ParseError(command, "errors.missing", missing[0])
        return values

    @staticmethod
    def _later_match(args: tuple[Arg, ...], raw: str, rest_of_line: str) -> int | None:
        """The offset of the first later argument that accepts `raw`, skipping optional ones.

        A rest-of-line argument must accept the whole rest: otherwise the person most likely
        mistyped the earlier word, and its error is the one worth showing.
        """
        for offset, arg in enumerate(args):
            try:
                arg.type.parse(rest_of_line if arg.rest else raw)
            except BadArgument:
                if not arg.optional:
                    return None
                continue
            return offset
        return None

    @staticmethod
    def _parse(command: Command, arg: Arg, raw: str) -> Any:
        try:
            return arg.type.parse(raw)
        except BadArgument as exc:
            raise ParseError(command, exc.key, arg, **exc.params) from None
