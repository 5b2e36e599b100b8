"""Text as the guards see it: one spelling for the many ways people type in a chat room.

Staff write fast, on phones, after a night shift: no accents, Québec forms (« chu pu
capable », « j'veux », « m'as m'tuer »), doubled letters (« mourrrir »), misspellings
(« suiside »). The patterns in `data/` are written once, in a normalised form, and the text is
brought to that form here, so a list need not enumerate every spelling:

1. colour emoji become colour words (🔴 is `rouge` or `red`; ⚰️, 🪦 and 🩸 words too: `cercueil`,
   `pierre tombale`, `goutte de sang`), other emoji and symbols spaces;
2. in one `str.translate` pass: lower case, accents folded (é → e, œ → oe), typographic
   apostrophes made plain, sentence punctuation a ` . ` token and a question mark a ` ? `
   token (a pattern's gap never crosses a sentence; "?" is a cue for technical questions), any
   other character a space;
4. runs of the same letter squeezed to one (« appelle » → `apele`; the loader squeezes the
   patterns the same way, so both sides agree);
5. the language's rewrites from `data/normalise.<lang>.toml`: elisions and contractions first
   (« j'veux » → `je veux`, "can't" → `can not`), then the token map (« chu » → `je suis`),
   then rules that need the neighbours (« pu » is `plus`, except « j'ai pu le faire »).

Language detection for a message that came without one is a stop-word vote, cheap and good
enough for the two languages a Québec room uses; ties go to French, the rooms' first language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache, partial

from bot.guards import native
from bot.guards.lexicon import FOLD, LANGUAGES, expand, load, macros_of, prepare_pattern

try:
    from bot.guards import _pieces
except ImportError:  # not built: no C++ compiler where the bot was installed (see setup.py)
    _pieces = None  # type: ignore[assignment]

DEFAULT_LANGUAGE = "fr"

_COLOUR_EMOJI = {
    "🔴": "red",
    "🟥": "red",
    "🟠": "orange",
    "🟧": "orange",
    "🟡": "yellow",
    "🟨": "yellow",
    "🟢": "green",
    "🟩": "green",
    # Not colours, but answers to the colour round all the same (« ma météo : ⚰️ »): words
    # rare enough for the patterns to read them as the emoji.
    "⚰": "coffin",
    "🪦": "grave",
    "🩸": "blood",
}
_COLOUR_WORDS = {
    "fr": {
        "red": " rouge ",
        "orange": " orange ",
        "yellow": " jaune ",
        "green": " vert ",
        "coffin": " cercueil ",
        "grave": " pierre tombale ",
        "blood": " goutte de sang ",
    },
    "en": {
        "red": " red ",
        "orange": " orange ",
        "yellow": " yellow ",
        "green": " green ",
        "coffin": " coffin ",
        "grave": " gravestone ",
        "blood": " blood drop ",
    },
}
_EMOJI_RE = re.compile("|".join(map(re.escape, _COLOUR_EMOJI)))
_REPEATED = re.compile(r"([a-z])\1+")
_APOSTROPHE = re.compile(r"'+")
_PUNCT_RUN = re.compile(r"( [.?])(?:\1)+")
_ACCENTED_FR = re.compile(r"[éèêàâçùûôîïëœÉÈÊÀÂÇÙÛÔÎÏËŒ]")


class _Table(dict[int, str]):
    """Steps 2 and 3 as one translation table, filled lazily: a character is classified the
    first time it is seen, then looked up in C like any other dict entry."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char.isascii() and (char.isalnum() or char in " '"):
            out = char.lower()
        elif code in FOLD:
            out = FOLD[code]
        elif char in ".!;:…\n\r":
            out = " . "
        elif char == "?":
            out = " ? "
        elif char.isalpha() and char.lower().isascii():
            out = char.lower()
        else:
            out = " "
        self[code] = out
        return out


_TABLE = _Table()


