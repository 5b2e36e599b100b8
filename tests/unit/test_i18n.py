"""The fr/en catalogues agree with each other and with the code, and rendering escapes user text."""

from __future__ import annotations

import ast
import html
import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.i18n import LANGUAGES, MissingText, catalogue, join, render, render_template, text
from commandes.registry import Role
from commandes.routers import build_registry
from stockage.groups import GroupKind

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "commandes").rglob("*.py")])
# Calls whose literal argument is a catalogue key.
KEY_CALLS = {"render", "reply", "text", "direct", "BadArgument", "ParseError"}
KEY_SHAPE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")


def placeholders(source: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(source) if field is not None}


def test_fr_and_en_have_exactly_the_same_keys() -> None:
    fr, en = set(catalogue("fr")), set(catalogue("en"))
    assert fr - en == set(), "missing in en"
    assert en - fr == set(), "missing in fr"


@pytest.mark.parametrize("key", sorted(catalogue("fr")))
def test_placeholders_match_between_fr_and_en(key: str) -> None:
    assert placeholders(catalogue("fr")[key]) == placeholders(catalogue("en").get(key, ""))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_renders_to_a_plain_body_without_markup(language: str) -> None:
    for key, source in catalogue(language).items():
        rendered = render(language, key, **dict.fromkeys(placeholders(source), "x"))
        assert "**" not in rendered.body, key
        assert "`" not in rendered.body, key
        assert "<" not in rendered.html.replace("<strong>", "").replace("</strong>", "").replace(
            "<code>", ""
        ).replace("</code>", "").replace("<br>", ""), key


def _literal_keys(node: ast.expr) -> list[str]:
    """The key strings an argument can evaluate to; f-strings give a regex (`{…}` → `.+`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [re.escape(node.value)]
    if isinstance(node, ast.IfExp):
        return _literal_keys(node.body) + _literal_keys(node.orelse)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(re.escape(str(value.value)))
            else:
                parts.append(".+")
        return ["".join(parts)]
    return []


def keys_used_in_code() -> dict[str, str]:
    """Every key-shaped literal passed to a rendering call: pattern → where it is."""
    found: dict[str, str] = {}
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in KEY_CALLS:
                continue
            for arg in node.args[:2]:
                for pattern in _literal_keys(arg):
                    plain = pattern.replace(".+", "x").replace("\\", "")
                    if KEY_SHAPE.fullmatch(plain):
                        found[pattern] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_the_scan_finds_the_keys_it_should() -> None:
    used = {pattern.replace("\\", "") for pattern in keys_used_in_code()}
    for key in (
        "errors.internal",
        "errors.choice",
        "errors.too_many",
        "aide.title",
        "console.said",
    ):
        assert key in used
    assert "groupe.created_.+" in used
    assert len(used) > 25


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_used_in_code_exists(language: str) -> None:
    keys = catalogue(language)
    missing = [
        f"{pattern.replace(chr(92), '')} ({where})"
        for pattern, where in keys_used_in_code().items()
        if not any(re.fullmatch(pattern, key) for key in keys)
    ]
    assert missing == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_keys_built_from_enums_exist(language: str) -> None:
    keys = catalogue(language)
    for kind in GroupKind:
        assert f"groupe.created_{kind.value}" in keys
        assert f"groupe.kind_{kind.value}" in keys
    for lang in LANGUAGES:
        assert f"groupe.language_{lang}" in keys
    for role in Role:
        assert f"aide.role_{role.name.lower()}" in keys


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_command_has_help_and_every_argument_a_label(language: str) -> None:
    registry = build_registry()
    keys = catalogue(language)
    for command in registry.commands:
        assert f"{command.key}.help" in keys, command.name
        for arg in command.args:
            assert f"args.{arg.name}" in keys, (command.name, arg.name)
        command.usage(language)
        command.help(language)


def test_missing_key_raises_missing_text() -> None:
    with pytest.raises(MissingText, match=r"fr:nothing\.here"):
        render("fr", "nothing.here")


def test_missing_parameter_is_an_error() -> None:
    with pytest.raises(KeyError, match="typed"):
        render("fr", "errors.unknown")


def test_template_markup_becomes_html_and_disappears_from_the_body() -> None:
    rendered = render("fr", "groupe.created_soutien", timezone="America/Montreal")
    assert rendered.html.startswith("<strong>Le groupe de soutien est créé.</strong>")
    assert "<code>!rejoindre</code>" in rendered.html
    assert "<br>\n" in rendered.html
    assert rendered.body.startswith("Le groupe de soutien est créé. 🌱\n")
    assert "!rejoindre" in rendered.body
    assert "**" not in rendered.body
    assert "`" not in rendered.body


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<a href="https://matrix.to/#/@x:y">x</a>',
        "<b>gras</b> & <img src=x onerror=alert(1)>",
    ],
)
def test_parameters_are_escaped_in_html_and_kept_in_the_body(hostile: str) -> None:
    rendered = render("fr", "errors.unknown", typed=hostile)
    assert hostile in rendered.body
    assert html.escape(hostile, quote=False) in rendered.html
    assert "<script" not in rendered.html
    assert "<a " not in rendered.html
    assert "<img" not in rendered.html
    assert "<b>" not in rendered.html
    # The template's own code markup is still converted around it.
    assert "<code>!aide</code>" in rendered.html


def test_a_parameter_with_markup_is_not_formatted() -> None:
    rendered = render("en", "errors.unknown", typed="**bold** and `code`")
    assert "**bold** and `code`" in rendered.html
    assert "<strong>bold" not in rendered.html
    assert "<code>code" not in rendered.html
    assert "**bold** and `code`" in rendered.body


def test_a_parameter_inside_template_bold_stays_escaped() -> None:
    rendered = render_template("**{name}** a parlé", {"name": "<i>**x**</i>"})
    assert rendered.html == "<strong>&lt;i&gt;**x**&lt;/i&gt;</strong> a parlé"
    assert rendered.body == "<i>**x**</i> a parlé"


def test_a_parameter_looking_like_an_internal_marker_is_inserted_as_is() -> None:
    rendered = render_template("{a}|{b}", {"a": "\x001\x00", "b": "B"})
    assert rendered.body == "\x001\x00|B"


def test_plain_body_has_no_markup_and_html_has_line_breaks() -> None:
    rendered = render("en", "groupe.rules")
    assert rendered.body.startswith("Our rules\n1. ")
    assert "(!pass)" in rendered.body
    assert "<br>" not in rendered.body
    assert rendered.html.startswith("<strong>Our rules</strong><br>\n1. ")


def test_text_is_the_plain_body() -> None:
    assert text("en", "errors.missing", arg="time zone") == "Something is missing: time zone."


def test_join_keeps_plain_and_html_apart() -> None:
    joined = join([render("en", "aide.title"), render("en", "aide.footer")])
    assert joined.body == "Halte commands\nType !help <command> for details on one command."
    assert joined.html == (
        "<strong>Halte commands</strong><br>\n"
        "Type <code>!help &lt;command&gt;</code> for details on one command."
    )


@settings(database=None, max_examples=200)
@given(st.text(max_size=40))
def test_any_parameter_text_is_kept_in_the_body_and_escaped_in_html(value: str) -> None:
    rendered = render("fr", "errors.unknown", typed=value)
    assert value in rendered.body
    assert html.escape(value, quote=False) in rendered.html
    template_tags = rendered.html.replace(html.escape(value, quote=False), "")
    assert template_tags.count("<") == template_tags.count(">") == 2  # <code>…</code>
