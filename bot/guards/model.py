"""A learned second opinion for the crisis net: a linear score over the words of a message.

Why: the hand-written patterns of `data/crisis.*.toml` are precise, but people in distress
find wordings no list foresaw (« j'ai pu de jus pour rien », "I'm just done with everything"),
and on examples the patterns were not written from they missed one crisis in five. A missed
crisis is far worse than a needless private message, so a second, broader judge votes too:
a message is a crisis when the patterns say so *or* this score is over its threshold.

The model is a logistic regression trained on the labelled tuning set
(`tests/data/guards/tune.jsonl`) by `bench/crisis_model.py`, which also picks the threshold
by cross-validation. Only its weights ship, as data (`data/crisis.model.json`): scoring is a
few dictionary lookups, no numerical library at run time, microseconds per message.

A model file with an `idf` table reads a message as TF-IDF does: each feature counts by its
rarity in the training set (`idf`), and the message's features together are scaled to length
one. Why: summed weights let a long message pile up weak evidence and a short one say too
little (« i have to leave at 3 » scored like a goodbye); scaled, a message is judged by the
share of its words that speak of a crisis. Out of fold, at the same recall (0.98), precision
rose from 0.76 to 0.80 and ordinary room talk flagged fell from 12 % to 10 %.

It reads the same normalised text as the patterns, after negations and figures of speech are
blanked out (« je ne veux pas mourir », « ce dossier me tue »), so it does not have to learn
those again from few examples.

Where the install found a C++ compiler, a message's sums come from a compiled module
(`_model_sums.pyx`: the features looked up in the message's bytes, never built as strings),
about a fifth of the guards' time saved; elsewhere from `read` and `_scaled` below, with the
same answers. `read` stays the definition: the trainer and the tests use it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise, repeat
from typing import Any

from bot.guards import native

try:
    from bot.guards import _model_sums
except ImportError:  # not built: no C++ compiler where the bot was installed (see setup.py)
    _model_sums = None  # type: ignore[assignment]

MODEL_FILE = "crisis.model.json"
PREFIX = 4
"""Long words also count by their first letters: « épuisée », « épuisant » share "epuis"."""

CLINICAL_MARKER = " . @clinical "
"""Added to the text the model reads when the message talks of someone else's risk in
professional terms (the `clinical` list of crisis.fr.toml); the model learns what it weighs."""

BLANKED = "~"
"""Where a negation or a figure of speech was blanked out: a feature of its own, so that
what is left of « I would never hurt myself » (" i ~ ") is not judged on "i" alone."""

_SKIP = ".?!" + BLANKED + ",;:"
"""The tokens that are not words: punctuation, and a blanked span. A pair of words never
spans one."""

SHORT_WORDS = 3
"""A message of this many words or fewer is « short »: too few words for the model to judge
(« je passe », "I don't know", « moi aussi »), so it needs `short_threshold` to vote."""


def word_count(text: str) -> int:
    """The words of a normalised text, without punctuation, blanks or tags."""
    return read(text)[1]


def features(text: str) -> set[str]:
    """The features of a normalised text: words, pairs of neighbouring words, word prefixes.

    A pair never spans punctuation or a blanked span (`~`): « je veux pas ~ mourir » says
    nothing about "veux mourir"; a blanked span is one feature, `BLANKED`. A tag
    (`@clinical`) has no prefix: at run time tags come from `tag_features`, which gives the
    tag alone.
    """
    return read(text)[0]


_BREAK = re.compile(f"([{re.escape(_SKIP)}])" + r"(?<!\S.)(?!\S)")
"""A punctuation or blank token, kept by `split` (odd places) to see whether one is `~`.

The character comes first and the test of what precedes it after (`(?<!\\S.)` is `(?<!\\S)`
taken one character later): a pattern that starts with a set of characters is looked for by
the regex engine alone, where one that starts with a lookbehind is tried at every character
(a third of `read`'s time)."""


def read(text: str) -> tuple[set[str], int]:
    """`features(text)` and `word_count(text)` in one pass, for `decide` (every message).

    Why: this runs on nearly every message, so each stretch between punctuation is handled
    by whole-list operations (`set.update`, `map`) instead of word by word; the pairs are
    joined by `map` over `pairwise` in C, with no Python loop. Mind the order of the updates:
    the set iterates in an order that follows it, and so does the sum of `_scaled`, whose
    last bits may change with it."""
    found: set[str] = set()
    words = 0
    pieces = _BREAK.split(text)
    for segment in pieces[::2]:
        ws = segment.split()
        if not ws:
            continue
        found.update(ws)
        found.update(map(" ".join, pairwise(ws)))
        if "#" in segment or "@" in segment:
            plain = [w for w in ws if w[:1] not in _TAG_STARTS]
        else:
            plain = ws
        words += len(plain)
        found.update([w[:PREFIX] + "-" for w in plain if len(w) > PREFIX])
    if BLANKED in pieces[1::2]:
        found.add(BLANKED)
    return found, words


def probability_of(total: float) -> float:
    """The logistic function of a model's total, clamped so that no total overflows."""
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, total))))


