"""`HALTE_PURE_PYTHON` turns every compiled part of the guards off, and the answers stay.

Why: `bench/guards_eval.py --pure` measures what the compiled parts gain, and whoever deploys
the bot may need the Python code alone; `make test` builds the parts, so this runs in CI.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from bot.guards import classify, native
from bot.guards.model import crisis_model

pytest.importorskip("bot.guards._model_sums", reason="compiled module not built")
pytest.importorskip("bot.guards._pieces", reason="compiled module not built")

# The modules, not the functions of the same names that `bot.guards` exports.
model = importlib.import_module("bot.guards.model")
normalise = importlib.import_module("bot.guards.normalise")

_MESSAGES = [
    ("J\u2019veux pu rien savoir, chu brûlée", "fr"),
    ("je veux mourir ce soir", "fr"),
    ("Le formulaire AH-223 bogue encore", "fr"),
    ("I can't go on, everyone would be better off without me", "en"),
]


@pytest.fixture
def fresh() -> Iterator[None]:
    """The compiled parts looked up again, before and after (they are remembered)."""
    model._compiled.cache_clear()
    normalise._compiled.cache_clear()
    yield
    model._compiled.cache_clear()
    normalise._compiled.cache_clear()


def test_the_switch_turns_every_compiled_part_off(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert model.compiled()
    assert normalise.compiled()
    compiled = [classify(text, lang) for text, lang in _MESSAGES]
    texts = [normalise.normalise(text, lang) for text, lang in _MESSAGES]
    sums = model._sums(crisis_model(), " je veux mourir ce soir ")
    model._compiled.cache_clear()
    normalise._compiled.cache_clear()
    monkeypatch.setenv(native.PURE_PYTHON, "1")
    assert not model.compiled()
    assert not normalise.compiled()
    assert [classify(text, lang) for text, lang in _MESSAGES] == compiled
    assert [normalise.normalise(text, lang) for text, lang in _MESSAGES] == texts
    assert texts[0] == " je veux plus rien savoir je suis brule "
    # Only the order of the additions differs (see `_model_sums.pyx`).
    assert model._sums(crisis_model(), " je veux mourir ce soir ") == pytest.approx(sums)


@pytest.mark.parametrize("value", ["", "0"])
def test_empty_or_zero_leaves_them_on(
    fresh: None, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(native.PURE_PYTHON, value)
    assert native.wanted()
    assert model.compiled()
    assert normalise.compiled()
