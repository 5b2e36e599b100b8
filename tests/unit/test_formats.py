"""Check-in formats are data: the shipped TOML files, and a loader that refuses bad ones."""

from __future__ import annotations

import math
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.formats import (
    DEFAULT_FORMAT,
    MAX_TEXT_LENGTH,
    Format,
    FormatError,
    builtin_formats,
    load_format,
    load_formats,
    parse_format,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "formats"
PACKAGE = ROOT / "bot" / "formats"

# --- the shipped formats ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "minutes", "rounds"),
    [("soutien-30", 30, 6), ("codeveloppement", 60, 6), ("communaute-theme", 45, 6)],
)
def test_builtin_format_loads_with_its_total_and_round_count(
    name: str, minutes: int, rounds: int
) -> None:
    fmt = builtin_formats()[name]
    assert fmt.name == name
    assert fmt.duration == timedelta(minutes=minutes)
    assert len(fmt.rounds) == rounds
    for language in ("fr", "en"):
        assert fmt.title(language)
        assert fmt.description(language)
        for round_ in fmt.rounds:
            assert round_.text(language).title
            assert round_.text(language).prompt


def test_builtins_are_the_shipped_files_and_include_the_default() -> None:
    shipped = {path.stem for path in PACKAGE.glob("*.toml")}
    assert set(builtin_formats()) == shipped
    assert {"soutien-30", "codeveloppement", "communaute-theme"} <= shipped
    assert DEFAULT_FORMAT in shipped


def test_builtin_files_load_the_same_from_a_path() -> None:
    for name, fmt in builtin_formats().items():
        assert load_format(PACKAGE / f"{name}.toml") == fmt


def test_soutien_30_follows_the_default_check_in_of_domain_md() -> None:
    fmt = builtin_formats()["soutien-30"]
    assert [(r.key, r.duration) for r in fmt.rounds] == [
        ("accueil", timedelta(minutes=3)),
        ("meteo", timedelta(minutes=4)),
        ("lourd", timedelta(minutes=8)),
        ("aide", timedelta(minutes=8)),
        ("reconnaissance", timedelta(minutes=4)),
        ("cloture", timedelta(minutes=3)),
    ]
    assert [r.text("fr").title for r in fmt.rounds] == [
        "Accueil et cadre",
        "Météo",
        "Ce qui est lourd",
        "Ce qui aide",
        "Reconnaissance",
        "Stationnement et clôture",
    ]
    # Welcome and closing owe nobody an answer: no nudge there.
    assert [r.nudge for r in fmt.rounds] == [False, True, True, True, True, False]
    prompts = {r.key: r.text("fr").prompt for r in fmt.rounds}
    assert "`!passer`" in prompts["accueil"]
    assert "règles" in prompts["accueil"]
    assert prompts["meteo"].startswith(
        "Ta couleur aujourd'hui — vert, jaune, orange ou rouge — et un mot ?"
    )
    for zone in ("🟢 en santé", "🟡 en réaction", "🟠 fragilisé·e", "🔴 en état critique"):
        assert zone in prompts["meteo"]
    assert "deux dernières semaines" in prompts["meteo"]
    assert prompts["lourd"] == (
        "Qu'est-ce qui a été difficile depuis la dernière rencontre ? "
        "Une situation, ce qu'elle te fait."
    )
    assert prompts["aide"] == (
        "Qu'est-ce qui t'a aidé·e à tenir, ou t'a rappelé pourquoi tu fais ce travail ?"
    )
    assert prompts["reconnaissance"] == (
        "Un moment de reconnaissance, ou un geste de bienveillance reçu ou donné ?"
    )
    assert prompts["cloture"].startswith("Un sujet à rapporter à la réunion d'équipe ?")
    assert "`!stationner`" in prompts["cloture"]
    assert prompts["cloture"].endswith("Un mot pour partir.")


