"""The guards' speed-ups must not change a single answer.

`derive.py` rewrites patterns, `Keyed` and `Labelled` search one regex per list instead of one
per key and token, and the normalisation works piece by piece: each is checked here against
the plain way of doing the same thing (a pattern tried at every token, the normalisation of the
whole text), on the tuning set and on generated patterns and texts.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.guards.classify import _blanked, _crisis_lists
from bot.guards.derive import EMPTY, Underivable, derive
from bot.guards.lexicon import (
    LANGUAGES,
    Keyed,
    Labelled,
    Tokens,
    _literal_first,
    expand,
    first_keys,
    load,
    macros_of,
    strings,
)
from bot.guards.normalise import _base, _finish, _Rules, _rules, normalise

ROOT = Path(__file__).resolve().parents[2]
TUNE = ROOT / "tests" / "data" / "guards" / "tune.jsonl"


# -- derivatives -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "known", "expected"),
    [
        (r"\bje (?:(?:ne|pas) )*veux", "je ", "(?:(?:ne|pas) )*veux"),
        (r"\b(?:je )?(?:ne )?suis", "je ", "(?:ne )?suis"),
        (r"\b(?:je )?(?:ne )?suis", "sui", "s"),
        (r"\bsuicid\w*", "sui", r"cid\w*"),
        (r"\bje\b", "je ", ""),  # the match ends within the known characters
        (r"\bje(?! )", "je ", EMPTY),
        (r"\bme (?:tue)\b(?<!peur que il me tue)", "me ", r"tue\b(?<!peur que il me tue)"),
        (r"(?<= a )me couper", "me ", "(?<= a me )couper"),
        (r"\bmot\b", "mot", r"\b"),
        (r"\bxyz", "je ", EMPTY),
    ],
)
def test_derive_examples(pattern: str, known: str, expected: str) -> None:
    assert derive(pattern, known) == expected


@pytest.mark.parametrize("pattern", [r"\b(a)\1", r"(?i)je", r"je(?P=x)", r"(?>je)"])
def test_derive_refuses_what_it_cannot_do_exactly(pattern: str) -> None:
    with pytest.raises(Underivable):
        derive(pattern, "je ")


# Small patterns over a small alphabet, with every construct the data files use.
_ATOMS = st.sampled_from(
    (
        *("a", "b", "ab", "ba", " ", r"\b", r"\w", "[ab]", "[^ ]", ".", r"\ ", "(?=a)"),
        *("(?!b)", "(?<=a)", "(?<! )", "(?<=b )", "$", "^"),
    )
)


def _patterns() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        group = st.lists(inner, min_size=1, max_size=3).map(lambda xs: "(?:" + "|".join(xs) + ")")
        quantifier = st.sampled_from(["", "?", "*", "+", "{0,2}", "{1,2}?", "??", "*?"])
        quantified = st.tuples(group, quantifier).map("".join)
        return st.lists(st.one_of(inner, quantified), min_size=1, max_size=4).map("".join)

    return st.recursive(_ATOMS, extend, max_leaves=8)


@given(
    _patterns(),
    st.sampled_from(["a", "b", "ab", "ba ", "a ", "aba", "bb", "ab "]),
    st.lists(st.sampled_from(["a", "b", "ab", "ba", "aab", "bab"]), min_size=1, max_size=6),
)
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
def test_derivative_matches_exactly_where_the_pattern_does(
    pattern: str, known: str, words: list[str]
) -> None:
    try:
        compiled = re.compile(pattern, re.ASCII)
    except re.error:
        return
    try:
        rest = re.compile(derive(pattern, known), re.ASCII)
    except Underivable:
        return
    text = " " + " ".join(words) + " "
    for start in range(1, len(text)):
        if text[start - 1] == " " and text.startswith(known, start):
            expected = compiled.match(text, start) is not None
            assert (rest.match(text, start + len(known)) is not None) == expected, (text, start)


# -- keyed lists against the plain way ----------------------------------------------------------


def _token_starts(text: str) -> Iterable[tuple[int, str]]:
    """Every token start and the token's key, as `Tokens` defines them."""
    for start in range(1, len(text)):
        if text[start - 1] == " " and text[start] != " ":
            word = text[start : text.index(" ", start)]
            yield start, word[:3] if len(word) >= 3 else word + " "


@cache
def _texts() -> list[str]:
    lines = TUNE.read_text("utf-8").splitlines()
    raw = [json.loads(line)["text"] for line in lines if line.strip()]
    return [normalise(text, lang) for text in raw for lang in LANGUAGES]


