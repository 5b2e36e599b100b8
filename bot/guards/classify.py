"""One message in, what the guards should do about it out: crisis, technical, venting signals.

Pure and fast on purpose: the crisis net runs on every message of every room the bot is in,
so it must answer in microseconds, never block the event loop, and be testable without a
server. Word lists and patterns live in `data/*.toml` (loaded and compiled once, on first
use); this module only combines them.

The crisis decision leans towards recall, as the issue asks: a needless private message costs
little, a missed crisis a great deal. So both languages' crisis lists are read on every
message (staff in Québec switch languages mid-sentence), negations and figures of speech only
blank out their own words, and talk about a patient's risk in professional terms only silences
the `generic` list, never a first-person statement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from bot.guards.lexicon import LANGUAGES, Keyed, Labelled, Tokens, expand, load, macros_of, strings
from bot.guards.model import CLINICAL_MARKER, CrisisModel, crisis_model
from bot.guards.normalise import normalise, prepare

LONG_THRESHOLD = 600
"""Characters over which one message is `long` (a venting signal); groups may change it."""

BLAME = "blame"
LONG = "long"
_BLANK = " ~ "  # not a word character: a pattern's gap cannot run across a blanked span


class Classification(NamedTuple):
    """What the guards make of one message.

    `venting` holds the single-message signals, in a fixed order: "blame", then "long".
    A named tuple, not a frozen dataclass: one is made for every message, and a frozen
    dataclass's `__init__` cost 2.1 µs against 0.6 µs (as immutable, same repr).
    """

    crisis: bool
    technical: bool
    venting: tuple[str, ...]
    lang: str


@dataclass(frozen=True, slots=True)
class _CrisisLists:
    blank: Keyed
    direct: Keyed
    generic: Keyed
    clinical: Keyed
    # Per language, the concepts written first in the combos: every combo needs one of them,
    # so a message without any is done with in one quick search.
    anchors: dict[str, Keyed]
    # direct, generic and all anchors in one list: most messages match none of them, and one
    # search that says so costs less than three.
    screen: Keyed


@dataclass(frozen=True, slots=True)
class _Concepts:
    lists: Labelled
    combos: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _TechnicalLists:
    lists: Labelled
    threshold: int
    threshold_in_crisis: int
    # A message is technical about something: without a work object, an agenda word or a
    # minor object there is nothing to park, whatever else it says (and nothing more to read).
    topic: Keyed


# Each distinct term a list finds adds its weight (see data/technical.fr.toml).
_TECHNICAL_WEIGHTS = {
    "objects": 2,
    "minor": 1,
    "problems": 1,
    "asks": 1,
    "agenda": 2,
    "personal": -2,
}


@dataclass(frozen=True, slots=True)
class _VentingLists:
    blame: Keyed
    targets: Keyed
    accusations: Keyed
    mood: Labelled
    screen: Keyed  # blame and accusations together: most messages have neither


@dataclass(frozen=True, slots=True)
class _WeatherLists:
    red: Keyed
    own_red: Keyed
    not_red: Keyed
    past: Keyed
    other_colours: Keyed


@cache
def _crisis_lists() -> _CrisisLists:
    """Both languages' lists together: code-switching is common in Québec (« chu tellement
    done, I can't go on »), and a missed crisis costs far more than the extra lookups."""
    lists: dict[str, list[str]] = {"blank": [], "direct": [], "generic": [], "clinical": []}
    anchors: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        data = load("crisis", lang)
        macros = macros_of(data)
        for key, sources in (
            ("blank", strings(data, "cancel") + strings(data, "figurative")),
            ("direct", strings(data, "direct")),
            ("generic", strings(data, "generic")),
            ("clinical", strings(data, "clinical")),
        ):
            lists[key].extend(expand(source, macros) for source in sources)
        # Every combo needs the concept written first in it: a message with none of those
        # cannot meet a combo, and is done with in the same pass as the other lists.
        table = data.get("concepts", {})
        firsts = sorted({pair[0] for pair in data.get("combos", []) if pair and pair[0] in table})
        anchors[lang] = [
            expand(source, macros) for name in firsts for source in strings(table, name)
        ]
    return _CrisisLists(
        **{key: Keyed(sources, spans=key == "blank") for key, sources in lists.items()},
        anchors={lang: Keyed(sources) for lang, sources in anchors.items()},
        screen=Keyed(
            lists["direct"] + lists["generic"] + [s for group in anchors.values() for s in group]
        ),
    )


