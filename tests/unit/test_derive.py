"""Pattern derivatives (`bot/guards/derive.py`) and the one-regex-per-list search built on them.

Why these tests: `Keyed.search` no longer runs the patterns as written but their derivatives by
each key, merged into one regex per list. That is only worth its speed if the answers are
exactly those of the patterns as written; here both are compared, on small patterns with
generated texts and on every shipped list with real messages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.guards.derive import EMPTY, Underivable, derive, needles
from bot.guards.lexicon import LANGUAGES, Keyed, Tokens, compile_any, load, macros_of, strings
from bot.guards.normalise import normalise

PATTERNS = [
    r"\bje (?:veux|voudrais) mourir\b",
    r"\bje (?:ne )?(?:veux|peux) (?:plus|pu) (?:vivre|continuer)\b",
    r"\bje\b",
    r"\bj(?:e|ai) [a-z]+ (?:pas|plus)\b",
    r"\b(?:a|ab)+ b\b",
    r"\bje (?=veux )\w+ (?!pas)\w+\b",
    r"\bveux(?<=je veux) (?:[a-z]+ ){0,2}?mourir\b",
    r"\bab?c? (?:ab|abc)*\b",
    r"\bje (?:[.,] )?(?:vais|va) (?:\w+ )?finir\b(?! par\b)",
]
WORDS = ["je", "veux", "voudrais", "mourir", "pas", "plus", "pu", "ne", "vivre", "ai", "a", "ab"]
WORDS += ["abc", "b", "c", "vais", "finir", "par", ".", ",", "continuer", "peux", "jai"]


def _agrees(pattern: str, known: str, rest: str, before: str = " ") -> None:
    text = before + known + rest
    expected = re.compile(pattern, re.ASCII).match(text, len(before)) is not None
    try:
        derived = derive(pattern, known, before)
    except Underivable:
        return  # the caller keeps the pattern as written then
    if derived == EMPTY:
        got = False
    elif derived == "":
        got = True
    else:
        got = re.compile(derived, re.ASCII).match(text, len(before + known)) is not None
    assert got == expected, (pattern, known, rest, derived)


@given(
    pattern=st.sampled_from(PATTERNS),
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=7),
    cut=st.integers(min_value=1, max_value=12),
)
def test_a_derivative_matches_exactly_where_the_pattern_does(
    pattern: str, words: list[str], cut: int
) -> None:
    text = " ".join(words) + " "
    cut = min(cut, len(text))
    _agrees(pattern, text[:cut], text[cut:])


def test_derivatives_by_hand() -> None:
    assert derive(r"\bje\b", "je ") == ""  # matched within the known characters
    assert derive(r"\bje veux\b", "tu ") == EMPTY
    rest = derive(r"\bje (?:veux|voudrais) mourir\b", "je ")
    assert re.compile(rest).match("veux mourir")
    assert not re.compile(rest).match("peux mourir")


NEEDLE_PATTERNS = [
    *PATTERNS,
    r"\b(?:\w+ ){1,2}?(?:years?|months) ago\b (?:\w+ ){0,3}?(?:suicidal|a plan|ab)\b",
    r"(?:^ (?:\w+ )?years (?:[.,] )?(?:no|nope)\b)|(?:s(?<!\w.)h[o]?t myself in\b)",
    r"\ba(?:h|s) ?\d{3}\b|\bvais\ finir\x27",
]
NEEDLE_WORDS = [*WORDS, "years", "year", "months", "ago", "suicidal", "a plan", "sht", "shot"]
NEEDLE_WORDS += ["myself", "in", "no", "nope", "as", "ah", "123", "vais finir'", "a b"]


@given(
    pattern=st.sampled_from(NEEDLE_PATTERNS),
    words=st.lists(st.sampled_from(NEEDLE_WORDS), min_size=1, max_size=9),
)
def test_every_match_holds_a_needle(pattern: str, words: list[str]) -> None:
    text = " " + " ".join(words) + " "
    found = needles(pattern)
    if found is not None and re.search(pattern, text, re.ASCII):
        assert any(needle in text for needle in found), (pattern, text, found)


def test_needles_by_hand() -> None:
    assert needles(r"\bje (?:veux|voudrais) mourir\b") == {" mourir"}
    assert needles(r"\b(?:\w+ ){1,2}?(?:years|months) ago\b") == {"years", "months"}
    assert needles(r"s(?<!\w.)h[o]?t myself\b|\bvais\ finir\x27") == {"t myself", "vais finir'"}
    assert needles(r"\bje (?:veux )?ab\b") is None  # nothing required is long enough
    assert needles(r"\bsuicid|(?:\w+ )?ab") is None  # one alternative needs nothing long


def _lists() -> list[tuple[str, list[str], dict[str, str]]]:
    found = []
    for guard in ("crisis", "technical", "venting", "weather"):
        for lang in LANGUAGES:
            table = load(guard, lang)
            macros = macros_of(table)
            for key, value in table.items():
                if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                    found.append((f"{guard}.{lang}.{key}", strings(table, key), macros))
    return found


def _texts() -> list[str]:
    path = Path(__file__).parents[1] / "data" / "guards" / "tune.jsonl"
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()[:600]]
    return [normalise(row["text"], row["lang"]) for row in rows]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


@pytest.mark.parametrize(("name", "sources", "macros"), _lists(), ids=lambda v: str(v)[:40])
def test_each_shipped_list_finds_what_its_plain_alternation_finds(
    name: str, sources: list[str], macros: dict[str, str], texts: list[str]
) -> None:
    keyed, plain = Keyed(sources, macros), compile_any(sources, macros)
    differ = [t for t in texts if keyed.search(Tokens(t)) != bool(plain.search(t))]
    assert differ == [], (name, differ[:3])