def _lists() -> dict[str, tuple[list[str], dict[str, str]]]:
    found = {}
    for guard in ("crisis", "technical", "venting", "weather"):
        for lang in LANGUAGES:
            data = load(guard, lang)
            for key, value in data.items():
                if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                    found[f"{guard}.{lang}.{key}"] = (list(value), macros_of(data))
    return found


@pytest.mark.parametrize("name", sorted(_lists()))
def test_keyed_search_and_matches_answer_as_every_token_tried(name: str) -> None:
    sources, macros = _lists()[name]
    keyed = Keyed(sources, macros)
    plain: dict[str, list[re.Pattern[str]]] = {}
    always: list[re.Pattern[str]] = []
    for raw in sources:
        source = expand(raw, macros)
        keys = first_keys(source)
        compiled = re.compile(source, re.ASCII)
        if keys is None:
            always.append(compiled)
        for key in keys or ():
            plain.setdefault(key, []).append(compiled)
    by_key = keyed._by_key
    for text in _texts():
        tokens = Tokens(text)
        expected = any(
            pattern.match(text, start)
            for start, key in _token_starts(text)
            for pattern in plain.get(key, ())
        ) or any(pattern.search(text) for pattern in always)
        assert keyed.search(tokens) == expected, text
        # matches(): the same matches as trying each key's patterns at each of its tokens.
        found = [
            m
            for start, key in _token_starts(text)
            if key in by_key and (m := by_key[key].match(text, start))
        ]
        if keyed._always:
            found.extend(keyed._always.finditer(text))
        found.sort(key=lambda m: (m.start(), -m.end()))
        kept, end = [], -1
        for m in found:
            if m.start() >= end:
                kept.append(m.span())
                end = m.end()
        assert [m.span() for m in keyed.matches(tokens)] == kept, text


def test_a_sublist_searched_from_where_the_screen_first_matches_answers_as_from_the_start() -> None:
    lists = _crisis_lists()
    parts = {"direct": lists.direct, "generic": lists.generic, **lists.anchors}
    for text in _texts():
        rest = _blanked(Tokens(text))
        start = lists.screen.first(rest)
        assert (start >= 0) == lists.screen.search(rest), text
        for name, part in parts.items():
            if start < 0:
                assert not part.search(rest), (name, text)
            else:
                assert part.search(rest, start) == part.search(rest), (name, text)


def test_first_is_zero_when_only_a_pattern_searched_everywhere_matches() -> None:
    keyed = Keyed([r"\bje veux\b", r"[a-z]+ mourir\b"])
    assert keyed.first(Tokens(" bon . je veux ")) == 6
    assert keyed.first(Tokens(" bon . va mourir ")) == 0
    assert keyed.first(Tokens(" bon . ")) == -1


@pytest.mark.parametrize(
    ("guard", "keys"),
    [
        ("technical", ("objects", "minor", "problems", "asks", "agenda", "personal")),
        ("venting", ("negative", "positive")),
        ("crisis", None),
    ],
)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_labelled_found_answers_as_every_token_tried(
    guard: str, keys: tuple[str, ...] | None, lang: str
) -> None:
    data = load(guard, lang)
    table = data["concepts"] if keys is None else data
    names = list(table) if keys is None else list(keys)
    labelled = Labelled({name: strings(table, name) for name in names}, macros_of(data))
    for text in _texts():
        tokens = Tokens(text)
        for overlapping in (False, True):
            # The old loop: key by key, in the order of the key set, every token of the key.
            hits = []
            for key in tokens.keys & labelled._keys:
                for start, token_key in _token_starts(text):
                    if token_key == key and (m := labelled._by_key[key].match(text, start)):
                        hits.append(m)
            if not overlapping and len(hits) > 1:
                hits.sort(key=lambda m: (m.start(), -m.end()))
                kept, end = [], -1
                for m in hits:
                    if m.start() >= end:
                        kept.append(m)
                        end = m.end()
                hits = kept
            if labelled._always:
                hits.extend(labelled._always.finditer(text))
            expected: dict[str, set[str]] = {}
            for m in hits:
                if m.lastgroup is not None:
                    expected.setdefault(m.lastgroup, set()).add(m.group().strip())
            got = labelled.found(tokens, overlapping=overlapping)
            assert list(got.items()) == list(expected.items()), (text, overlapping)


# -- normalisation piece by piece --------------------------------------------------------------

# Apostrophes of every kind, punctuation, accents, invisible characters, emoji, and the words
# the rewrites look for.
_CHUNKS = st.sampled_from(
    (
        *"abcdejlmnpstuvy '.!?,;:-\t\nÉéèàçôœæß\u00ad\u200b\u2019`\u00b4",
        *("🔴", "je", "as ", "m'as ", "pu ", "te ", "jveux", "suiside", "'", "no one", "cannot"),
        *("m' as ", "m ", "es ", "etais", "rougj", "rouj", "myself", "my sel", "noone"),
    )
)