@dataclass(frozen=True, slots=True)
class _Rewrite:
    """One regex rewrite; tried only when the text contains one of `needles`."""

    pattern: re.Pattern[str]
    # A template with group references (`tu \\1`) is expanded by a function: given as a string,
    # `re.sub` would hand it to the Python-level template compiler on every call, matched or not.
    replacement: str | Callable[[re.Match[str]], str]
    # Strings of which every match holds one ("" when the rule gave none): a few `in` tests
    # in C instead of a regex call, which costs more even when it finds nothing.
    needles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Rules:
    """One language's rewrites, compiled."""

    before: tuple[_Rewrite, ...]
    tokens: Mapping[str, str]
    after: tuple[_Rewrite, ...]
    stop_words: frozenset[str]
    # Steps 2 to 5a piece by piece (see `_Mapped`); None when the token map has a value for
    # which that would not give the same text (an apostrophe, an empty word).
    pieces: _Mapped | None


# `\bX…` as `X(?<!\w.)…`: the same test, but starting with a literal letter, which the regex
# engine can look for quickly instead of trying the pattern at every position.
_LEADING_BOUNDARY = re.compile(r"^\\b([a-z])")


def _literal_first(pattern: str) -> str:
    return _LEADING_BOUNDARY.sub(r"\1(?<!\\w.)", pattern)


def _expand(template: str, match: re.Match[str]) -> str:
    return match.expand(template)


def _rewrites(raw: object, macros: Mapping[str, str]) -> tuple[_Rewrite, ...]:
    if not isinstance(raw, list):
        raise TypeError("rewrites must be a list of [pattern, replacement, needles?] items")
    rewrites = []
    for item in raw:
        if not (isinstance(item, list) and len(item) in (2, 3)):
            raise TypeError(f"bad rewrite {item!r}")
        pattern, replacement, *rest = item
        needles = rest[0] if rest else [""]
        if isinstance(needles, str):
            needles = [needles]
        if not (
            isinstance(pattern, str)
            and isinstance(replacement, str)
            and isinstance(needles, list)
            and needles
            and all(isinstance(n, str) for n in needles)
        ):
            raise TypeError(f"bad rewrite {item!r}")
        template = prepare_pattern(replacement)
        rewrites.append(
            _Rewrite(
                re.compile(_literal_first(expand(pattern, macros)), re.ASCII),
                partial(_expand, template) if "\\" in template else template,
                tuple(prepare_pattern(needle) for needle in needles),
            )
        )
    return tuple(rewrites)


@cache
def _rules(lang: str) -> _Rules:
    data = load("normalise", lang)
    macros = macros_of(data)
    tokens = data.get("tokens", {})
    if not isinstance(tokens, dict):
        raise TypeError("[tokens] must map words to words")
    detect = data.get("detect", {})
    mapping = {prepare_pattern(k): prepare_pattern(v) for k, v in tokens.items()}
    plain = all(v and v == v.strip() and "  " not in v and "'" not in v for v in mapping.values())
    return _Rules(
        before=_rewrites(data.get("before", []), macros),
        tokens=mapping,
        after=_rewrites(data.get("after", []), macros),
        stop_words=frozenset(prepare_pattern(w) for w in detect.get("words", [])),
        pieces=_Mapped(lang, mapping) if plain else None,
    )


# Characters that change nothing a person reads: zero-width spaces and joiners, soft hyphens,
# bidirectional marks. Left in, they would let « je veux m\u200bourir » slip past every list.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


_COMBINING = re.compile("[\u0300-\u036f]")
_BEYOND_LATIN_1 = re.compile("[^\x00-\xac\xae-\xff]")  # the soft hyphen (\xad) too


class _Pieces(dict[str, str]):
    """Steps 2 to 4 for one space-separated piece of a message, remembered.

    Why: translating and squeezing each message character by character cost about a third of
    the normalisation (the squeezing regex has no literal to look for, so it is tried at every
    character); the pieces of chat messages are mostly the same few thousand words, so each is
    done once. Both steps work character by character, a space maps to a space and a run of a
    letter never spans a space, so piece by piece gives exactly the same text. The memory is
    bounded: past `_MAX_PIECES` entries it starts afresh.
    """

    def __missing__(self, piece: str) -> str:
        out = _REPEATED.sub(r"\1", piece.translate(_TABLE))
        if len(self) >= _MAX_PIECES:
            self.clear()
        self[piece] = out
        return out


