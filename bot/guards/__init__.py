"""The guards: crisis safety net, venting signals, technical-issue detection.

Pure code (no transport, no storage, no clock): the runtime feeds messages in and acts on the
answers. Word lists and patterns are data, in `bot/guards/data/`, in French and English.
"""

from bot.guards.classify import (
    BLAME,
    LONG,
    LONG_THRESHOLD,
    Classification,
    classify,
    classify_json,
    classify_lines,
    is_crisis,
    is_red_weather,
    model_view,
    negative,
    to_json,
)
from bot.guards.normalise import detect_language, normalise
from bot.guards.rounds import dominates, far_longer, negative_run


def warm_up() -> None:
    """Load and compile every word list once (a first classification costs most of a second),
    the crisis concepts included (only a message near a crisis reads them)."""
    for lang in ("fr", "en"):
        classify("", lang)
        is_red_weather("", lang)
        negative("", lang)
        model_view("", lang)


__all__ = [
    "BLAME",
    "LONG",
    "LONG_THRESHOLD",
    "Classification",
    "classify",
    "classify_json",
    "classify_lines",
    "detect_language",
    "dominates",
    "far_longer",
    "is_crisis",
    "is_red_weather",
    "negative",
    "negative_run",
    "normalise",
    "to_json",
    "warm_up",
]