def test_codeveloppement_has_the_six_phases_and_names_the_roles() -> None:
    fmt = builtin_formats()["codeveloppement"]
    assert [r.key for r in fmt.rounds] == [
        "expose",
        "clarification",
        "contrat",
        "reactions",
        "synthese",
        "apprentissages",
    ]
    assert "« client »" in fmt.description("fr")
    assert "« consultant·es »" in fmt.description("fr")
    # The client listens during the reactions: nobody nudges them to speak then.
    assert fmt.rounds[fmt.round_index("reactions") or 0].nudge is False


def test_communaute_theme_stays_generic_about_the_theme() -> None:
    fmt = builtin_formats()["communaute-theme"]
    assert fmt.rounds[0].key == "accueil"
    assert fmt.rounds[-1].key == "cloture"
    assert [r.text("fr").title for r in fmt.rounds][-2] == "Ce que je retiens"
    assert "thème du jour" in fmt.rounds[1].text("fr").prompt


_TAG = re.compile(r"</?[A-Za-z]")
# French command names and their English aliases, as in bot/locales/*.toml.
_COMMANDS = {"!passer": "!pass", "!stationner": "!park"}


def _texts(fmt: Format, language: str) -> list[str]:
    return [
        fmt.title(language),
        fmt.description(language),
        *(t for r in fmt.rounds for t in (r.text(language).title, r.text(language).prompt)),
    ]


@pytest.mark.parametrize("name", ["soutien-30", "codeveloppement", "communaute-theme"])
def test_builtin_texts_use_only_the_tiny_markup(name: str) -> None:
    fmt = builtin_formats()[name]
    for language in ("fr", "en"):
        for text in _texts(fmt, language):
            assert not _TAG.search(text), text
            assert text.count("**") % 2 == 0, text
            assert text.count("`") % 2 == 0, text
            # Braces would be read as template parameters if a prompt went through i18n.
            assert "{" not in text
            assert "}" not in text


@pytest.mark.parametrize("name", ["soutien-30", "codeveloppement", "communaute-theme"])
def test_builtin_english_prompts_name_the_english_commands(name: str) -> None:
    for round_ in builtin_formats()[name].rounds:
        fr_commands = re.findall(r"`(![a-z]+)`", round_.text("fr").prompt)
        en_commands = re.findall(r"`(![a-z]+)`", round_.text("en").prompt)
        assert [_COMMANDS[c] for c in fr_commands] == en_commands


def test_builtin_formats_returns_a_fresh_dict() -> None:
    first = builtin_formats()
    first.clear()
    assert builtin_formats()


def test_formats_are_frozen_and_hashable() -> None:
    fmt = builtin_formats()["soutien-30"]
    with pytest.raises(TypeError):
        fmt.rounds[0].texts["de"] = fmt.rounds[0].texts["fr"]  # type: ignore[index]
    with pytest.raises(TypeError):
        fmt.titles["de"] = "x"  # type: ignore[index]
    assert hash(fmt) == hash(load_format(PACKAGE / "soutien-30.toml"))


def test_round_index_and_unknown_language() -> None:
    fmt = builtin_formats()["soutien-30"]
    assert fmt.round_index("accueil") == 0
    assert fmt.round_index("cloture") == 5
    assert fmt.round_index("absent") is None
    with pytest.raises(ValueError, match="unknown language"):
        fmt.rounds[0].text("de")
    with pytest.raises(ValueError, match="unknown language"):
        fmt.title("de")


