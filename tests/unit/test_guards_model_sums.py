"""The compiled sums of the crisis model (`_model_sums.pyx`) give what the Python ones give.

Why: the compiled module is an optimisation only; the answers must not depend on whether the
bot was installed where a C++ compiler was found. `make test` builds it, so these tests run in
CI; where it is not built they are skipped, and the bot uses the Python sums.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.guards import model
from bot.guards.classify import model_view
from bot.guards.model import _SKIP, BLANKED, PREFIX, _scaled, _terms, crisis_model, read

sums_module = pytest.importorskip("bot.guards._model_sums", reason="compiled module not built")

DATA = Path(__file__).resolve().parents[1] / "data" / "guards"


def _python(m: model.CrisisModel, text: str) -> tuple[float, float, int]:
    found, words = read(text)
    weighted, squares = _scaled(m, found)
    return weighted, squares, words


def _assert_same(got: tuple[float, float, int], want: tuple[float, float, int]) -> None:
    # Only the order of the additions differs: equal but for the last bits.
    assert got[0] == pytest.approx(want[0], rel=1e-12, abs=1e-12)
    assert got[1] == pytest.approx(want[1], rel=1e-12, abs=1e-12)
    assert got[2] == want[2]


def _labelled_views() -> Iterator[str]:
    for name in ("tune.jsonl", "heldout.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            # The text the model reads, tags included (tags are words without prefixes).
            yield model_view(row["text"], row["lang"])


def test_every_labelled_message_gets_the_python_sums() -> None:
    shipped = crisis_model()
    compiled = sums_module.Sums(_terms(shipped), PREFIX, _SKIP, BLANKED)
    views = list(_labelled_views())
    assert len(views) > 10_000
    hits = 0
    for text in views:
        want = _python(shipped, text)
        _assert_same(compiled.of(text.split()), want)
        assert compiled.of_text(text) == compiled.of(text.split())
        hits += want[1] > 0
    assert hits > len(views) * 0.9  # the table was really read, not just empty sums


# Words that share a prefix, accents and emoji (prefixes count code points, not bytes),
# punctuation and blanked spans (pairs never span them), tags (no prefix, not counted).
_WORDS = st.sampled_from(
    [
        "je",
        "veux",
        "mourir",
        "epuisee",
        "epuisant",
        "épuisée",
        "ça",
        "😢😢😢😢😢",
        "a😢bcd",
        "#death",
        "@clinical",
        "@bob:hs",
        "~",
        ".",
        ",",
        "?",
        "...",
        "x-",
        "abcd-",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=14), st.lists(_WORDS, min_size=1, max_size=30), st.randoms())
def test_any_text_gets_the_python_sums(
    known: list[str], words: list[str], rng: random.Random
) -> None:
    # A model that knows the features of another text, with arbitrary weights.
    features, _ = read(" " + " ".join(known) + " ")
    idf = {f: 0.5 + rng.random() * 5 for f in sorted(features)}
    weights = {f: rng.uniform(-3, 3) for f in idf}
    m = model.CrisisModel(weights, bias=-1.0, threshold=0.5, idf=idf)
    compiled = sums_module.Sums(_terms(m), PREFIX, _SKIP, BLANKED)
    text = " " + " ".join(words) + " "
    _assert_same(compiled.of(text.split()), _python(m, text))
    assert compiled.of_text(text) == compiled.of(text.split())


# What `str.split()` splits at: ASCII whitespace and separators, and beyond ASCII more spaces
# (no-break, em, ideographic), which `of_text` leaves to Python.
_SPACES = st.sampled_from(
    [" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\xa0", "\u2003"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_WORDS, _SPACES), max_size=20), _SPACES)
def test_the_text_is_split_as_str_split_does(pieces: list[tuple[str, str]], first: str) -> None:
    compiled = sums_module.Sums(_terms(crisis_model()), PREFIX, _SKIP, BLANKED)
    text = first + "".join(word + space for word, space in pieces)
    assert compiled.of_text(text) == compiled.of(text.split())


def test_a_feature_counts_once_however_often_it_comes() -> None:
    m = model.CrisisModel({"nuit": 1.0}, bias=0.0, threshold=0.5, idf={"nuit": 2.0})
    compiled = sums_module.Sums(_terms(m), PREFIX, _SKIP, BLANKED)
    assert compiled.of(["nuit", "nuit", ".", "nuit"]) == (2.0, 4.0, 3)
    assert compiled.of(["jour"]) == (0.0, 0.0, 1)  # and the next message starts afresh
    assert compiled.of(["nuit"]) == (2.0, 4.0, 1)


def test_a_long_message_then_a_short_one_get_the_python_sums() -> None:
    # The compiled sums note every feature before adding any (see `Sums.of`): a message of
    # thousands of words grows those buffers many times over, and the next one reuses them.
    shipped = crisis_model()
    compiled = sums_module.Sums(_terms(shipped), PREFIX, _SKIP, BLANKED)
    words = [f"mot{n % 700} epuisee{n % 13}" for n in range(3000)]
    long_text = " " + " je veux mourir . ".join(words) + " "
    for text in (long_text, " je suis epuisee ", long_text):
        _assert_same(compiled.of(text.split()), _python(shipped, text))


def test_the_table_must_know_what_a_blanked_span_looks_like() -> None:
    with pytest.raises(ValueError, match="blanked"):
        sums_module.Sums({}, PREFIX, _SKIP, "#")


def test_a_text_without_utf8_form_gets_the_python_sums() -> None:
    # A lone surrogate (JSON may carry one) cannot be read as UTF-8 by the compiled module.
    text = " je veux \ud800mourir ce soir "
    compiled = sums_module.Sums(_terms(crisis_model()), PREFIX, _SKIP, BLANKED)
    with pytest.raises(UnicodeEncodeError):
        compiled.of(text.split())
    assert model._sums(crisis_model(), text) == _python(crisis_model(), text)