@cache
def _concepts(lang: str) -> _Concepts:
    """One language's concepts: single words, so not mixed across languages (squeezed, the
    English "soon" is the French « son »)."""
    data = load("crisis", lang)
    table = data.get("concepts", {})
    combos = []
    for pair in data.get("combos", []):
        if not (isinstance(pair, list) and len(pair) == 2 and set(pair) <= set(table)):
            raise ValueError(f"crisis.{lang}.toml: combo {pair!r} must name two concepts")
        combos.append((pair[0], pair[1]))
    lists = Labelled({name: strings(table, name) for name in table}, macros_of(data))
    return _Concepts(lists, tuple(combos))


def _keyed(data: Mapping[str, Any], *keys: str, spans: tuple[str, ...] = ()) -> list[Keyed]:
    macros = macros_of(data)
    return [Keyed(strings(data, key), macros, spans=key in spans) for key in keys]


@cache
def _technical_lists(lang: str) -> _TechnicalLists:
    data = load("technical", lang)
    threshold = data.get("threshold", 2)
    in_crisis = data.get("threshold_in_crisis", threshold)
    if not isinstance(threshold, int) or not isinstance(in_crisis, int):
        raise TypeError("technical thresholds must be integers")
    macros = macros_of(data)
    lists = Labelled({key: strings(data, key) for key in _TECHNICAL_WEIGHTS}, macros)
    topic = Keyed([s for key in ("objects", "agenda", "minor") for s in strings(data, key)], macros)
    return _TechnicalLists(lists, threshold, in_crisis, topic)


@cache
def _venting_lists(lang: str) -> _VentingLists:
    data = load("venting", lang)
    macros = macros_of(data)
    blame, targets, accusations, screen = (
        Keyed(sources, macros)
        for sources in (
            strings(data, "blame"),
            strings(data, "targets"),
            strings(data, "accusations"),
            strings(data, "blame") + strings(data, "accusations"),
        )
    )
    mood = Labelled({key: strings(data, key) for key in ("negative", "positive")}, macros)
    return _VentingLists(blame, targets, accusations, mood, screen)


@cache
def _weather_lists(lang: str) -> _WeatherLists:
    return _WeatherLists(
        *_keyed(
            load("weather", lang),
            *("red", "own_red", "not_red", "past", "other_colours"),
            spans=("not_red", "past"),
        )
    )


def _blanked(tokens: Tokens) -> Tokens:
    """The message with negations and figures of speech blanked out (see crisis.fr.toml)."""
    kept = _crisis_lists().blank.blank(tokens, _BLANK)
    return tokens if kept is tokens.text else Tokens(kept)


def _crisis(tokens: Tokens, lang: str, rest: Tokens | None = None) -> bool:
    """What the patterns say; `rest` is `_blanked(tokens)` when the caller has it already."""
    lists = _crisis_lists()
    if rest is None:
        rest = _blanked(tokens)
    # The lists below are all in the screen: they need not read the text before its match.
    start = lists.screen.first(rest)
    if start < 0:
        return False
    if lists.direct.search(rest, start):
        return True
    # Concepts only in the message's language: single words mean different things.
    if not lists.generic.search(rest, start) and not (
        lists.anchors[lang].search(rest, start) and _concepts_meet(_concepts(lang), rest)
    ):
        return False
    # Clinical markers are read in the whole message, blanked spans included.
    return not lists.clinical.search(tokens)


def _tags(tokens: Tokens, rest: Tokens, lang: str, concepts: bool = True) -> str:
    """A tag per crisis concept found in the blanked text (`#death`, `#means`…: word classes
    generalise where few examples cannot), and one when the whole message talks of someone
    else's risk in professional terms (`@clinical`)."""
    tags = []
    if concepts:
        tags = [f" . #{name}" for name in _concepts(lang).lists.found(rest, overlapping=True)]
    if _crisis_lists().clinical.search(tokens):
        tags.append(CLINICAL_MARKER)
    return "".join(tags)


def _model_crisis(
    tokens: Tokens,
    lang: str,
    rest: Tokens | None = None,
    *,
    sensitive: bool = False,
    model: CrisisModel | None = None,
) -> bool:
    """What the learned model says of the blanked text and its tags (see `model.py`);
    `model`: another than the shipped one (`bench/crisis_model.py` checks a trained model
    reads at run time what it was trained on)."""
    blanked = _blanked(tokens) if rest is None else rest
    return (model or crisis_model()).decide(
        blanked.text, lambda concepts: _tags(tokens, blanked, lang, concepts), sensitive=sensitive
    )


def _concepts_meet(concepts: _Concepts, tokens: Tokens) -> bool:
    """Whether two concepts of a combo are in the message (see `combos` in crisis.fr.toml)."""
    found = concepts.lists.found(tokens, overlapping=True)
    for first, second in concepts.combos:
        if first == second:
            # The same concept twice: two different terms of it (« papiers en ordre », « écrit
            # à ma sœur »).
            if len(found.get(first, ())) >= 2:
                return True
        elif first in found and second in found:
            return True
    return False


