"""The compiled normalisation (`_pieces.pyx`) gives what the Python code gives.

Why: the compiled module is an optimisation only; what the lists read must not depend on
whether the bot was installed where a C++ compiler was found. `make test` builds it, so these
tests run in CI; where it is not built they are skipped, and `normalise` uses the Python code.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.guards.lexicon import LANGUAGES

pytest.importorskip("bot.guards._pieces", reason="compiled module not built")

# The module, not the function of the same name that `bot.guards` exports.
normalise_module = importlib.import_module("bot.guards.normalise")
DATA = Path(__file__).resolve().parents[1] / "data" / "guards"


def _python(text: str, lang: str) -> str:
    """`normalise` the Python way (`_normalised` never uses the compiled module)."""
    return normalise_module._normalised(
        normalise_module._unusual(text, lang).split(" "), None, lang
    )


def _compiled(text: str, lang: str) -> str | None:
    """`normalise` the compiled way, or None where the compiled module leaves it to Python."""
    pieces = normalise_module._compiled(lang)
    assert pieces is not None
    words = pieces.words(normalise_module._unusual(text, lang))
    return (
        None
        if words is None
        else normalise_module._after(" " + words, normalise_module._rules(lang))
    )


def test_every_labelled_message_reads_the_same() -> None:
    texts = [
        json.loads(line)["text"]
        for name in ("tune.jsonl", "heldout.jsonl")
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
    ]
    assert len(texts) > 10_000
    compiled = 0
    for lang in LANGUAGES:
        for text in texts:
            got = _compiled(text, lang)
            if got is not None:
                compiled += 1
                assert got == _python(text, lang), (text, lang)
            assert normalise_module.normalise(text, lang) == _python(text, lang)
    # Really compiled, not left to Python: typographic apostrophes, « œ » and emoji included.
    assert compiled > 0.95 * 2 * len(texts)


# Apostrophes of every kind, punctuation, whitespace, accents, letters beyond Latin-1, emoji,
# invisible and combining characters, runs of one letter, the words the rewrites look for.
_CHUNKS = st.sampled_from(
    (
        *"abcdejlmnpstuvy '.!?,;:-\t\n\xa0ÉéèàçôœŒæß\u00ad\u200b\u2019\u2018`\u00b4\u0301…ǅﬁ",
        *(
            "🔴",
            "😀",
            "\uff4a\uff45",
            "je",
            "j'",
            "as ",
            "m'as ",
            "m ' as ",
            "pu ",
            "te ",
            "jveux",
            "chu",
        ),
        *("suiside", "'", "no one", "can't", "coooool", "aujourd'hui", "I'm", "\ud800"),
    )
)


@given(st.lists(_CHUNKS, max_size=30).map("".join), st.sampled_from(LANGUAGES))
@settings(max_examples=1500, deadline=None)
def test_any_text_reads_the_same(text: str, lang: str) -> None:
    got = _compiled(text, lang)
    want = _python(text, lang)
    if got is not None:
        assert got == want
    assert normalise_module.normalise(text, lang) == want


def test_a_translation_must_be_ascii() -> None:
    from bot.guards._pieces import Pieces

    pieces = Pieces([" "] * 256, lambda code: "é", {}, "' ", [])
    with pytest.raises(ValueError, match="U\\+2019"):
        pieces.words("j\u2019ai")
    with pytest.raises(ValueError, match="256"):
        Pieces([" "], str, {}, "' ", [])
