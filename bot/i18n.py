"""The fr/en catalogues and the rendering of a text as plain body plus escaped HTML.

Every text a person reads lives in `bot/locales/<lang>.toml`, never inline in code. A template
may use a tiny markup — `**bold**`, `` `code` `` and line breaks — which becomes HTML in the
formatted body and disappears from the plain body. Parameters are user-controlled text: they
are inserted after the markup is converted and are always escaped in the HTML, so a parked
`<script>` or a Matrix pill shows as text.
"""

from __future__ import annotations

import html
import re
import string
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_CODE = re.compile(r"`([^`]+)`")
_FIELD = "\x00{}\x00"
_FIELD_RE = re.compile("\x00(\\d+)\x00")


@dataclass(frozen=True, slots=True)
class Rendered:
    body: str
    html: str


class MissingText(KeyError):
    """A key used in code is absent from a catalogue (a test checks none is)."""


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise TypeError(f"catalogue value for {name!r} must be text")
    return flat


@cache
def catalogue(language: str) -> dict[str, str]:
    """All texts of one language, as dotted keys."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    raw = resources.files("bot.locales").joinpath(f"{language}.toml").read_text(encoding="utf-8")
    return _flatten(tomllib.loads(raw))


def has_text(language: str, key: str) -> bool:
    return key in catalogue(language)


def template(language: str, key: str) -> str:
    try:
        return catalogue(language)[key]
    except KeyError:
        raise MissingText(f"{language}:{key}") from None


def _strip_markup(text: str) -> str:
    return _CODE.sub(r"\1", _BOLD.sub(r"\1", text))


def _markup_to_html(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return escaped.replace("\n", "<br>\n")


def render_template(source: str, params: dict[str, Any]) -> Rendered:
    """Render one template string; see the module docstring for the markup and escaping."""
    values: list[str] = []
    pieces: list[str] = []
    for literal, field, spec, conversion in string.Formatter().parse(source):
        pieces.append(literal.replace("\x00", ""))
        if field is None:
            continue
        if field not in params:
            raise KeyError(f"missing parameter {field!r}")
        value = params[field]
        if conversion:
            value = repr(value) if conversion == "r" else str(value)
        values.append(format(value, spec or ""))
        pieces.append(_FIELD.format(len(values) - 1))
    skeleton = "".join(pieces)
    body = _FIELD_RE.sub(lambda m: values[int(m.group(1))], _strip_markup(skeleton))
    formatted = _FIELD_RE.sub(
        lambda m: html.escape(values[int(m.group(1))], quote=False), _markup_to_html(skeleton)
    )
    return Rendered(body=body, html=formatted)


def render(language: str, key: str, /, **params: Any) -> Rendered:
    return render_template(template(language, key), params)


def text(language: str, key: str, /, **params: Any) -> str:
    """The plain-text rendering only (for logs to the operator's terminal, usage lines)."""
    return render(language, key, **params).body


def join(parts: list[Rendered], separator: str = "\n") -> Rendered:
    """Concatenate rendered texts; the HTML separator follows the plain one."""
    html_sep = separator.replace("\n", "<br>\n")
    return Rendered(
        body=separator.join(p.body for p in parts), html=html_sep.join(p.html for p in parts)
    )


def duration(span: timedelta) -> str:
    """`3 min`, or `40 s` under a minute (short test and demo rounds); the same in fr and en."""
    seconds = max(0, round(span.total_seconds()))
    return f"{seconds} s" if seconds < 60 else f"{round(seconds / 60)} min"


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut on a word with « … »: a Matrix event holds 64 KiB, and a
    post listing many long items must still fit. The full text stays in the database."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip() + "…"


def local_date(language: str, moment: datetime, timezone: str) -> str:
    """« mardi 2026-11-24 à 12:00 »: an instant as the group reads it, in its own time zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return text(
        language,
        "checkin.date",
        weekday=text(language, f"days.d{local.weekday()}"),
        date=local.strftime("%Y-%m-%d"),
        time=local.strftime("%H:%M"),
    )
