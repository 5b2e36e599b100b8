"""Check-in formats as data: TOML files read into frozen values, checked strictly at load.

A format (« format ») is the script of one check-in: a sequence of rounds (« tours »), each
with a title, the prompt the bot posts, a timebox, and whether members who have not spoken
get one gentle nudge halfway. Groups change wording and timings by editing a file, never the
code, so the loader is the only gate between an operator's text editor and a live room: it
rejects a bad file at start-up, naming the file, the key and the reason, rather than letting
a typo surface mid check-in. Unknown keys are errors for the same reason — a misspelt
`nudge` silently ignored would change how a group is treated without anyone noticing.

Key paths in errors are dotted, with 0-based round indexes as in the TOML array:
`rounds[2].minutes`, `rounds[0].fr.prompt`, `en.title`. This module reads files and does
nothing else: no clock, no network, no logging.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any

from bot.i18n import LANGUAGES

__all__ = [
    "DEFAULT_FORMAT",
    "MAX_ROUND_MINUTES",
    "MAX_TEXT_LENGTH",
    "Format",
    "FormatError",
    "Round",
    "RoundText",
    "builtin_formats",
    "load_format",
    "load_formats",
    "parse_format",
]

DEFAULT_FORMAT = "soutien-30"
"""The format a new peer-support group gets (DOMAIN.md, « A check-in, by default »)."""

MAX_TEXT_LENGTH = 1000
"""Longest title, description or prompt: a prompt is read in a chat, not a handout."""

MAX_ROUND_MINUTES = 24 * 60
"""A round longer than a day is a typo; the cap also keeps `timedelta` from overflowing."""

_TOLERANCE = 1e-6
_NAME = re.compile(r"[a-z0-9-]+")
_TOP_KEYS = ("name", "duration_minutes", "fr", "en", "rounds")
_LANGUAGE_KEYS = ("title", "description")
_ROUND_KEYS = ("key", "minutes", "nudge", "fr", "en")
_ROUND_TEXT_KEYS = ("title", "prompt")
_TOML_LOCATION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_BUILTIN_PACKAGE = "bot.formats"


@dataclass(frozen=True, slots=True)
class RoundText:
    """What a member reads for one round, in one language."""

    title: str
    prompt: str


@dataclass(frozen=True, slots=True)
class Round:
    """One timeboxed round of a check-in.

    `nudge` says whether members still silent halfway through get one gentle reminder;
    welcome and closing rounds usually turn it off, since nobody owes an answer there.
    """

    key: str
    duration: timedelta
    nudge: bool
    # Excluded from the hash: a read-only mapping is not hashable, the other fields suffice.
    texts: Mapping[str, RoundText] = field(hash=False)

    def text(self, language: str) -> RoundText:
        """The round's title and prompt in `language` (every format has all of LANGUAGES)."""
        try:
            return self.texts[language]
        except KeyError:
            raise ValueError(f"unknown language {language!r}") from None


@dataclass(frozen=True, slots=True)
class Format:
    """A whole check-in script; `name` is how groups and config refer to it."""

    name: str
    titles: Mapping[str, str] = field(hash=False)
    descriptions: Mapping[str, str] = field(hash=False)
    rounds: tuple[Round, ...]

    @property
    def duration(self) -> timedelta:
        """The total timebox, always the sum of the rounds (the loader checks the file agrees)."""
        return sum((r.duration for r in self.rounds), timedelta())

    def title(self, language: str) -> str:
        try:
            return self.titles[language]
        except KeyError:
            raise ValueError(f"unknown language {language!r}") from None

    def description(self, language: str) -> str:
        try:
            return self.descriptions[language]
        except KeyError:
            raise ValueError(f"unknown language {language!r}") from None

    def round_index(self, key: str) -> int | None:
        """Where the round named `key` sits, so a stored check-in can resume by key."""
        for index, round_ in enumerate(self.rounds):
            if round_.key == key:
                return index
        return None