def _logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


@dataclass(frozen=True, slots=True, eq=False)
class CrisisModel:
    """Weights per feature, an intercept and the decision threshold on the probability.

    Tags (features starting with `#` or `@`, see `tag_features`) cost more to find than words,
    so `decide` looks for them only when they could move the score across the threshold.
    With `idf`, the features are weighted by it and scaled to length one (see the module).
    """

    weights: Mapping[str, float]
    bias: float
    threshold: float
    short_threshold: float | None = None
    """The threshold for a short message (`SHORT_WORDS`); None: the same as `threshold`."""
    sensitive_threshold: float | None = None
    """The threshold for a group that chose a more sensitive net (lower than `threshold`)."""
    idf: Mapping[str, float] | None = None
    """Every feature of the training set with its inverse document frequency; None: the
    features' weights are simply added."""

    def total(self, found: Iterable[str]) -> float:
        """The score of a set of features, as a logit: what the threshold is compared with."""
        if self.idf is None:
            return self.bias + self.evidence(found)
        return self._from_sums(*_scaled(self, found))

    def _from_sums(self, weighted: float, squares: float) -> float:
        """A TF-IDF model's score from the sums of `_scaled`: scaled to length one."""
        return self.bias + (weighted / math.sqrt(squares) if squares else 0.0)

    def evidence(self, found: Iterable[str]) -> float:
        """The weights of the features alone, without the intercept."""
        weights = self.weights
        total = 0.0
        for feature in found:
            weight = weights.get(feature)
            if weight is not None:
                total += weight
        return total

    def probability(self, text: str) -> float:
        """How likely a crisis, from 0 to 1, for a normalised (and blanked) text with its tags."""
        return probability_of(self.total(features(text)))

    def decide(self, text: str, tags: Callable[[bool], str], *, sensitive: bool = False) -> bool:
        """Whether `text` plus its tags is a crisis; `tags(concepts)` is called only when the
        tags could change the answer, and asked for concept tags only if the model has any.
        `sensitive`: the group chose the more sensitive threshold."""
        if self.idf is not None:
            weighted, squares, words = _sums(self, text)
            return self._decide_scaled(text, weighted, squares, self._cut(words, sensitive), tags)
        found, words = read(text)
        cut = self._cut(words, sensitive)
        _, low, high = _bounds(self)
        total = self.total(found)
        if total + low >= cut:
            return True
        if total + high < cut:
            return False
        return total + self.evidence(tag_features(tags(_uses_concepts(self)))) >= cut

    def _cut(self, words: int, sensitive: bool) -> float:
        """The threshold, as a score, for a message of `words` words."""
        if self.short_threshold is not None and words <= SHORT_WORDS:
            return _logit(self.short_threshold)
        if sensitive and self.sensitive_threshold is not None:
            return _logit(self.sensitive_threshold)
        return _bounds(self)[0]

    def _decide_scaled(
        self,
        text: str,
        weighted: float,
        squares: float,
        cut: float,
        tags: Callable[[bool], str],
    ) -> bool:
        """`decide` for a TF-IDF model, from the sums of `text`: the tags change the scale
        too, so their reach is bounded from the message's own sums (see `_tag_sums`) before
        they are looked for."""
        negative, positive, extra = _tag_sums(self)
        if not extra:  # the model knows no tag: they cannot change anything
            return self._from_sums(weighted, squares) >= cut
        if squares:
            # Plain arithmetic, no generator: this runs for most messages.
            alone, together = math.sqrt(squares), math.sqrt(squares + extra)
            low = min((weighted + negative) / alone, (weighted + negative) / together)
            high = max((weighted + positive) / alone, (weighted + positive) / together)
            if self.bias + low >= cut:
                return True
            if self.bias + high < cut:
                return False
        return self.total(features(text) | tag_features(tags(_uses_concepts(self)))) >= cut


@cache
def _bounds(model: CrisisModel) -> tuple[float, float, float]:
    """The threshold as a score, and how far all tags together can lower or raise a score."""
    tags = [w for f, w in model.weights.items() if f[:1] in _TAG_STARTS]
    return (
        _logit(model.threshold),
        sum(w for w in tags if w < 0),
        sum(w for w in tags if w > 0),
    )