@given(st.lists(_CHUNKS, max_size=25).map("".join), st.sampled_from(LANGUAGES))
@settings(max_examples=1000, deadline=None)
def test_normalise_piece_by_piece_is_the_whole_text_way(text: str, lang: str) -> None:
    assert normalise(text, lang) == _finish(_base(text, lang), lang)


# The module, not the function of the same name that `bot.guards` exports.
normalise_module = importlib.import_module("bot.guards.normalise")


def _ungated(lang: str) -> _Rules:
    """A language's rules with every rewrite tried on every text (no needles)."""
    rules = _rules(lang)
    return dataclasses.replace(
        rules,
        before=tuple(dataclasses.replace(r, needles=("",)) for r in rules.before),
        after=tuple(dataclasses.replace(r, needles=("",)) for r in rules.after),
    )


def _normalise_ungated(
    monkeypatch: pytest.MonkeyPatch, texts: Iterable[str], lang: str
) -> list[str]:
    with monkeypatch.context() as patch:
        ungated = _ungated(lang)
        patch.setattr(normalise_module, "_rules", lambda _: ungated)
        patch.setattr(normalise_module, "_compiled", lambda _: None)
        return [normalise(text, lang) for text in texts]


def test_the_rewrites_needles_never_change_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rewrite is tried only on a text that holds one of its needles (normalise.<lang>.toml):
    on every labelled message, in both languages, the text is what it is when every rewrite
    is tried everywhere (a needle that some match lacks fails here)."""
    texts = [
        json.loads(line)["text"]
        for path in (TUNE, TUNE.with_name("heldout.jsonl"))
        for line in path.read_text("utf-8").splitlines()
    ]
    texts += [
        "m'as me tuer",
        "m 'as partir",
        "m' as crever",
        "m ' as y aller",
        "t'es où",
        "my self",
    ]
    texts += ["no one cares", "noone", "rougj", "rougeje", "ma météo : rouj", "myselves"]
    for lang in LANGUAGES:
        gated = [normalise(text, lang) for text in texts]
        assert gated == _normalise_ungated(monkeypatch, texts, lang)
    assert normalise("m ' as me tuer", "fr") == " je vais me tuer "  # the rewrite does happen


@given(st.lists(_CHUNKS, max_size=25).map("".join), st.sampled_from(LANGUAGES))
@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_rewrites_needles_never_change_any_text(
    monkeypatch: pytest.MonkeyPatch, text: str, lang: str
) -> None:
    assert [normalise(text, lang)] == _normalise_ungated(monkeypatch, [text], lang)


_BOUNDARY_PATTERNS = [
    r"\b(?:a(?:h|s)) ?\d{3}\b",  # technical.fr.toml's form numbers (« AH-223 »)
    r"\bsuicid\w*",
    r"\b(?:me) (?:\w+ ){0,2}?tuer\b",
    r"\b1 ?800\b",
    r"\bje\b",
]


@given(
    st.lists(
        st.sampled_from(
            [
                "ah",
                "as",
                "a",
                "h",
                "s",
                " ",
                "1",
                "23",
                "4",
                "x",
                ".",
                "'",
                "je",
                "suicide",
                "me ",
                "tuer",
                "800",
            ]
        ),
        max_size=20,
    ).map("".join),
    st.sampled_from(_BOUNDARY_PATTERNS),
)
@settings(max_examples=800, deadline=None)
def test_literal_first_matches_the_same_spans(text: str, pattern: str) -> None:
    """`\\bX…` rewritten as `X(?<!\\w.)…` (for the patterns searched everywhere, `Keyed` and
    `Labelled`) finds the same matches, at the same places: `Labelled` reports their text."""
    rewritten = _literal_first(pattern)
    assert rewritten != pattern
    spans = [m.span() for m in re.finditer(pattern, text, re.ASCII)]
    assert spans == [m.span() for m in re.finditer(rewritten, text, re.ASCII)]


def test_factor_keeps_a_counted_quantifier_with_its_group():
    """Two patterns sharing a word and a `(?:\\w+ ){m,n}?` gap: the gap's `{m,n}?` stays with
    its group, or the factored alternation starts a branch with `{0,6}?` (no regex)."""
    from bot.guards.lexicon import factor

    sources = [r"\bgo (?:\w+ ){0,6}?(?:home|away)\b", r"\bgo (?:\w+ ){0,2}?to bed\b"]
    merged = re.compile(factor(sources))
    for text in ("go right now home", "go now to bed", "go to bed"):
        assert bool(merged.search(text)) == any(re.search(s, text) for s in sources)
