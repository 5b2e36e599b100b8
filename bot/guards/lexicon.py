"""Loading the guards' word lists and patterns from `bot/guards/data/*.toml`, once.

Why data files: the people who know how a nurse in Gaspésie says she is at the end of her rope
are not the people who read Python. Every list lives in a TOML file per guard and language, in
the *normalised* form the classifier sees (see `normalise.py`): lower case, no accents, French
elisions expanded (« j'ai » is `je ai`, « m'tuer » is `me tuer`), English contractions expanded
(`i am`, `do not`). Repeated letters are squeezed by the loader itself, in the patterns exactly as
in the text, so a list may say `appelle` or `kill` and match « apeler » or "kiiill".

A pattern may use `%NAME%` for a macro of its file's `[macros]` table (expanded before
compiling), so a long alternation such as "the ways to say I want to" is written once.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from bot.guards.derive import EMPTY, Underivable, derive_each, needles

LANGUAGES = ("fr", "en")

# A letter repeated, not escaped: `\bbe` keeps its `\b` and `ss` in `\ss` is left alone.
_REPEAT_IN_PATTERN = re.compile(r"(?<!\\)([a-z])\1+")
_MACRO = re.compile(r"%([A-Z_]+)%")
NEVER = re.compile(r"(?!)")
# The normalised text is plain ASCII (see `normalise.py`), so `\b` and `\w` may be the ASCII
# ones: the same answers, without a Unicode table lookup for every character they test.
ASCII = re.ASCII


def _fold_table() -> dict[int, str]:
    """Accent folding as a `str.translate` table: built once, far cheaper than NFKD per message."""
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if c.isascii())
        if base and base != char:
            table[code] = base.lower()
    table.update({ord("œ"): "oe", ord("Œ"): "oe", ord("æ"): "ae", ord("Æ"): "ae", ord("ß"): "ss"})
    # Typographic apostrophes become plain ones; the emoji variation selector disappears.
    table.update(dict.fromkeys(map(ord, "\u2019\u2018\u02bc`\u00b4"), "'"))
    table[0xFE0F] = ""
    return table


FOLD = _fold_table()


def prepare_pattern(source: str) -> str:
    """Fold accents and squeeze repeated letters in a pattern the way `normalise` does in text.

    So a list may be written in plain French (« idées suicidaires », « appelle »).
    """
    return _REPEAT_IN_PATTERN.sub(r"\1", source.translate(FOLD))


@cache
def load(guard: str, lang: str) -> Mapping[str, Any]:
    """One data file, parsed; `lang` may be "" for a file shared by both languages."""
    name = f"{guard}.{lang}.toml" if lang else f"{guard}.toml"
    raw = resources.files("bot.guards").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(raw)


# A group of plain words and nothing else: `(?:veux|voudrais|ai envie)`.
_WORD_GROUP = re.compile(r"\(\?:((?:[a-z0-9 ']+\|)+[a-z0-9 ']+)\)")


def _trie(words: Iterable[str]) -> str:
    """One regex for a set of words, as a trie: `(?:veux|voudrais|vais)` → `v(?:eux|oudrais|ais)`.

    Why: Python's regex engine tries an alternation's branches one by one, so a list of eighty
    verbs costs eighty comparisons at each place; as a trie it costs one per letter. Same set of
    strings, so whether a pattern matches does not change (only which branch wins a tie).
    """
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return build(root)


def _tries(source: str) -> str:
    return _WORD_GROUP.sub(lambda m: f"(?:{_trie(m.group(1).split('|'))})", source)


def expand(source: str, macros: Mapping[str, str]) -> str:
    """Expand `%NAME%` macros (macros may use earlier macros), then squeeze the letters and
    turn each plain word alternation into a trie."""
    for _ in range(4):
        if "%" not in source:
            break
        source = _MACRO.sub(lambda m: f"(?:{macros[m.group(1)]})", source)
    if _MACRO.search(source):
        raise ValueError(f"unknown or too deeply nested macro in {source!r}")
    return _tries(prepare_pattern(source))


def compile_any(sources: Iterable[str], macros: Mapping[str, str] | None = None) -> re.Pattern[str]:
    """One alternation of all `sources`, or a pattern that never matches if there are none.

    One compiled alternation per list is what keeps classification in the tens of
    microseconds: the regex engine walks the text once, not once per pattern.
    """
    parts = [f"(?:{expand(s, macros or {})})" for s in sources]
    if not parts:
        return NEVER
    return re.compile("|".join(parts), ASCII)


# `\bX…` or `\b(?:X…)` with X a letter or a digit, not repeated (the group without `|`).
_BOUNDARY_FIRST = re.compile(r"\\b(\(\?:)?([a-z0-9])(?![?*+{])")


def _literal_first(source: str) -> str:
    """`\\bX…` as `X(?<!\\w.)…`: the same test, but starting with a literal, which the regex
    engine looks for quickly instead of trying the pattern at every character (for the
    patterns searched everywhere). Other patterns are returned as they are."""
    start = _BOUNDARY_FIRST.match(source)
    if not start:
        return source
    if start.group(1):
        try:
            end = _skip_group(source, 2)
        except _Unkeyable:
            return source
        if len(_split_alternatives(source[5 : end - 1])) != 1:
            return source
    return source[2 : start.end()] + r"(?<!\w.)" + source[start.end() :]


def strings(table: Mapping[str, Any], key: str) -> list[str]:
    """A list of strings from a data table, checked (a typo in a TOML file fails at load)."""
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{key!r} must be a list of strings")
    return list(value)


def macros_of(table: Mapping[str, Any]) -> dict[str, str]:
    value = table.get("macros", {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TypeError("[macros] must map names to strings")
    return dict(value)


# --- Keyed patterns -------------------------------------------------------------------------
#
# Why: a Python regex alternation of a hundred patterns is tried, branch after branch, at every
# character of the message; that alone cost 50 µs a message. Most patterns start with a known
# word (« je », "i", « suicid… »), so each pattern is filed under the first three characters of
# the words it can start with (a word of one or two letters keeps its trailing space: `je `),
# and only tried where a token of the message has such a key. Patterns whose start cannot be
# read that way (a character class, `\w*` in the first word) are searched everywhere, as before.

_KEY_LENGTH = 3
_SIMPLE_ESCAPES = {"x27": "'"}


class _Unkeyable(Exception):
    """The pattern's first word cannot be enumerated: search it everywhere."""