_MAX_PIECES = 1 << 15
_PIECES = _Pieces()


class _Mapped(dict[str, str]):
    """One language's steps 2 to 5a for one space-separated piece of a message, remembered:
    translated and squeezed (`_PIECES`), split at apostrophes, token-mapped, apostrophes
    dropped, each word followed by a space ("" when the piece has no word).

    Why: the same pieces come back message after message, and the split, the map and the
    joins cost as much again as the translation. Joined, the pieces give what `_finish` gives
    for the whole text (`" " + words` for `f" {text} "`), as long as no rewrite comes before
    the token map (`normalise` checks), and no value of the map holds an apostrophe or a
    space at its ends, nor is empty (`_rules` checks).
    """

    def __init__(self, lang: str, tokens: Mapping[str, str]) -> None:
        super().__init__()
        self.apostrophe = _SPLIT[lang]
        self.lookup = tokens.get

    def __missing__(self, piece: str) -> str:
        out, any_word = _token_map(_PIECES[piece], self.apostrophe, self.lookup)
        out = out + " " if any_word else ""
        if len(self) >= _MAX_PIECES:
            self.clear()
        self[piece] = out
        return out


def _base(text: str, lang: str) -> str:
    """Steps 1 to 4: the language-neutral part, with apostrophes still in."""
    return " ".join(map(_PIECES.__getitem__, _unusual(text, lang).split(" ")))


def _unusual(text: str, lang: str) -> str:
    """Step 1, and what is beyond Latin-1 brought within it (rare: ordinary text is returned
    as it is)."""
    # Emoji are beyond Latin-1 too: in Latin-1 text there is none to look for.
    if not text.isascii() and _BEYOND_LATIN_1.search(text):
        # Fullwidth letters, invisible characters, combining marks: beyond Latin-1, where
        # ordinary French is not (é, à, ç are Latin-1), so the common case stays fast.
        text = _INVISIBLE.sub("", unicodedata.normalize("NFKD", text))
        # Accents are folded anyway: dropping every combining mark also undoes marks added
        # to disguise a word (« j́é v́éúx́ »).
        if _COMBINING.search(text):
            text = _COMBINING.sub("", text)
        if not text.isascii() and _EMOJI_RE.search(text):
            words = _COLOUR_WORDS[lang]
            text = _EMOJI_RE.sub(lambda m: words[_COLOUR_EMOJI[m.group()]], text)
    return text


# Where an apostrophe splits a word: French elides the end of a word (« j'veux » → "j' veux"),
# English contracts the start of the next one ("can't" → "can 't").
_SPLIT = {"fr": "' ", "en": " '"}


def _finish(text: str, lang: str) -> str:
    """Step 5, on the output of `_base`."""
    rules = _rules(lang)
    text, _ = _token_map(_rewritten(text, rules.before), _SPLIT[lang], rules.tokens.get)
    return _after(f" {text} " if text else " ", rules)


def _rewritten(text: str, rewrites: tuple[_Rewrite, ...]) -> str:
    """The text through each rewrite in turn, each tried only where one of its needles is."""
    for rule in rewrites:
        for needle in rule.needles:
            if needle in text:
                text = rule.pattern.sub(rule.replacement, text)
                break
    return text


def _token_map(text: str, apostrophe: str, get: Callable[[str, str], str]) -> tuple[str, bool]:
    """Step 5a, for a whole text (`_finish`) or one piece of it (`_Mapped`): split at the
    apostrophes as the language does (`_SPLIT`), each word through the token map, the
    apostrophes dropped, the words joined by one space; and whether there was any word."""
    # `map(get, words, words)` is `[get(w, w) for w in words]`, with the loop in C.
    if "'" in text:
        words = text.replace("'", apostrophe).split()
        return " ".join(map(get, words, words)).replace("'", ""), bool(words)
    words = text.split()
    return " ".join(map(get, words, words)), bool(words)


