"""What is left of a pattern once the first characters of its match are known: its derivative.

Why: `Keyed` files each pattern under the keys of the tokens a match can start with (« je »,
« sui »). Searching a key's patterns with `" (?=je )…"` makes the regex engine stop and test
the lookahead at every space of the message, and one search per key costs a Python call each.
With the derivative, what follows `je ` is a plain regex, so `" je (?:…)"` starts with a
literal that the engine finds by itself, and all the keys of a list fit in one regex, written
as a trie of keys (`j(?:e (?:…)|us(?:…))`) whose branches the engine skips at their first
letter. One search per list instead of one per key, with exactly the same answers.

The derivative of a pattern P by a string s is a pattern P' such that, at any place of the
text that follows a space and reads s, P matches there if and only if P' matches right after
s. It is computed on a small syntax tree (literals and character classes, groups,
alternatives, quantifiers, lookarounds, `\\b`), following Brzozowski's rules: the characters of
s are known, so a `\\b` among them is decided at once, a lookbehind takes the known character
along (`(?<=x)` before « j » is `(?<=xj)` after it) and a lookahead is derived like the rest.
What cannot be handled exactly (a back-reference, a condition on an empty branch that depends
on the unknown text) raises `Underivable`, and the caller keeps the pattern as it was.

Only whether a match exists is preserved, not which branch wins or where it ends: fit for a
yes/no search, not for spans.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

__all__ = ["EMPTY", "Underivable", "derive", "derive_each", "needles"]


class Underivable(Exception):
    """The pattern uses something this module cannot derive exactly."""


EMPTY = "(?!)"
"""The derivative of a pattern that cannot match after the given characters."""


# --- syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Char:
    """One character out of a set: a literal, an escape, a class or `.` (`source` as written)."""

    source: str


@dataclass(frozen=True, slots=True)
class _Seq:
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Alt:
    options: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Repeat:
    node: _Node
    low: int
    high: int | None  # None: no upper bound
    lazy: bool


@dataclass(frozen=True, slots=True)
class _Look:
    kind: str  # "=", "!", "<=", "<!"
    node: _Node


@dataclass(frozen=True, slots=True)
class _Edge:
    kind: str  # "b", "B", "^", "$", "A", "Z"


_Node = _Char | _Seq | _Alt | _Repeat | _Look | _Edge
_EPSILON = _Seq(())
_NOTHING = _Alt(())


# --- parsing --------------------------------------------------------------------------------

_QUANTIFIER = re.compile(r"\*|\+|\?|\{(\d*)(,?)(\d*)\}")
_HEX = re.compile(r"x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}")
_CLASS_ESCAPES = frozenset("dDwWsS")
_EDGE_ESCAPES = {"b": "b", "B": "B", "A": "A", "Z": "Z"}


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.i = 0

    def parse(self) -> _Node:
        node = self.alternatives()
        if self.i != len(self.source):
            raise Underivable(f"unbalanced parenthesis at {self.i}")
        return node

    def alternatives(self) -> _Node:
        options = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else _Alt(tuple(options))

    def sequence(self) -> _Node:
        items: list[_Node] = []
        while self.i < len(self.source) and self.peek() not in "|)":
            atom = self.atom()
            items.append(self.quantified(atom))
        return items[0] if len(items) == 1 else _Seq(tuple(items))

    def peek(self) -> str:
        return self.source[self.i : self.i + 1]

    def quantified(self, atom: _Node) -> _Node:
        match = _QUANTIFIER.match(self.source, self.i)
        if not match:
            return atom
        text = match.group()
        if text.startswith("{"):
            low_text, comma, high_text = match.groups()
            if not low_text and not high_text:
                raise Underivable("empty repeat bounds")
            low = int(low_text or 0)
            high = int(high_text) if high_text else (None if comma else low)
        else:
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[text]
        self.i = match.end()
        lazy = self.peek() == "?"
        if lazy:
            self.i += 1
        elif self.peek() == "+":
            raise Underivable("possessive quantifier")
        if isinstance(atom, (_Edge, _Look)):
            raise Underivable("quantified assertion")
        return _Repeat(atom, low, high, lazy)

    def atom(self) -> _Node:
        source, i = self.source, self.i
        char = source[i]
        if char == "(":
            return self.group()
        if char == "[":
            end = _class_end(source, i)
            self.i = end
            return _Char(source[i:end])
        if char == "\\":
            return self.escape()
        if char in "*+?{":
            raise Underivable(f"nothing to repeat at {i}")
        self.i += 1
        if char == ".":
            return _Char(".")
        if char == "^":
            return _Edge("^")
        if char == "$":
            return _Edge("$")
        return _Char(char)  # not special (those are handled above): written back as it is

    def escape(self) -> _Node:
        source, i = self.source, self.i
        code = source[i + 1 : i + 2]
        if not code:
            raise Underivable("trailing backslash")
        if code in _EDGE_ESCAPES:
            self.i += 2
            return _Edge(_EDGE_ESCAPES[code])
        if code in _CLASS_ESCAPES or not code.isalnum():
            self.i += 2
            return _Char(source[i : i + 2])
        hexa = _HEX.match(source, i + 1)
        if hexa:
            self.i = hexa.end()
            return _Char(source[i : self.i])
        if code in "afnrtv":
            self.i += 2
            return _Char(source[i : i + 2])
        raise Underivable(f"escape \\{code}")  # back-references, \N{…}, octal

    def group(self) -> _Node:
        source, i = self.source, self.i
        for opening, kind in (("(?<=", "<="), ("(?<!", "<!"), ("(?=", "="), ("(?!", "!")):
            if source.startswith(opening, i):
                self.i = i + len(opening)
                body = self.alternatives()
                self.close()
                return _Look(kind, body)
        if source.startswith("(?:", i):
            self.i = i + 3
        elif source.startswith("(?P<", i):
            end = source.find(">", i)
            if end < 0:
                raise Underivable("bad group name")
            self.i = end + 1
        elif source.startswith("(?", i):
            raise Underivable(f"group {source[i : i + 4]!r}")
        else:
            self.i = i + 1  # a capturing group: only whether a match exists matters here
        body = self.alternatives()
        self.close()
        return body

    def close(self) -> None:
        if self.peek() != ")":
            raise Underivable(f"missing parenthesis at {self.i}")
        self.i += 1


def _class_end(source: str, start: int) -> int:
    """Index just after the character class that opens at `start`."""
    i = start + 1
    if source[i : i + 1] == "^":
        i += 1
    if source[i : i + 1] == "]":
        i += 1
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source[i] == "]":
            return i + 1
        if source[i] == "[":
            raise Underivable("nested set")
        i += 1
    raise Underivable("unterminated character class")


def _parse(source: str) -> _Node:
    return _Parser(source).parse()


# --- derivatives ----------------------------------------------------------------------------


@cache
def _tester(source: str, flags: int) -> re.Pattern[str]:
    return re.compile(source, flags)


def _literal(char: str) -> str:
    return "\\" + char if char in _SPECIAL else char


_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def _is_word(char: str, flags: int) -> bool:
    """What `\\w` matches, with these flags."""
    return (char.isascii() or not flags & re.ASCII) and (char.isalnum() or char == "_")


def _seq(items: list[_Node]) -> _Node:
    flat: list[_Node] = []
    for item in items:
        if item == _NOTHING:
            return _NOTHING
        if isinstance(item, _Seq):
            flat.extend(item.items)
        else:
            flat.append(item)
    return flat[0] if len(flat) == 1 else _Seq(tuple(flat))


_Memo = dict[int, tuple["_Node", bool | None]]


def _plainly_nullable(node: _Node, memo: _Memo) -> bool | None:
    """Whether `node` can match the empty string, when that does not depend on where (no edge
    or lookaround on an empty path); None when it does. Remembered by node identity in `memo`
    (the node is kept with its answer, so that an identity is never reused while there)."""
    if isinstance(node, _Char):
        return False
    if isinstance(node, (_Edge, _Look)):
        return None
    known = memo.get(id(node))
    if known is not None and known[0] is node:
        return known[1]
    answer: bool | None
    if isinstance(node, _Seq):
        answer = True
        for item in node.items:
            inner = _plainly_nullable(item, memo)
            if inner is False:
                answer = False
                break
            if inner is None:
                answer = None
    elif isinstance(node, _Alt):
        answer = False
        for option in node.options:
            inner = _plainly_nullable(option, memo)
            if inner is True:
                answer = True
                break
            if inner is None:
                answer = None
    else:
        answer = True if node.low == 0 or node.high == 0 else _plainly_nullable(node.node, memo)
    memo[id(node)] = (node, answer)
    return answer


def _surely_empty(node: _Node) -> bool:
    """Whether `node` matches the empty string whatever surrounds it."""
    if isinstance(node, _Seq):
        return all(_surely_empty(item) for item in node.items)
    if isinstance(node, _Alt):
        return any(_surely_empty(option) for option in node.options)
    if isinstance(node, _Repeat):
        return node.low == 0 or node.high == 0 or _surely_empty(node.node)
    return False


def _repeat(node: _Node, low: int, high: int | None, lazy: bool) -> _Node:
    if high == 0:
        return _EPSILON
    if low == high == 1:
        return node
    return _Repeat(node, low, high, lazy)


def _alt(options: list[_Node]) -> _Node:
    kept: list[_Node] = []
    for option in options:
        if option == _NOTHING:
            continue
        kept.extend(option.options if isinstance(option, _Alt) else (option,))
    if len(kept) == 1:
        return kept[0]
    return _Alt(tuple(kept))


class _Deriver:
    """Derivatives by one known character `char`, the known character `before` preceding it."""

    def __init__(self, char: str, before: str, flags: int, plain: _Memo) -> None:
        self.char = char
        self.before = before
        self.flags = flags
        # `nullable` by node identity: the same big alternation is asked about many times.
        self.plain = plain
        self.empty: _Memo = {}

    def edge(self, kind: str) -> bool:
        """Whether an edge holds between `before` and `char` (both known)."""
        if kind == "b":
            return _is_word(self.before, self.flags) != _is_word(self.char, self.flags)
        if kind == "B":
            return _is_word(self.before, self.flags) == _is_word(self.char, self.flags)
        # `^`, `\A`: never after a known character; `$`, `\Z`: never before one (no "\n").
        if self.char == "\n" or self.before == "\n":
            raise Underivable("line edges around a newline")
        return False

    def nullable(self, node: _Node) -> bool | None:
        """Whether `node` can match the empty string here: True, False, or None when that
        depends on text not known (a lookaround on an empty path)."""
        answer = _plainly_nullable(node, self.plain)
        if answer is not None:
            return answer
        known = self.empty.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        answer = self._nullable(node)
        self.empty[id(node)] = (node, answer)
        return answer

    def _nullable(self, node: _Node) -> bool | None:
        if isinstance(node, _Char):
            return False
        if isinstance(node, _Edge):
            return self.edge(node.kind)
        if isinstance(node, _Seq):
            answers = [self.nullable(item) for item in node.items]
            if False in answers:
                return False
            return True if all(answers) else None
        if isinstance(node, _Alt):
            answers = [self.nullable(option) for option in node.options]
            if True in answers:
                return True
            return False if all(a is False for a in answers) else None
        if isinstance(node, _Repeat):
            return True if node.low == 0 or node.high == 0 else self.nullable(node.node)
        # A lookahead reads the known character: decided when that is enough.
        if node.kind in ("=", "!"):
            inner = self.nullable(node.node)
            if inner is None:
                return None
            if not inner:
                after = self.derive(node.node)
                if after == _NOTHING:
                    inner = False
                elif _surely_empty(after):
                    inner = True
                else:
                    return None
            return inner == (node.kind == "=")
        return None  # a lookbehind reads what is not known

    def derive(self, node: _Node) -> _Node:
        if isinstance(node, _Char):
            return _EPSILON if _tester(node.source, self.flags).fullmatch(self.char) else _NOTHING
        if isinstance(node, _Alt):
            return _alt([self.derive(option) for option in node.options])
        if isinstance(node, _Seq):
            return self.derive_seq(node.items)
        return self.derive_seq((node,))

    def derive_seq(self, items: tuple[_Node, ...]) -> _Node:
        if not items:
            return _NOTHING
        first, rest = items[0], items[1:]
        if isinstance(first, _Edge):
            return self.derive_seq(rest) if self.edge(first.kind) else _NOTHING
        if isinstance(first, _Look):
            return self.derive_look(first, rest)
        if isinstance(first, _Seq):
            return self.derive_seq(first.items + rest)
        if isinstance(first, _Repeat):
            if first.high == 0:
                return self.derive_seq(rest)
            if self.nullable(first.node) is None:
                raise Underivable("repeated group with a conditional empty match")
            high = None if first.high is None else first.high - 1
            again = _repeat(first.node, max(first.low - 1, 0), high, first.lazy)
            consumed = _seq([self.derive(first.node), again, *rest])
            if first.low == 0 or self.nullable(first.node):
                return _alt([consumed, self.derive_seq(rest)])
            return consumed
        empty = self.nullable(first)
        if empty is None:
            if isinstance(first, _Alt):
                return _alt([self.derive_seq((option, *rest)) for option in first.options])
            raise Underivable("conditional empty match")
        consumed = _seq([self.derive(first), *rest])
        return _alt([consumed, self.derive_seq(rest)]) if empty else consumed

    def derive_look(self, look: _Look, rest: tuple[_Node, ...]) -> _Node:
        after = self.derive_seq(rest)
        if after == _NOTHING:
            return _NOTHING
        if look.kind in ("<=", "<!"):
            # What lay behind, then the known character: still a fixed width.
            behind = _Look(look.kind, _seq([look.node, _Char(_literal(self.char))]))
            return _seq([behind, after])
        empty = self.nullable(look.node)
        if empty is None:
            raise Underivable("lookahead with a conditional empty match")
        if empty:
            return after if look.kind == "=" else _NOTHING
        inner = self.derive(look.node)
        if inner == _NOTHING:
            return _NOTHING if look.kind == "=" else after
        return _seq([_Look(look.kind, inner), after])


# --- writing back ---------------------------------------------------------------------------


def _write(node: _Node) -> str:
    if isinstance(node, _Char):
        return node.source
    if isinstance(node, _Edge):
        return {"b": r"\b", "B": r"\B", "A": r"\A", "Z": r"\Z", "^": "^", "$": "$"}[node.kind]
    if isinstance(node, _Seq):
        return "".join(_write_item(item) for item in node.items)
    if isinstance(node, _Alt):
        if not node.options:
            return EMPTY
        return "|".join(_write(option) for option in node.options)
    if isinstance(node, _Repeat):
        inner = _write(node.node)
        if not isinstance(node.node, _Char):
            inner = f"(?:{inner})"
        low, high = node.low, node.high
        if (low, high) == (0, None):
            quantifier = "*"
        elif (low, high) == (1, None):
            quantifier = "+"
        elif (low, high) == (0, 1):
            quantifier = "?"
        elif high is None:
            quantifier = f"{{{low},}}"
        elif low == high:
            quantifier = f"{{{low}}}"
        else:
            quantifier = f"{{{low},{high}}}"
        return inner + quantifier + ("?" if node.lazy else "")
    return f"(?{node.kind}{_write(node.node)})"


def _write_item(node: _Node) -> str:
    text = _write(node)
    if isinstance(node, _Alt) and len(node.options) > 1:
        return f"(?:{text})"
    return text


def derive(source: str, known: str, before: str = " ", flags: int = re.ASCII) -> str:
    """The derivative of the pattern `source` by the characters `known`, which follow the
    character `before` in the text: `EMPTY` when it cannot match there, "" when it matches
    within them already. Raises `Underivable`."""
    return derive_each(source, [known], before, flags)[known]


def derive_each(
    source: str, prefixes: Iterable[str], before: str = " ", flags: int = re.ASCII
) -> dict[str, str]:
    """`derive` by each of `prefixes`, parsing `source` once (the tree is not kept: it is large,
    and the garbage collector would have to walk it for as long as the process lives)."""
    tree = _parse(source)
    plain: _Memo = {}
    derived = {}
    for known in prefixes:
        derived[known] = _derive(tree, known, before, flags, plain)
    return derived


def _derive(node: _Node, known: str, before: str, flags: int, plain: _Memo) -> str:
    for char in known:
        deriver = _Deriver(char, before, flags, plain)
        # A match may end within the known characters: then the pattern matches, whatever
        # follows (`\\bje\\b` at « je »).
        empty = deriver.nullable(node)
        if empty is None:
            raise Underivable("a match may end within the known characters, or not")
        if empty:
            return ""
        node = deriver.derive(node)
        if node == _NOTHING:
            return EMPTY
        before = char
    return _write(node)


# --- needles --------------------------------------------------------------------------------

_NEEDLE_LENGTH = 4
"""The shortest needle worth looking for: shorter ones are in nearly every message."""


def needles(source: str) -> frozenset[str] | None:
    """Strings of which every match of `source` contains at least one, or None when this
    cannot tell (or only strings shorter than `_NEEDLE_LENGTH`).

    Why: a pattern that cannot be filed under keys is searched through the whole message,
    and one with gaps (`(?:\\w+ ){0,10}?`) is tried at every word; a few `str.find`s for the
    words it cannot do without rule out most messages first. Only ever a necessary condition,
    so a message that holds a needle is searched as before: the answers do not change.
    """
    try:
        found = _needles(_parse(source))
    except Underivable:
        return None
    if found is None or any(len(needle) < _NEEDLE_LENGTH for needle in found):
        return None
    return found


def _plain_char(node: _Char) -> str | None:
    """The one character a `_Char` matches, or None for a class, `.` or a special escape."""
    source = node.source
    if len(source) == 1:
        return None if source == "." else source
    if source[0] == "\\" and len(source) == 2 and not source[1].isalnum():
        return source[1]
    if source == "\\x27":
        return "'"
    return None


def _needles(node: _Node) -> frozenset[str] | None:
    """See `needles`; None when `node` can match without any literal string in particular."""
    if isinstance(node, _Char):
        char = _plain_char(node)
        return None if char is None else frozenset((char,))
    if isinstance(node, _Alt):
        union: set[str] = set()
        for option in node.options:
            inner = _needles(option)
            if inner is None:
                return None
            union |= inner
        return frozenset(union)
    if isinstance(node, _Repeat):
        return _needles(node.node) if node.low >= 1 else None
    if isinstance(node, (_Edge, _Look)):
        return None
    # A sequence: every item must match, so any item's needles will do; the best are those
    # whose shortest needle is longest. Literal characters in a row make one needle, even
    # across an edge or a lookaround, which consume nothing.
    best: frozenset[str] | None = None
    run: list[str] = []
    candidates: list[frozenset[str]] = []
    for item in node.items:
        char = _plain_char(item) if isinstance(item, _Char) else None
        if char is not None:
            run.append(char)
            continue
        if isinstance(item, (_Edge, _Look)):
            continue
        if run:
            candidates.append(frozenset(("".join(run),)))
            run = []
        inner = _needles(item)
        if inner is not None:
            candidates.append(inner)
    if run:
        candidates.append(frozenset(("".join(run),)))
    for candidate in candidates:
        if best is None or _rank(candidate) > _rank(best):
            best = candidate
    return best


def _rank(found: frozenset[str]) -> tuple[int, int]:
    """Longer shortest needle first, then fewer needles."""
    return (min(map(len, found), default=1 << 30), -len(found))