def _skip_group(source: str, start: int) -> int:
    """Index just after the group that opens at `start` (a `(`), minding escapes and classes."""
    depth, i = 0, start
    in_class = False
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _Unkeyable


def _split_alternatives(body: str) -> list[str]:
    parts, depth, current, i, in_class = [], 0, [], 0, False
    while i < len(body):
        char = body[i]
        if char == "\\":
            current.append(body[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _done(prefix: str) -> bool:
    return len(prefix) >= _KEY_LENGTH or prefix.endswith(" ")


def _prefixes(source: str, prefixes: set[str]) -> set[str]:
    """Extend each unfinished prefix by what `source` can match first; finished ones stay."""
    i = 0
    while i < len(source) and not all(_done(p) for p in prefixes):
        char = source[i]
        optional = False
        if char == "(":
            end = _skip_group(source, i)
            head = source[i : i + 4]
            optional = end < len(source) and source[end] == "?"
            if head.startswith(("(?=", "(?!", "(?<=", "(?<!")):
                i = end  # a lookaround restricts, never consumes: the keys stay a superset
                continue
            if head.startswith("(?:"):
                body = source[i + 3 : end - 1]
            elif head.startswith("(?"):
                raise _Unkeyable
            else:
                body = source[i + 1 : end - 1]
            grown: set[str] = set()
            for alternative in _split_alternatives(body):
                grown |= _prefixes(alternative, set(prefixes))
            nxt = end + 1 if optional else end
            if end < len(source) and source[end] in "*+{":
                raise _Unkeyable
            prefixes = grown | prefixes if optional else grown
            i = nxt
            continue
        if char == "\\":
            code = source[i + 1 : i + 2]
            if code == "b":
                i += 2
                continue
            if code == "x" and source[i + 2 : i + 4] in ("27",):
                literal, width = "'", 4
            elif code and not code.isalnum():
                literal, width = code, 2
            else:
                raise _Unkeyable
        elif char.isalnum() or char in " '":
            literal, width = char, 1
        else:
            raise _Unkeyable
        following = source[i + width : i + width + 1]
        if following in ("*", "+", "{"):
            raise _Unkeyable
        optional = following == "?"
        extended = {p if _done(p) else p + literal for p in prefixes}
        prefixes = extended | prefixes if optional else extended
        i += width + (1 if optional else 0)
    return prefixes


def first_keys(source: str) -> frozenset[str] | None:
    """The keys (see above) of the tokens a match of `source` can start with, or None."""
    try:
        # Where the whole pattern ends, an unfinished prefix is a whole word.
        keys = {p if _done(p) else p + " " for p in _prefixes(source, {""})}
    except _Unkeyable:
        return None
    if "" in keys or " " in keys or any(k.startswith(" ") for k in keys):
        return None
    return frozenset(k[:_KEY_LENGTH] for k in keys)


def token_key(word: str) -> str:
    """A token's key: its first three characters, or the word and a space if it is shorter."""
    return word[:_KEY_LENGTH] if len(word) >= _KEY_LENGTH else word + " "


class Tokens:
    """A normalised text and the keys of its tokens, computed once per message, when needed.

    The positions of a key's tokens are found when needed with `str.find` (" " + key): the text
    has exactly one space before every word, so that is exactly where such tokens start.
    """

    __slots__ = ("_keys", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._keys: set[str] | None = None

    @property
    def keys(self) -> set[str]:
        """The keys of the tokens. Lazy: `Keyed.search`, the common case, does without them."""
        keys = self._keys
        if keys is None:
            # token_key(), inlined: this runs for every word of every message.
            keys = {
                w[:_KEY_LENGTH] if len(w) >= _KEY_LENGTH else w + " " for w in self.text.split()
            }
            self._keys = keys
        return keys

    def starts(self, key: str) -> Iterator[int]:
        """Where the tokens of `key` start, in order."""
        text, needle = self.text, " " + key
        found = text.find(needle)
        while found >= 0:
            yield found + 1
            found = text.find(needle, found + 1)


_WORD_HEAD = re.compile(r"(?:\\b)?[a-z0-9']+ ")


def _head(source: str) -> int:
    """Length of a pattern's first step: `\\bje ` (a word and its space), or a group with its
    quantifier (`(?:…)*`, `(?:…){0,3}?`); 0 when it has neither."""
    word = _WORD_HEAD.match(source)
    if word:
        return word.end()
    start = 2 if source.startswith("\\b(") else 0
    if source[start : start + 1] != "(" or source.startswith(("(?=", "(?!", "(?<")):
        return 0
    try:
        end = _skip_group(source, start)
    except _Unkeyable:
        return 0
    # The group's quantifier, `{0,6}?` too: split from its group, it would start a tail, and
    # `(?:{0,6}?…|…)` is no regex (two patterns sharing `word (?:\w+ ){m,n}?` met here).
    quantifier = _QUANTIFIED.match(source, end)
    return quantifier.end() if quantifier else end


def factor(sources: list[str], depth: int = 3) -> str:
    """One alternation of `sources`, with shared first steps written once.

    Why: thirty patterns starting with « je », then the same list of adverbs, then the same
    list of "I want" verbs, are tried one after the other, each re-reading the adverbs;
    `je (?:adverbs)(?:tail1|tail2|…)` reads them once. Same strings matched.
    """
    if depth == 0 or len(sources) < 2:
        return "|".join(f"(?:{s})" for s in sources)
    groups: dict[str, list[str]] = {}
    for source in sources:
        size = _head(source)
        groups.setdefault(source[:size], []).append(source[size:])
    parts: list[str] = []
    for head, tails in groups.items():
        if not head or len(tails) == 1:
            parts.extend(f"(?:{head}{tail})" for tail in tails)
        else:
            parts.append(f"(?:{head}(?:{factor(tails, depth - 1)}))")
    return "|".join(parts)


# For `_union`: a word and its space not followed by a quantifier, or a group with its own.
_STRICT_WORD = re.compile(r"(?:\\b)?[a-z0-9']+ (?![?*+{])")
_QUANTIFIED = re.compile(r"(?:[?*+]|\{\d*(?:,\d*)?\})[?+]?")


def _step(source: str) -> int:
    """Length of the first step of an alternative without `|` at its top: `\\bje `, or a group
    and its quantifier (`(?:…){0,3}?`); 0 when it has neither."""
    word = _STRICT_WORD.match(source)
    if word:
        return word.end()
    if not source.startswith("(") or source.startswith(("(?=", "(?!", "(?<")):
        return 0
    try:
        end = _skip_group(source, 0)
    except _Unkeyable:
        return 0
    quantifier = _QUANTIFIED.match(source, end)
    return quantifier.end() if quantifier else end


def _union(sources: Iterable[str], depth: int = 4) -> str:
    """One regex matching where any of `sources` matches, shared first steps written once.

    For yes/no searches only: which alternative wins, and so where a match ends, may differ
    from `factor`'s; that is what lets it merge more (any order, duplicates dropped, and an
    alternative that matches the empty string stands for the whole alternation).
    """
    options: list[str] = []
    for source in sources:
        options.extend(_split_alternatives(source))
    options = list(dict.fromkeys(options))
    if "" in options:
        return ""
    if depth == 0 or len(options) < 2:
        return "|".join(options)
    groups: dict[str, list[str]] = {}
    for option in options:
        size = _step(option)
        groups.setdefault(option[:size], []).append(option[size:])
    parts: list[str] = []
    for head, tails in groups.items():
        if not head:
            parts.extend(tails)
            continue
        inner = tails[0] if len(tails) == 1 else _union(tails, depth - 1)
        parts.append(f"{head}(?:{inner})" if inner else head)
    return "|".join(parts)


def _key_trie(groups: Mapping[str, list[str]]) -> str:
    """One regex for keys and what follows each: `(?:j(?:e (?:…)|us(?:…))|…)`.

    Every branch starts with a literal, which the regex engine checks before entering it.
    """
    root: dict[str, Any] = {}
    for key, sources in groups.items():
        node = root
        for char in key:
            node = node.setdefault(char, {})
        node[""] = sources

    def build(node: dict[str, Any]) -> str:
        branches = [
            f"(?:{_union(child)})" if char == "" else re.escape(char) + build(child)
            for char, child in sorted(node.items())
        ]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return build(root)


class _Starts:
    """Where in a text some pattern of a keyed list can start, in one regex call.

    All keys in one regex: a space, then the keys as a trie, each followed by what its
    patterns need after it (see `derive.py`); so the regex engine looks for the spaces itself
    and skips the keys at their first letter. `scan` says whether there is such a place;
    `places` finds them all, with the trie as a lookahead, which consumes nothing, so that none
    is skipped (compiled when first needed: most lists are only searched). A key with a
    pattern that cannot be derived is left out, and searched as before: a space, the key as a
    lookahead, the patterns.
    """

    __slots__ = ("_every", "fallback", "fallback_keys", "scan", "trie")

    def __init__(self, groups: Mapping[str, list[str]]) -> None:
        # Each pattern parsed once, derived by each of its keys.
        keys_of: dict[str, list[str]] = {}
        for key, group in groups.items():
            for source in group:
                keys_of.setdefault(source, []).append(key)
        rests: dict[tuple[str, str], str] = {}
        failed: set[str] = set()
        for source, keys in keys_of.items():
            try:
                rests.update(
                    ((source, key), rest) for key, rest in derive_each(source, keys).items()
                )
            except Underivable:
                failed.update(keys)
        derived: dict[str, list[str]] = {}
        fallback: dict[str, list[str]] = {}
        for key, group in groups.items():
            if key in failed:
                fallback[key] = group
                continue
            kept = [rests[source, key] for source in group if rests[source, key] != EMPTY]
            if kept:
                derived[key] = kept
        self.trie = _key_trie(derived) if derived else None
        self.scan = re.compile(f" {self.trie}", ASCII) if self.trie is not None else None
        self._every: re.Pattern[str] | None = None
        self.fallback = {
            key: re.compile(f" (?={re.escape(key)})(?:{_union(group)})", ASCII).search
            for key, group in fallback.items()
        }
        self.fallback_keys = frozenset(self.fallback)

    def search(self, tokens: Tokens) -> bool:
        text = tokens.text
        if self.scan is not None and self.scan.search(text):
            return True
        if self.fallback_keys:
            fallback = self.fallback
            for key in tokens.keys & self.fallback_keys:
                if fallback[key](text):
                    return True
        return False

    def places(self, text: str) -> dict[str, list[int]]:
        """Key → where tokens of that key start and some of its patterns match, in order
        (fallback keys left out)."""
        places: dict[str, list[int]] = {}
        if self.trie is not None:
            if self._every is None:
                self._every = re.compile(f" (?={self.trie})", ASCII)
            for hit in self._every.finditer(text):
                start = hit.end()
                word = text.find(" ", start) - start
                key = (
                    text[start : start + _KEY_LENGTH]
                    if word >= _KEY_LENGTH
                    else text[start : start + word + 1]
                )
                places.setdefault(key, []).append(start)
        return places


def _needles_of(always: re.Pattern[str] | None) -> tuple[str, ...] | None:
    """What a text must contain for the patterns searched everywhere to match (see
    `derive.needles`); None: no such test, search."""
    found = needles(always.pattern) if always is not None else None
    return None if found is None else tuple(sorted(found))


def _may_match(text: str, found: tuple[str, ...] | None) -> bool:
    """Whether `text` holds one of the needles, or there are none: a few `str.find`s in C
    instead of a regex tried at every word (the blanking list's dated past, "back in 2019…
    doing better now", costs ten times the rest of that list without it)."""
    if found is None:
        return True
    # A plain loop, not `any(…)`: no generator to set up, for a test run on every message.
    for needle in found:  # noqa: SIM110
        if needle in text:
            return True
    return False


class Keyed:
    """A list of patterns, filed by first-word key; answers search and finditer on `Tokens`."""

    __slots__ = (
        "_always",
        "_always_search",
        "_compiled",
        "_groups",
        "_keys",
        "_needles",
        "_scan",
        "_starts",
    )

    def __init__(
        self,
        sources: Iterable[str],
        macros: Mapping[str, str] | None = None,
        *,
        spans: bool = False,
    ) -> None:
        """`spans`: the list is used for `matches` or `blank`, so compile what they need now,
        not at the first message that has a match (searches need much less)."""
        groups: dict[str, list[str]] = {}
        always: list[str] = []
        for raw in sources:
            source = expand(raw, macros or {})
            keys = first_keys(source)
            if keys is None:
                always.append(source)
                continue
            for key in keys:
                groups.setdefault(key, []).append(source)
        # For `matches`, compiled when first needed: most lists are only ever searched.
        self._groups = {key: factor(group) for key, group in groups.items()}
        self._compiled: dict[str, re.Pattern[str]] | None = None
        self._keys = frozenset(groups)
        self._always = compile_any(map(_literal_first, always)) if always else None
        self._starts = _Starts(groups)
        # The bound methods `search` calls, looked up once: it runs a few times per message.
        scan = self._starts.scan
        self._scan = scan.search if scan is not None else None
        self._always_search = self._always.search if self._always is not None else None
        self._needles = _needles_of(self._always)
        if spans:
            self._starts.places(" ")
            _ = self._by_key

    def search(self, tokens: Tokens, start: int = 0) -> bool:
        """Whether some pattern matches; `start`: what `first` said of a list that holds all of
        this one's patterns (see there), so that the part of the text before it is not read
        twice."""
        text = tokens.text
        scan = self._scan
        if scan is not None and scan(text, start):
            return True
        if self._starts.fallback_keys and self._starts.search(tokens):
            return True
        always = self._always_search
        return always is not None and _may_match(text, self._needles) and always(text) is not None

    def first(self, tokens: Tokens) -> int:
        """-1 when `search` says no; else a place in the text before which none of the
        patterns matches at a token (0 when that is all it can tell).

        Why: `_CrisisLists.screen` holds the direct, generic and anchor lists together, and
        a message it finds something in is searched again, list by list; given this place,
        those searches skip what the screen has read already. The key scan tries every token
        in order, and at each one it matches where any of the patterns filed under that key
        matches, so no pattern of a sub-list can match at a token before its first match.
        That holds for the scan alone: a match that only the patterns searched everywhere or
        the keys searched as before (`_Starts.fallback`) find gives 0, and so does any match
        when a key of this list is searched as before, since it may be scanned in a sub-list.
        """
        text = tokens.text
        scan = self._scan
        if scan is not None:
            hit = scan(text)
            if hit is not None:
                return 0 if self._starts.fallback_keys else hit.start()
        if self._starts.fallback_keys and self._starts.search(tokens):
            return 0
        always = self._always_search
        if always is not None and _may_match(text, self._needles) and always(text) is not None:
            return 0
        return -1

    @property
    def _by_key(self) -> dict[str, re.Pattern[str]]:
        if self._compiled is None:
            self._compiled = {key: re.compile(group, ASCII) for key, group in self._groups.items()}
        return self._compiled

    def matches(self, tokens: Tokens) -> list[re.Match[str]]:
        """Every match starting at some token, leftmost first, overlapping ones dropped."""
        if not self.search(tokens):  # most messages: one regex call says so
            return []
        text = tokens.text
        found: list[re.Match[str]] = []
        by_key = self._by_key
        # Only where `_Starts` says some pattern of the key matches: the same places and
        # patterns as trying every token of every key, without the tokens where none does.
        for key, starts in self._starts.places(text).items():
            match = by_key[key].match
            for position in starts:
                m = match(text, position)
                if m:
                    found.append(m)
        for key in tokens.keys & self._starts.fallback_keys if self._starts.fallback_keys else ():
            match = by_key[key].match
            for position in tokens.starts(key):
                m = match(text, position)
                if m:
                    found.append(m)
        if self._always and _may_match(text, self._needles):
            found.extend(self._always.finditer(text))
        if len(found) < 2:
            return found
        found.sort(key=_start_then_longest)
        kept: list[re.Match[str]] = []
        end = -1
        for m in found:
            if m.start() >= end:
                kept.append(m)
                end = m.end()
        return kept

    def blank(self, tokens: Tokens, filler: str) -> str:
        """The text with every match replaced by `filler`."""
        found = self.matches(tokens)
        if not found:
            return tokens.text
        text = tokens.text
        pieces, last = [], 0
        for m in found:
            pieces.append(text[last : m.start()])
            pieces.append(filler)
            last = m.end()
        pieces.append(text[last:])
        return "".join(pieces)


class Labelled:
    """Several lists searched in one pass: which lists match, and the distinct terms each finds.

    Why: a message goes through a dozen lists (technical objects, problems, questions…; blame
    targets, accusations…); one pass with a named group per list costs one regex call per token
    instead of one per list. At a given token, the first list (in the order given) that matches
    wins, and a match hides the matches that would start inside it, as in `Keyed.matches`.
    """

    __slots__ = ("_always", "_by_key", "_keys", "_needles", "_starts")

    def __init__(
        self, lists: Mapping[str, Iterable[str]], macros: Mapping[str, str] | None = None
    ) -> None:
        grouped: dict[str, dict[str, list[str]]] = {}
        always: dict[str, list[str]] = {}
        for label, sources in lists.items():
            if not label.isidentifier():
                raise ValueError(f"list name {label!r} must be an identifier")
            for raw in sources:
                source = expand(raw, macros or {})
                keys = first_keys(source)
                if keys is None:
                    always.setdefault(label, []).append(_literal_first(source))
                    continue
                for key in keys:
                    grouped.setdefault(key, {}).setdefault(label, []).append(source)
        order = list(lists)
        self._by_key = {key: _named(labels, order) for key, labels in grouped.items()}
        self._keys = frozenset(self._by_key)
        self._always = _named(always, order) if always else None
        self._needles = _needles_of(self._always)
        self._starts = _Starts(
            {
                key: [s for group in labels.values() for s in group]
                for key, labels in grouped.items()
            }
        )
        self._starts.places(" ")  # compiled now: `found` needs it for every message it reads

    def found(self, tokens: Tokens, *, overlapping: bool = False) -> dict[str, set[str]]:
        """List name → the distinct terms (matched texts) it found; absent when none.

        With `overlapping`, every token is tried even inside an earlier match, so that a long
        match of one list cannot hide the start of another's.
        """
        text = tokens.text
        by_key = self._by_key
        # Only where `_Starts` says some pattern of the key matches (see `Keyed.matches`).
        places = self._starts.places(text)
        fallback_keys = self._starts.fallback_keys
        hits: list[re.Match[str]] = []
        if (len(places) > 1 and overlapping) or fallback_keys:
            # The matches key by key, in the order of the key set, as when every token of
            # every key was tried: it decides the order of the labels in the answer.
            for key in tokens.keys & self._keys:
                if key in fallback_keys:
                    starts: Iterable[int] = tokens.starts(key)
                else:
                    starts = places.get(key, ())
                match = by_key[key].match
                for position in starts:
                    m = match(text, position)
                    if m:
                        hits.append(m)
        else:
            for key, starts in places.items():
                match = by_key[key].match
                for position in starts:
                    m = match(text, position)
                    if m:
                        hits.append(m)
        if not overlapping and len(hits) > 1:
            hits.sort(key=_start_then_longest)
            kept, end = [], -1
            for m in hits:
                if m.start() >= end:
                    kept.append(m)
                    end = m.end()
            hits = kept
        if self._always and _may_match(text, self._needles):
            hits.extend(self._always.finditer(text))
        result: dict[str, set[str]] = {}
        for m in hits:
            label = m.lastgroup
            if label is not None:
                result.setdefault(label, set()).add(m.group().strip())
        return result


def _start_then_longest(m: re.Match[str]) -> tuple[int, int]:
    return (m.start(), -m.end())


def _named(labels: Mapping[str, list[str]], order: list[str]) -> re.Pattern[str]:
    parts = [f"(?P<{label}>{factor(labels[label])})" for label in order if label in labels]
    return re.compile("|".join(parts), ASCII)