def _scaled(model: CrisisModel, found: Iterable[str]) -> tuple[float, float]:
    """The sum of weight times idf over the known features, and the sum of their idf squared.

    Why complex numbers: both sums come out of one lookup per feature and one pass at C
    speed (`sum(map(...))`), the weight as the real part and the square as the imaginary
    one. This runs for nearly every message, over a table too large for the processor's
    caches, so a second lookup per feature cost a fifth of the classification's time."""
    terms = _terms(model)
    total = sum(map(terms.get, found, repeat(0j)))
    return total.real, total.imag


def _sums(model: CrisisModel, text: str) -> tuple[float, float, int]:
    """`_scaled(model, features(text))` and `word_count(text)`: compiled when it is built."""
    compiled = _compiled(model)
    if compiled is not None:
        try:
            return compiled.of_text(text)
        except UnicodeEncodeError:
            # A lone surrogate has no UTF-8 form (normalised text never holds one, but `decide`
            # may be given any text): the Python sums read it.
            pass
    found, words = read(text)
    weighted, squares = _scaled(model, found)
    return weighted, squares, words


@cache
def _compiled(model: CrisisModel) -> _model_sums.Sums | None:
    """The model's table for the compiled sums (see `_model_sums.pyx`), or None when that module
    is not built or not wanted (`native.PURE_PYTHON`)."""
    if _model_sums is None or not native.wanted():
        return None
    return _model_sums.Sums(_terms(model), PREFIX, _SKIP, BLANKED)


def compiled() -> bool:
    """Whether the shipped model's sums are computed by the compiled module."""
    return _compiled(crisis_model()) is not None


@cache
def _terms(model: CrisisModel) -> dict[str, complex]:
    """Per known feature, complex(weight times idf, idf squared) (see `_scaled`)."""
    idf = model.idf or {}
    weights = model.weights
    return {f: complex(weights.get(f, 0.0) * value, value * value) for f, value in idf.items()}


@cache
def _tag_sums(model: CrisisModel) -> tuple[float, float, float]:
    """Of all tags together: the negative and the positive weight times idf, and the idf
    squared: the most they can lower or raise a message's weighted sum, and add to its
    squares."""
    tags = [term for f, term in _terms(model).items() if f[:1] in _TAG_STARTS]
    return (
        sum(term.real for term in tags if term.real < 0),
        sum(term.real for term in tags if term.real > 0),
        sum(term.imag for term in tags),
    )


@cache
def _uses_concepts(model: CrisisModel) -> bool:
    return any(feature.startswith("#") for feature in model.weights)


_TAG_STARTS = ("#", "@")


def tag_features(tags: str) -> set[str]:
    """The tags of a text (`" . #death . @clinical"`) as features."""
    return {word for word in tags.split() if word[:1] in _TAG_STARTS}


def from_json(data: Mapping[str, Any]) -> CrisisModel:
    """A model from its JSON form; raises ValueError when the file is not one."""
    try:
        weights = {str(k): float(v) for k, v in dict(data["weights"]).items()}
        bias, threshold = float(data["bias"]), float(data["threshold"])
        short = data.get("short_threshold")
        short_threshold = None if short is None else float(short)
        sensitive = data.get("sensitive_threshold")
        sensitive_threshold = None if sensitive is None else float(sensitive)
        raw_idf = data.get("idf")
        idf = None if raw_idf is None else {str(k): float(v) for k, v in dict(raw_idf).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{MODEL_FILE}: not a crisis model ({type(exc).__name__})") from None
    for value in (threshold, short_threshold, sensitive_threshold):
        if value is not None and not 0.0 < value < 1.0:
            raise ValueError(f"{MODEL_FILE}: thresholds must be between 0 and 1")
    if sensitive_threshold is not None and sensitive_threshold > threshold:
        raise ValueError(f"{MODEL_FILE}: the sensitive threshold must not exceed the threshold")
    if idf is not None and (any(v <= 0 for v in idf.values()) or not set(weights) <= set(idf)):
        raise ValueError(f"{MODEL_FILE}: idf must be positive and cover every weighted feature")
    return CrisisModel(weights, bias, threshold, short_threshold, sensitive_threshold, idf)


@cache
def crisis_model() -> CrisisModel:
    """The shipped model, read once."""
    raw = resources.files("bot.guards").joinpath("data").joinpath(MODEL_FILE).read_text("utf-8")
    return from_json(json.loads(raw))
