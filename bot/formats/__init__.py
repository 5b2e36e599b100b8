"""Check-in formats: the shipped TOML scripts in this package and the loader that checks them.

Formats are data, not code: a group changes its rounds, prompts and timings by editing TOML.
"""

from bot.formats.loader import (
    DEFAULT_FORMAT,
    MAX_ROUND_MINUTES,
    MAX_TEXT_LENGTH,
    Format,
    FormatError,
    Round,
    RoundText,
    builtin_formats,
    load_format,
    load_formats,
    parse_format,
)

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