# Quoted speech: « … », “…”, "…". A patient's words reported in clinical terms are not the
# member's own (« Une patiente m'a dit « je veux en finir » au triage »).
_QUOTED = re.compile(r"«[^»]*»|“[^”]*”|\"[^\"]*\"")


def _reported(raw: str, lang: str, sensitive: bool = False) -> bool:
    """Whether a crisis found in `raw` lies only inside quotes reported from a clinical context."""
    if not _QUOTED.search(raw):
        return False
    outside = Tokens(normalise(_QUOTED.sub(" . ", raw), lang))
    return (
        _crisis_lists().clinical.search(outside)
        and not _crisis(outside, lang)
        and not _model_crisis(outside, lang, sensitive=sensitive)
    )


# Words without which no colour answer can be red: a cheap test before the lists.
_RED_WORDS = ("rouge", "red", "critiq", "critical", "arete", "stop")


def _own_red(tokens: Tokens, lang: str) -> bool:
    """A red colour given as one's own, outside the colour round too (« Rouge. », "I'm at red")."""
    text = tokens.text
    for word in _RED_WORDS:
        if word in text:
            break
    else:
        return False
    for code in (lang, *(other for other in LANGUAGES if other != lang)):
        lists = _weather_lists(code)
        if not lists.red.search(tokens):
            continue
        rest = Tokens(lists.not_red.blank(tokens, _BLANK))
        if lists.own_red.search(rest):
            return True
    return False


def _is_crisis(
    raw: str, tokens: Tokens, lang: str, *, learned: bool = True, sensitive: bool = False
) -> bool:
    """The patterns, a red given as one's own, or the learned model: any of them is enough.

    The model is asked first: it reads a message in a third of the time the patterns take
    (its sums are compiled, the patterns are a megabyte of regular expressions), so a message
    it flags is done with sooner; one it does not flag costs the same as the other way round.
    Either way the answer is the same (both are pure)."""
    rest = _blanked(tokens)
    if (learned and _model_crisis(tokens, lang, rest, sensitive=sensitive)) or _crisis(
        tokens, lang, rest
    ):
        return not _reported(raw, lang, sensitive)
    return _own_red(tokens, lang)


def _technical(tokens: Tokens, lang: str, crisis: bool = False) -> bool:
    """Each distinct term found adds its list's weight (see data/technical.fr.toml); a crisis
    message needs more, as the labelling guide asks (a crisis that names the schedule is not a
    point for the meeting)."""
    lists = _technical_lists(lang)
    if not lists.topic.search(tokens):
        return False
    found = lists.lists.found(tokens)
    score = sum(_TECHNICAL_WEIGHTS[label] * len(terms) for label, terms in found.items())
    return score >= (lists.threshold_in_crisis if crisis else lists.threshold)


# A capitalised word, anywhere: a person's name when it is not a common word (« Julie a encore…
# », "Mike told the whole team…"); the stop words of both languages and `not_names` are not.
_NAME = re.compile(r"(?<![\w'\u2019])[A-ZÀ-Ý][a-zà-ÿ]+(?:-[A-ZÀ-Ý][a-zà-ÿ]+)?\b")
_MENTION = re.compile(r"@[\w.=-]+(?::[\w.-]+)?")


@cache
def _not_names() -> frozenset[str]:
    """Capitalised words that are not people: `not_names` and the stop words, both languages."""
    words: set[str] = set()
    for lang in LANGUAGES:
        words.update(
            normalise(word, lang).strip() for word in strings(load("venting", lang), "not_names")
        )
        words.update(strings(load("normalise", lang).get("detect", {}), "words"))
    return frozenset(words)


def _names_someone(raw: str) -> bool:
    if "@" in raw and _MENTION.search(raw):
        return True
    not_names = _not_names()
    for match in _NAME.finditer(raw):
        word = match.group()
        if len(word) < 3 or word.endswith(("ment", "ly")):
            continue
        if normalise(word, "fr").strip() not in not_names:
            return True
    return False


def _blame(raw: str, tokens: Tokens, lang: str) -> bool:
    lists = _venting_lists(lang)
    if not lists.screen.search(tokens):
        return False
    if lists.blame.search(tokens):
        return True
    if not lists.accusations.search(tokens):
        return False
    return lists.targets.search(tokens) or _names_someone(raw)


