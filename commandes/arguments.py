"""Typed command arguments: each type turns one word (or the rest of the line) into a value,
or says, in the reader's language, what was wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, Protocol

from bot.clock import is_known_zone
from bot.i18n import shorten, text

#: How much of a typed word an error quotes back. A single 64 KiB word must not make the reply
#: too large for one Matrix event (64 KiB, body and HTML together), nor fill the room.
ECHO_LIMIT = 80


def echo(typed: str) -> str:
    """A person's word as an error message quotes it: at most `ECHO_LIMIT` characters."""
    return shorten(typed, ECHO_LIMIT)


class BadArgument(Exception):
    """The argument cannot be used; `key` and `params` name the catalogue text explaining why.

    The typed `value`, when given, is quoted back shortened (see `ECHO_LIMIT`).
    """

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        if isinstance(params.get("value"), str):
            params["value"] = echo(params["value"])
        self.key = key
        self.params = params


class ArgType(Protocol):
    def parse(self, raw: str) -> Any:
        """The value for `raw`, or `BadArgument`."""
        ...


_FOLD = str.maketrans("àâäçéèêëîïôöùûüÿœæ", "aaaceeeeiioouuuyoa")


def fold(word: str) -> str:
    """Lower-case and strip French accents, so « séance » and « seance » are the same word."""
    return word.lower().translate(_FOLD)


@dataclass(frozen=True)
class Choice:
    """One word among a few; `words` maps every accepted spelling (fr, en) to its value."""

    words: Mapping[str, str]
    shown: tuple[str, ...] = ()

    def parse(self, raw: str) -> str:
        value = self.words.get(fold(raw))
        if value is None:
            choices = " | ".join(self.shown or tuple(dict.fromkeys(self.words.values())))
            raise BadArgument("errors.choice", value=raw, choices=choices)
        return value


@dataclass(frozen=True)
class Integer:
    minimum: int
    maximum: int

    def parse(self, raw: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", raw):
            raise BadArgument("errors.integer", value=raw)
        number = int(raw)
        if not self.minimum <= number <= self.maximum:
            raise BadArgument(
                "errors.integer_range", value=raw, minimum=self.minimum, maximum=self.maximum
            )
        return number


@dataclass(frozen=True)
class Word:
    """Any single word, at most `max_length` characters."""

    max_length: int = 64

    def parse(self, raw: str) -> str:
        if len(raw) > self.max_length:
            raise BadArgument("errors.too_long", limit=self.max_length)
        return raw


@dataclass(frozen=True)
class Rest:
    """Everything after the previous arguments, as typed (spaces kept)."""

    max_length: int = 2000

    def parse(self, raw: str) -> str:
        stripped = raw.strip()
        if len(stripped) > self.max_length:
            raise BadArgument("errors.too_long", limit=self.max_length)
        return stripped


@dataclass(frozen=True)
class TimeOfDay:
    """`HH:MM` (also `12h30` and `12h`, as written in Québec)."""

    def parse(self, raw: str) -> time:
        # A bare number ("2") is refused: 2 a.m. or 2 p.m.? The person says which.
        match = re.fullmatch(r"([0-9]{1,2})[:hH]([0-9]{2})?", raw)
        if match is None or (":" in raw and match.group(2) is None):
            raise BadArgument("errors.time", value=raw)
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour > 23 or minute > 59:
            raise BadArgument("errors.time", value=raw)
        return time(hour, minute)


@dataclass(frozen=True)
class Day:
    """A calendar date as AAAA-MM-JJ."""

    def parse(self, raw: str) -> date:
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
                raise ValueError(raw)
            return date.fromisoformat(raw)
        except ValueError:
            raise BadArgument("errors.date", value=raw) from None


@dataclass(frozen=True)
class TimeZone:
    """An IANA time zone such as America/Montreal."""

    def parse(self, raw: str) -> str:
        if not is_known_zone(raw):
            raise BadArgument("errors.timezone", value=raw)
        return raw


@dataclass(frozen=True)
class Arg:
    """A declared argument: `name` is the handler's keyword and the catalogue's `args.<name>`."""

    name: str
    type: ArgType
    optional: bool = False
    default: Any = field(default=None)

    @property
    def rest(self) -> bool:
        """Whether it takes everything after the previous arguments (spaces kept)."""
        return isinstance(self.type, Rest) or bool(getattr(self.type, "rest_of_line", False))

    def label(self, language: str) -> str:
        return text(language, f"args.{self.name}")