def test_loader_imports_no_platform_or_io_library() -> None:
    check = (
        "import sys, bot.formats; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'nio', 'discord', 'aiosqlite', 'asyncio'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"


# --- a group's own formats -------------------------------------------------------------


def test_custom_format_with_fractional_minutes_loads() -> None:
    fmt = load_format(DATA / "pause-eclair.toml")
    assert [r.key for r in fmt.rounds] == ["souffle", "signal", "au-revoir"]
    assert [r.duration for r in fmt.rounds] == [
        timedelta(seconds=90),
        timedelta(seconds=3),
        timedelta(seconds=207),
    ]
    assert fmt.duration == timedelta(minutes=5)
    assert [r.nudge for r in fmt.rounds] == [True, False, True]  # nudge defaults to true
    # Blank lines around a multi-line string are not part of the text.
    assert fmt.description("fr") == "Cinq minutes pour souffler entre deux quarts de travail."


def test_load_formats_adds_a_directory_of_custom_formats(tmp_path: Path) -> None:
    shutil.copy(DATA / "pause-eclair.toml", tmp_path)
    (tmp_path / "notes.txt").write_text("not a format", encoding="utf-8")
    formats = load_formats(tmp_path)
    assert set(formats) == set(builtin_formats()) | {"pause-eclair"}
    assert load_formats(None) == builtin_formats()


def test_custom_format_may_not_take_a_builtin_name(tmp_path: Path) -> None:
    clash = tmp_path / "soutien-30.toml"
    shutil.copy(PACKAGE / "soutien-30.toml", clash)
    with pytest.raises(FormatError) as caught:
        load_formats(tmp_path)
    assert caught.value.file == str(clash)
    assert caught.value.key == "name"
    assert "built-in" in caught.value.reason


def test_malformed_custom_format_is_rejected_at_load(tmp_path: Path) -> None:
    shutil.copy(DATA / "pause-eclair.toml", tmp_path)
    bad = tmp_path / "zz-bad.toml"
    bad.write_text(BASE.replace('name = "mini"', 'name = "zz-bad"\nsurprise = 1'), encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_formats(tmp_path)
    assert (caught.value.file, caught.value.key) == (str(bad), "surprise")


def test_extra_dir_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as caught:
        load_formats(tmp_path / "absent")
    assert caught.value.key == "(directory)"


# --- malformed files -------------------------------------------------------------------

BASE = """\
name = "mini"
duration_minutes = 5

[fr]
title = "Mini"
description = "Une mini rencontre."

[en]
title = "Mini"
description = "A mini check-in."

[[rounds]]
key = "un"
minutes = 3
fr.title = "Un"
fr.prompt = "Premier tour ?"
en.title = "One"
en.prompt = "First round?"

[[rounds]]
key = "deux"
minutes = 2
nudge = false
fr.title = "Deux"
fr.prompt = "Deuxième tour ?"
en.title = "Two"
en.prompt = "Second round?"
"""


def _variant(*edits: tuple[str, str]) -> str:
    text = BASE
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _without_block(start: str, end: str) -> str:
    """BASE minus the lines from `start` up to (not including) `end`."""
    begin = BASE.index(start)
    return BASE[:begin] + BASE[BASE.index(end, begin) :]


_LONG = "x" * (MAX_TEXT_LENGTH + 1)

MALFORMED = [
    # (id, file text, key, words the reason must contain)
    ("syntax", _variant(("minutes = 3", "minutes = = 3")), "line 14", "invalid TOML"),
    ("missing-name", _variant(('name = "mini"\n', "")), "name", "missing"),
    ("missing-duration", _variant(("duration_minutes = 5\n", "")), "duration_minutes", "missing"),
    ("missing-fr", _without_block("[fr]", "[en]"), "fr", "missing"),
    (
        "missing-en-title",
        _variant(('title = "Mini"\ndescription = "A', 'description = "A')),
        "en.title",
        "missing",
    ),
    ("missing-rounds", BASE[: BASE.index("[[rounds]]")], "rounds", "missing"),
    (
        "empty-rounds",
        BASE[: BASE.index("[[rounds]]")].replace(
            "duration_minutes = 5\n", "duration_minutes = 5\nrounds = []\n"
        ),
        "rounds",
        "at least one round",
    ),
    ("missing-round-minutes", _variant(("minutes = 3\n", "")), "rounds[0].minutes", "missing"),
    ("missing-round-key", _variant(('key = "deux"\n', "")), "rounds[1].key", "missing"),
    (
        "missing-round-language",
        _variant(('en.title = "Two"\nen.prompt = "Second round?"\n', "")),
        "rounds[1].en",
        "missing",
    ),
    (
        "missing-round-prompt",
        _variant(('fr.prompt = "Premier tour ?"\n', "")),
        "rounds[0].fr.prompt",
        "missing",
    ),
    (
        "extra-top-key",
        _variant(("duration_minutes = 5\n", "duration_minutes = 5\ncolour = 1\n")),
        "colour",
        "unknown key",
    ),
    (
        "misspelt-nudge",
        _variant(("nudge = false", "nuge = false")),
        "rounds[1].nuge",
        "did you mean 'nudge'",
    ),
    (
        "extra-round-text-key",
        _variant(('fr.title = "Un"', 'fr.titre = "Un"')),
        "rounds[0].fr.titre",
        "unknown key",
    ),
    (
        "extra-language-key",
        _variant(
            ('description = "A mini check-in."', 'description = "A mini check-in."\nsummary = "x"')
        ),
        "en.summary",
        "unknown key",
    ),
    ("name-not-text", _variant(('name = "mini"', "name = 3")), "name", "must be a string"),
    ("name-bad-characters", _variant(('name = "mini"', 'name = "Mini"')), "name", "lowercase"),
    ("name-not-stem", _variant(('name = "mini"', 'name = "autre"')), "name", "file name"),
    (
        "duration-bool",
        _variant(("duration_minutes = 5", "duration_minutes = true")),
        "duration_minutes",
        "not a boolean",
    ),
    (
        "duration-negative",
        _variant(("duration_minutes = 5", "duration_minutes = -5")),
        "duration_minutes",
        "more than 0",
    ),
    (
        "fr-not-a-table",
        _without_block("[fr]", "[en]").replace("[en]", 'fr = "Mini"\n[en]'),
        "fr",
        "must be a table",
    ),
    (
        "rounds-not-an-array",
        BASE[: BASE.index("[[rounds]]")].replace(
            "duration_minutes = 5\n", 'duration_minutes = 5\nrounds = "un, deux"\n'
        ),
        "rounds",
        "must be an array",
    ),
    (
        "round-not-a-table",
        BASE[: BASE.index("[[rounds]]")].replace(
            "duration_minutes = 5\n", "duration_minutes = 5\nrounds = [3]\n"
        ),
        "rounds[0]",
        "must be a table",
    ),
    (
        "minutes-text",
        _variant(("minutes = 3", 'minutes = "3"')),
        "rounds[0].minutes",
        "not a string",
    ),
    (
        "minutes-negative",
        _variant(("minutes = 2", "minutes = -2")),
        "rounds[1].minutes",
        "more than 0",
    ),
    ("minutes-zero", _variant(("minutes = 2", "minutes = 0")), "rounds[1].minutes", "more than 0"),
    ("minutes-infinite", _variant(("minutes = 2", "minutes = inf")), "rounds[1].minutes", "finite"),
    (
        "minutes-huge",
        _variant(("minutes = 2", "minutes = 100_000_000_000_000")),
        "rounds[1].minutes",
        "more than a day",
    ),
    (
        "nudge-text",
        _variant(("nudge = false", 'nudge = "non"')),
        "rounds[1].nudge",
        "true or false",
    ),
    (
        "prompt-not-text",
        _variant(('fr.prompt = "Premier tour ?"', "fr.prompt = 1")),
        "rounds[0].fr.prompt",
        "must be a string, not an integer",
    ),
    (
        "prompt-blank",
        _variant(('en.prompt = "Second round?"', 'en.prompt = "   "')),
        "rounds[1].en.prompt",
        "empty",
    ),
    (
        "prompt-too-long",
        _variant(('en.prompt = "Second round?"', f'en.prompt = "{_LONG}"')),
        "rounds[1].en.prompt",
        "at most 1000",
    ),
    ("round-key-accented", _variant(('key = "un"', 'key = "météo"')), "rounds[0].key", "lowercase"),
    (
        "duplicate-round-key",
        _variant(('key = "deux"', 'key = "un"')),
        "rounds[1].key",
        "already the key of rounds[0]",
    ),
    (
        "total-mismatch",
        _variant(("duration_minutes = 5", "duration_minutes = 6")),
        "duration_minutes",
        "says 6 but the rounds add up to 5",
    ),
    (
        "first-problem-wins",
        _variant(("minutes = 3", "minutes = -3"), ("minutes = 2", 'minutes = "x"')),
        "rounds[0].minutes",
        "more than 0",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [pytest.param(text, key, reason, id=case) for case, text, key, reason in MALFORMED],
)
def test_malformed_format_names_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_format(path)
    error = caught.value
    assert error.file == str(path)
    assert error.key == key
    assert reason in error.reason
    assert str(error) == f"{path}: {key}: {error.reason}"


def test_base_of_the_malformed_cases_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_format(path).duration == timedelta(minutes=5)


def test_syntax_error_reports_line_and_column() -> None:
    with pytest.raises(FormatError) as caught:
        parse_format(_variant(("minutes = 3", "minutes = = 3")), "groupes/mini.toml")
    assert caught.value.file == "groupes/mini.toml"
    assert caught.value.key == "line 14"
    assert "column 11" in caught.value.reason


def test_file_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "mini.toml"
    path.write_bytes(b'name = "\xff"\n')
    with pytest.raises(FormatError) as caught:
        load_format(path)
    assert (caught.value.key, caught.value.file) == ("(file)", str(path))


def test_format_error_survives_pickling() -> None:
    error = FormatError("a.toml", "rounds[1].minutes", "must be more than 0, not -2")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.file, copy.key, copy.reason) == (error.file, error.key, error.reason)
    assert str(copy) == "a.toml: rounds[1].minutes: must be more than 0, not -2"


# --- property: whatever valid rounds are written, they come back -------------------------


def _toml_string(text: str) -> str:
    """A TOML basic string: escape quotes, backslashes and the control characters TOML bans."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


_texts_st = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
_minutes_st = st.one_of(
    st.integers(min_value=1, max_value=120),
    st.floats(min_value=0.01, max_value=120, allow_nan=False, allow_infinity=False),
)
_round_st = st.tuples(
    _minutes_st, st.one_of(st.none(), st.booleans()), _texts_st, _texts_st, _texts_st, _texts_st
)


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(
        st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True), min_size=1, max_size=8, unique=True
    ),
    data=st.data(),
)
def test_written_rounds_load_back_unchanged(keys: list[str], data: st.DataObject) -> None:
    rounds = [data.draw(_round_st) for _ in keys]
    total = math.fsum(minutes for minutes, *_ in rounds)
    lines = [
        'name = "prop"',
        f"duration_minutes = {total!r}",
        '[fr]\ntitle = "T"\ndescription = "D"',
        '[en]\ntitle = "T"\ndescription = "D"',
    ]
    for key, (minutes, nudge, fr_title, fr_prompt, en_title, en_prompt) in zip(
        keys, rounds, strict=True
    ):
        lines += ["[[rounds]]", f'key = "{key}"', f"minutes = {minutes!r}"]
        if nudge is not None:
            lines.append(f"nudge = {'true' if nudge else 'false'}")
        lines += [
            f"fr.title = {_toml_string(fr_title)}",
            f"fr.prompt = {_toml_string(fr_prompt)}",
            f"en.title = {_toml_string(en_title)}",
            f"en.prompt = {_toml_string(en_prompt)}",
        ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prop.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        fmt = load_format(path)
    assert [r.key for r in fmt.rounds] == keys
    expected = [timedelta(minutes=minutes) for minutes, *_ in rounds]
    assert [r.duration for r in fmt.rounds] == expected
    assert fmt.duration == sum(expected, timedelta())
    assert [r.nudge for r in fmt.rounds] == [nudge is not False for _, nudge, *_ in rounds]
    for round_, (_, _, fr_title, fr_prompt, en_title, en_prompt) in zip(
        fmt.rounds, rounds, strict=True
    ):
        assert round_.text("fr").title == fr_title.strip()
        assert round_.text("fr").prompt == fr_prompt.strip()
        assert round_.text("en").title == en_title.strip()
        assert round_.text("en").prompt == en_prompt.strip()
    for index, key in enumerate(keys):
        assert fmt.round_index(key) == index