def classify(
    text: str,
    lang: str | None = None,
    *,
    long_threshold: int = LONG_THRESHOLD,
    sensitive: bool = False,
) -> Classification:
    """Classify one message; `lang` ("fr", "en", "fr-CA"…) is detected when missing.

    `sensitive`: the group chose the more sensitive crisis net (see `model.py`).

    Raises ValueError for a language other than French or English.
    """
    language, norm = prepare(text, lang)
    tokens = Tokens(norm)
    venting: list[str] = []
    if _blame(text, tokens, language):
        venting.append(BLAME)
    if len(text) > long_threshold and len(text.strip()) > long_threshold:
        venting.append(LONG)
    crisis = _is_crisis(text, tokens, language, sensitive=sensitive)
    return Classification(
        crisis=crisis,
        technical=_technical(tokens, language, crisis),
        venting=tuple(venting),
        lang=language,
    )


def is_crisis(
    text: str, lang: str | None = None, *, learned: bool = True, sensitive: bool = False
) -> bool:
    """Only the crisis net, for a caller that needs nothing else.

    `learned=False` leaves out the learned model (`model.py`): the patterns alone, which is
    what `bench/crisis_model.py` needs to measure what the model adds.
    """
    language, norm = prepare(text, lang)
    return _is_crisis(text, Tokens(norm), language, learned=learned, sensitive=sensitive)


def model_view(text: str, lang: str | None = None, *, concepts: bool = True) -> str:
    """The text the learned crisis model reads, tags included, for `bench/crisis_model.py`."""
    language, norm = prepare(text, lang)
    tokens = Tokens(norm)
    rest = _blanked(tokens)
    return rest.text + _tags(tokens, rest, language, concepts)


def is_red_weather(text: str, lang: str | None = None) -> bool:
    """Whether an answer at the colour round gives one's own colour as red (🔴, « rouge »).

    For the runtime to call during the « Météo » round, where any red counts: « entre orange
    et rouge », « rouge… ». Negated, past or idiomatic reds are not red (« pas rouge »,
    « hier rouge, aujourd'hui jaune », « je vois rouge », "red tape").

    `classify` also flags red as a crisis, everywhere, but only when it is given as one's own
    colour (« Rouge. », « je suis dans le rouge », "I'm at red"), so that a late answer to the
    round or a member's own word is never missed, while « le voyant rouge clignote » is not a
    crisis. The runtime should treat either as the same safety signal.
    """
    language, norm = prepare(text, lang)
    tokens = Tokens(norm)
    for code in (language, *(other for other in LANGUAGES if other != language)):
        lists = _weather_lists(code)
        rest = Tokens(lists.not_red.blank(tokens, _BLANK))
        if lists.other_colours.search(rest):
            rest = Tokens(lists.past.blank(rest, _BLANK))
        if lists.red.search(rest):
            return True
    return False


def negative(text: str, lang: str | None = None) -> float:
    """How negative a message reads, from 0 (not at all) to 1, for a "what helps" round.

    A crude lexicon score on purpose (negative words minus positive ones, three net negative
    words make 1.0): the round-level rule only needs to see a run of clearly negative messages.
    """
    language, norm = prepare(text, lang)
    found = _venting_lists(language).mood.found(Tokens(norm))
    net = len(found.get("negative", ())) - len(found.get("positive", ()))
    return max(0.0, min(1.0, net / 3))


def to_json(c: Classification) -> dict[str, Any]:
    """The wire form of `halte classify`: exactly crisis, technical and venting."""
    return {"crisis": c.crisis, "technical": c.technical, "venting": list(c.venting)}


def classify_json(text: str, lang: str | None = None, *, sensitive: bool = False) -> str:
    """One JSON line for `halte classify --text`; `sensitive`: as a group at « élevée »."""
    return json.dumps(to_json(classify(text, lang, sensitive=sensitive)), ensure_ascii=False)


def _error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


def classify_lines(
    lines: Iterable[str], *, long_threshold: int = LONG_THRESHOLD, sensitive: bool = False
) -> Iterator[str]:
    """`halte classify`: JSON Lines in (`{"text": ..., "lang": ...}`), one JSON line out each.
    `sensitive`: the crisis net as in a group that chose the sensitive setting.

    A line that cannot be classified (bad JSON, no text, unknown language, even a blank line)
    gives `{"error": "..."}` in its place, so that output line n always answers input line n.
    """
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield _error(f"invalid JSON: {exc}")
            continue
        if not isinstance(item, Mapping):
            yield _error("expected a JSON object with a text field")
            continue
        text, lang = item.get("text"), item.get("lang")
        if not isinstance(text, str):
            yield _error("the text field must be a string")
            continue
        if lang is not None and not isinstance(lang, str):
            yield _error("the lang field must be a string or absent")
            continue
        try:
            result = classify(text, lang, long_threshold=long_threshold, sensitive=sensitive)
        except ValueError as exc:
            yield _error(str(exc))
            continue
        yield json.dumps(to_json(result), ensure_ascii=False)