def _after(text: str, rules: _Rules) -> str:
    """Step 5, after the token map: the rewrites that need the neighbours, then the spacing."""
    text = _rewritten(text, rules.after)
    if "  " in text:
        inner = " ".join(text.split())
        # Nothing left (« '' », two apostrophes alone): one space, as for an empty text.
        text = f" {inner} " if inner else " "
    if ". ." in text or "? ?" in text:
        text = _PUNCT_RUN.sub(r"\1", text)
    return text


def normalise(text: str, lang: str) -> str:
    """The text in the normalised form the patterns of `data/` are written in.

    Words are separated by exactly one space, and the result starts and ends with one, so a
    pattern may use a space as a word edge.
    """
    text = _unusual(text, lang)
    pieces = _compiled(lang)
    if pieces is not None:
        # The common case, compiled: what `_normalised` gives when it takes its short way.
        words = pieces.words(text)
        if words is not None:
            return _after(" " + words, _rules(lang))
    return _normalised(text.split(" "), None, lang)


@cache
def _compiled(lang: str) -> _pieces.Pieces | None:
    """Steps 2 to 5a compiled for one language (see `_pieces.pyx`), or None when that module is
    not built or not wanted (`native.PURE_PYTHON`), or the token map does not allow them piece
    by piece (see `_Mapped`)."""
    rules = _rules(lang)
    if _pieces is None or not native.wanted() or rules.pieces is None:
        return None
    return _pieces.Pieces(
        [_TABLE[code] for code in range(256)],
        _TABLE.__getitem__,
        rules.tokens,
        _SPLIT[lang],
        [needle for rule in rules.before for needle in rule.needles],
    )


def compiled() -> bool:
    """Whether the normalisation's common case is compiled, for both languages."""
    return all(_compiled(lang) is not None for lang in LANGUAGES)


def _normalised(pieces: list[str], base: str | None, lang: str) -> str:
    """`normalise` of the text split at its spaces after step 1; `base` is `_base` of it when
    the caller has it already."""
    rules = _rules(lang)
    mapped = rules.pieces
    if mapped is not None:
        # The common case: no rewrite to make before the token map (they need the whole
        # text), and the token map piece by piece, remembered (see `_Mapped`).
        before = False
        if rules.before:
            if base is None:
                base = " ".join(map(_PIECES.__getitem__, pieces))
            for rule in rules.before:
                for needle in rule.needles:
                    if needle in base:
                        before = True
                        break
                if before:
                    break
        if not before:
            words = "".join(map(mapped.__getitem__, pieces))
            # A word the map leaves empty (an apostrophe alone) spaces the text otherwise:
            # then the whole text goes the long way, below.
            if not words.startswith(" ") and "  " not in words:
                return _after(" " + words, rules)
    if base is None:
        base = " ".join(map(_PIECES.__getitem__, pieces))
    return _finish(base, lang)


def _vote(base: str, raw: str) -> str:
    fr_words, en_words = _rules("fr").stop_words, _rules("en").stop_words
    fr = en = 0
    for word in base.replace("'", " ").split():
        if word in fr_words:
            fr += 1
        elif word in en_words:
            en += 1
    if not raw.isascii() and _ACCENTED_FR.search(raw):
        fr += 2
    return "en" if en > fr else "fr"


def detect_language(text: str) -> str:
    """French or English, by a vote of stop words; accents count for French; ties go to fr."""
    return _vote(_base(text, "fr"), text)


@lru_cache(maxsize=64)
def parse_language(lang: str) -> str:
    """« fr-CA » is fr; anything but French or English is refused."""
    short = lang.strip().lower().replace("_", "-").split("-")[0]
    if short not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    return short


def prepare(text: str, lang: str | None) -> tuple[str, str]:
    """(language, normalised text): the language given, or detected from the same first pass."""
    if lang is not None and lang.strip():
        language = parse_language(lang)
        return language, normalise(text, language)
    pieces = _unusual(text, "fr").split(" ")
    base = " ".join(map(_PIECES.__getitem__, pieces))
    language = _vote(base, text)
    if language != "fr" and not text.isascii() and _EMOJI_RE.search(text):
        return language, normalise(text, language)  # the language's own colour words
    return language, _normalised(pieces, base, language)