class FormatError(Exception):
    """A format file that cannot be used, with enough detail for an operator to fix it.

    `key` is the dotted path of the offending value (`rounds[2].minutes`); for problems
    that have no key it is `line N` (TOML syntax), `(file)` or `(directory)`.
    """

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason

    def __reduce__(self) -> tuple[type[FormatError], tuple[str, str, str]]:
        # Exception pickles its message only; keep the three fields across processes.
        return (type(self), (self.file, self.key, self.reason))


def _kind(value: object) -> str:
    """The TOML name of a value's type, for messages an operator can act on."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return "a date or time"


def _minutes_text(value: float) -> str:
    return f"{value:g}"


class _Checker:
    """Walks one parsed file; every method raises the first FormatError it meets."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, reason: str) -> FormatError:
        return FormatError(self.file, key, reason)

    @staticmethod
    def path(prefix: str, key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    def only_keys(self, table: Mapping[str, Any], allowed: Iterable[str], prefix: str) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                guess = f"did you mean {hint[0]!r}? " if hint else ""
                raise self.fail(
                    self.path(prefix, key),
                    f"unknown key; {guess}expected one of: {', '.join(allowed)}",
                )

    def required(self, table: Mapping[str, Any], key: str, prefix: str) -> object:
        if key not in table:
            raise self.fail(self.path(prefix, key), "missing")
        value: object = table[key]
        return value

    def table(self, value: object, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_kind(value)}")
        return value

    def text(self, table: Mapping[str, Any], key: str, prefix: str) -> str:
        path = self.path(prefix, key)
        value = self.required(table, key, prefix)
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, not {_kind(value)}")
        # Surrounding blank lines from a multi-line TOML string would show in the room.
        value = value.strip()
        if not value:
            raise self.fail(path, "must not be empty")
        if len(value) > MAX_TEXT_LENGTH:
            raise self.fail(
                path, f"is {len(value)} characters long; at most {MAX_TEXT_LENGTH} are allowed"
            )
        return value

    def identifier(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, not {_kind(value)}")
        if not _NAME.fullmatch(value):
            raise self.fail(
                path,
                f"{value!r} may use only lowercase letters a-z, digits and dashes",
            )
        return value

    def positive_minutes(self, value: object, path: str) -> float:
        # bool is an int in Python, but `minutes = true` is surely a mistake.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number of minutes, not {_kind(value)}")
        if not math.isfinite(value):
            raise self.fail(path, f"must be a finite number, not {value}")
        if value <= 0:
            raise self.fail(path, f"must be more than 0, not {_minutes_text(value)}")
        return float(value)

    def languages(
        self, table: Mapping[str, Any], keys: tuple[str, ...], prefix: str
    ) -> dict[str, dict[str, str]]:
        texts: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            path = self.path(prefix, language)
            if language not in table:
                raise self.fail(path, f"missing (texts are needed in {', '.join(LANGUAGES)})")
            inner = self.table(table[language], path)
            self.only_keys(inner, keys, path)
            texts[language] = {key: self.text(inner, key, path) for key in keys}
        return texts

    def round(self, value: object, index: int, seen: dict[str, int]) -> tuple[Round, float]:
        prefix = f"rounds[{index}]"
        table = self.table(value, prefix)
        self.only_keys(table, _ROUND_KEYS, prefix)
        key = self.identifier(self.required(table, "key", prefix), f"{prefix}.key")
        if key in seen:
            raise self.fail(f"{prefix}.key", f"{key!r} is already the key of rounds[{seen[key]}]")
        seen[key] = index
        minutes = self.positive_minutes(
            self.required(table, "minutes", prefix), f"{prefix}.minutes"
        )
        if minutes > MAX_ROUND_MINUTES:
            raise self.fail(
                f"{prefix}.minutes",
                f"{_minutes_text(minutes)} is more than a day ({MAX_ROUND_MINUTES} minutes)",
            )
        duration = timedelta(minutes=minutes)
        if duration <= timedelta():
            raise self.fail(f"{prefix}.minutes", "is shorter than a microsecond")
        nudge = table.get("nudge", True)
        if not isinstance(nudge, bool):
            raise self.fail(f"{prefix}.nudge", f"must be true or false, not {_kind(nudge)}")
        texts = self.languages(table, _ROUND_TEXT_KEYS, prefix)
        round_ = Round(
            key=key,
            duration=duration,
            nudge=nudge,
            texts=MappingProxyType(
                {lang: RoundText(title=t["title"], prompt=t["prompt"]) for lang, t in texts.items()}
            ),
        )
        return round_, minutes

    def format(self, data: dict[str, Any], stem: str) -> Format:
        self.only_keys(data, _TOP_KEYS, "")
        name = self.identifier(self.required(data, "name", ""), "name")
        if name != stem:
            raise self.fail("name", f"{name!r} must match the file name ({stem!r})")
        total = self.positive_minutes(
            self.required(data, "duration_minutes", ""), "duration_minutes"
        )
        texts = self.languages(data, _LANGUAGE_KEYS, "")
        raw_rounds = self.required(data, "rounds", "")
        if not isinstance(raw_rounds, list):
            raise self.fail(
                "rounds", f"must be an array of [[rounds]] tables, not {_kind(raw_rounds)}"
            )
        if not raw_rounds:
            raise self.fail("rounds", "a format needs at least one round")
        seen: dict[str, int] = {}
        parsed = [self.round(value, index, seen) for index, value in enumerate(raw_rounds)]
        summed = math.fsum(minutes for _, minutes in parsed)
        if abs(summed - total) > _TOLERANCE:
            raise self.fail(
                "duration_minutes",
                f"says {_minutes_text(total)} but the rounds add up to {_minutes_text(summed)}",
            )
        return Format(
            name=name,
            titles=MappingProxyType({lang: t["title"] for lang, t in texts.items()}),
            descriptions=MappingProxyType({lang: t["description"] for lang, t in texts.items()}),
            rounds=tuple(round_ for round_, _ in parsed),
        )


def parse_format(source: str, file: str) -> Format:
    """Check and build a format from TOML text; `file` names it in errors and gives its stem.

    Separate from `load_format` so a format can be checked before it is written anywhere.
    """
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        location = _TOML_LOCATION.search(message)
        if location is None:
            raise FormatError(file, "(file)", f"invalid TOML: {message}") from None
        line, column = location.groups()
        raise FormatError(
            file, f"line {line}", f"invalid TOML (column {column}): {message[: location.start()]}"
        ) from None
    return _Checker(file).format(data, PurePath(file).stem)


def load_format(path: Path) -> Format:
    """Read and check one format file; its `name` must equal the file's stem."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise FormatError(str(path), "(file)", f"is not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise FormatError(str(path), "(file)", f"cannot be read ({error.strerror})") from None
    return parse_format(source, str(path))


@cache
def _builtins() -> tuple[Format, ...]:
    # Every *.toml shipped in this package is a built-in: adding a format adds no code.
    folder = resources.files(_BUILTIN_PACKAGE)
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".toml") and entry.is_file()),
        key=lambda entry: entry.name,
    )
    return tuple(
        parse_format(entry.read_text(encoding="utf-8"), f"bot/formats/{entry.name}")
        for entry in entries
    )


def builtin_formats() -> dict[str, Format]:
    """The formats shipped with Halte, by name (a fresh dict each call; the values are frozen)."""
    return {fmt.name: fmt for fmt in _builtins()}


def load_formats(extra_dir: Path | None) -> dict[str, Format]:
    """The built-ins plus a group's own formats from `extra_dir` (every `*.toml` in it).

    A custom format may not reuse a built-in's name: silently replacing `soutien-30` would
    change every group that relies on the default without anyone choosing it.
    """
    formats = builtin_formats()
    if extra_dir is None:
        return formats
    if not extra_dir.is_dir():
        raise FormatError(str(extra_dir), "(directory)", "is not a directory")
    for path in sorted(p for p in extra_dir.glob("*.toml") if p.is_file()):
        fmt = load_format(path)
        if fmt.name in formats:
            raise FormatError(
                str(path),
                "name",
                f"{fmt.name!r} is a built-in format; give this one another name (and file name)",
            )
        formats[fmt.name] = fmt
    return formats
