"""The command registry: finding a command in a message and binding its typed arguments."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import LANGUAGES, render
from commandes.arguments import Arg, Integer, Rest, TimeOfDay, Word
from commandes.registry import (
    Command,
    Invocation,
    ParseError,
    Registry,
    Role,
    Router,
    UnknownCommand,
)
from commandes.routers import build_registry


async def _noop(*_args: Any, **_kwargs: Any) -> None:
    return None


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


def parse(registry: Registry, body: str) -> Invocation:
    return registry.parse(body)


def parse_error(registry: Registry, body: str) -> ParseError:
    with pytest.raises(ParseError) as caught:
        registry.parse(body)
    return caught.value


def unknown(registry: Registry, body: str) -> UnknownCommand:
    with pytest.raises(UnknownCommand) as caught:
        registry.parse(body)
    return caught.value


def seance_registry() -> Registry:
    """A family with accented names, longer and shorter commands sharing a first word."""
    router = Router()
    router.command("séance", aliases=("session",))(_noop)
    router.command(
        "séance début",
        aliases=("session start",),
        role=Role.MODERATOR,
        args=(Arg("n", Integer(1, 9), optional=True),),
    )(_noop)
    router.command("stationner", aliases=("park",), args=(Arg("texte", Rest()),))(_noop)
    router.command(
        "horaire",
        args=(
            Arg("jour", Word()),
            Arg("heure", TimeOfDay()),
            Arg("semaines", Integer(1, 4), optional=True),
            Arg("note", Rest(), optional=True),
        ),
    )(_noop)
    return Registry([router])


# --- names and aliases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["!séance début", "!seance debut", "!SÉANCE DÉBUT", "!Seance Début", "!session start"]
)
def test_accented_names_match_whatever_the_case_and_accents(body: str) -> None:
    assert seance_registry().parse(body).command.name == "séance début"


@pytest.mark.parametrize(
    "body", ["!groupe creer", "!GROUPE CREER", "!Groupe Créer", "!group create", "/groupe creer"]
)
def test_real_names_fold_case_and_accents(registry: Registry, body: str) -> None:
    assert parse(registry, body).command.name == "groupe creer"


def test_find_folds_each_word(registry: Registry) -> None:
    found = registry.find("GROUPE   Règles")
    assert found is not None
    assert found.name == "groupe regles"
    assert registry.find("nothing here") is None


def test_two_word_name_wins_over_one_word_name() -> None:
    reg = seance_registry()
    assert reg.parse("!séance début 3").command.name == "séance début"
    assert reg.parse("!séance début 3").values == {"n": 3}
    assert reg.parse("!séance").command.name == "séance"
    # The second word is not a subcommand: the one-word command gets it as an argument.
    error = parse_error(reg, "!séance demain")
    assert error.command.name == "séance"
    assert error.key == "errors.too_many"
    assert error.params == {"extra": "demain"}


def test_one_word_alias_of_a_two_word_command(registry: Registry) -> None:
    assert parse(registry, "!regles").command.name == "groupe regles"
    assert parse(registry, "!rules").command.name == "groupe regles"


# --- binding arguments ---------------------------------------------------------------------


def test_optional_args_are_filled_in_order(registry: Registry) -> None:
    values = parse(registry, "!groupe creer communaute en America/Toronto").values
    assert values == {"type": "communaute", "langue": "en", "fuseau": "America/Toronto"}


def test_optional_arg_is_skipped_when_the_word_fits_a_later_one(registry: Registry) -> None:
    values = parse(registry, "!groupe creer en America/Toronto").values
    assert values == {"type": None, "langue": "en", "fuseau": "America/Toronto"}


def test_two_optional_args_are_skipped_for_the_last_one(registry: Registry) -> None:
    values = parse(registry, "!groupe creer America/Toronto").values
    assert values == {"type": None, "langue": None, "fuseau": "America/Toronto"}


def test_no_optional_args_gives_their_defaults(registry: Registry) -> None:
    assert parse(registry, "!groupe creer").values == {"type": None, "langue": None, "fuseau": None}


def test_an_optional_word_that_fits_nothing_is_reported_against_the_first(
    registry: Registry,
) -> None:
    error = parse_error(registry, "!groupe creer xyz")
    assert error.key == "errors.choice"
    assert error.arg is not None
    assert error.arg.name == "type"
    assert error.params["value"] == "xyz"


def test_a_required_arg_is_never_skipped() -> None:
    reg = seance_registry()
    # `deux` does not fit `heure`, which is required: it is not skipped for a later argument.
    error = parse_error(reg, "!horaire lundi deux")
    assert error.arg is not None
    assert error.arg.name == "heure"
    assert error.key == "errors.time"


def test_rest_arg_keeps_spaces_as_typed() -> None:
    reg = seance_registry()
    values = reg.parse("!stationner  le   formulaire  AS-810 plante ").values
    assert values == {"texte": "le   formulaire  AS-810 plante"}


def test_rest_arg_after_skipped_optional() -> None:
    reg = seance_registry()
    values = reg.parse("!horaire lundi 12h30 apporter   le café").values
    assert values == {
        "jour": "lundi",
        "heure": TimeOfDay().parse("12:30"),
        "semaines": None,
        "note": "apporter   le café",
    }


def test_rest_arg_of_help_keeps_a_two_word_command(registry: Registry) -> None:
    invocation = parse(registry, "!aide groupe   creer")
    assert invocation.command.name == "aide"
    assert invocation.values == {"commande": "groupe   creer"}


def test_rest_arg_too_long(registry: Registry) -> None:
    error = parse_error(registry, "!aide " + "x" * 81)
    assert error.key == "errors.too_long"
    assert error.params == {"limit": 80}


def test_too_many_args_names_the_extra_word(registry: Registry) -> None:
    error = parse_error(registry, "!rejoindre maintenant")
    assert error.key == "errors.too_many"
    assert error.params == {"extra": "maintenant"}
    error = parse_error(registry, "!groupe creer soutien fr America/Toronto encore")
    assert error.params == {"extra": "encore"}


def test_missing_required_arg_names_it(registry: Registry) -> None:
    error = parse_error(registry, "!groupe langue")
    assert error.key == "errors.missing"
    assert error.arg is not None
    assert error.arg.name == "langue"
    assert error.command.name == "groupe langue"


def test_bad_required_arg_names_the_value(registry: Registry) -> None:
    error = parse_error(registry, "!groupe langue klingon")
    assert error.key == "errors.choice"
    assert error.params["value"] == "klingon"


@pytest.mark.parametrize(
    "body",
    [
        "!rejoindre maintenant",
        "!groupe langue",
        "!groupe langue de",
        "!groupe creer xyz",
        "!groupe creer soutien fr Mars/Base",
        "!aide " + "x" * 81,
    ],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_parse_error_renders_as_the_dispatcher_does(
    registry: Registry, body: str, language: str
) -> None:
    error = parse_error(registry, body)
    params = dict(error.params)
    if error.arg is not None:
        params["arg"] = error.arg.label(language)
    problem = render(language, error.key, **params).body
    usage = render(language, "errors.usage", problem=problem, usage=error.command.usage(language))
    assert error.command.usage(language) in usage.body


# --- unknown commands ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "suggestion"),
    [
        ("!rejoidre", "rejoindre"),
        ("!aied", "aide"),
        ("!hepl", "help"),
        ("!grupe info", "groupe info"),
    ],
)
def test_unknown_command_suggests_the_closest(
    registry: Registry, body: str, suggestion: str
) -> None:
    error = unknown(registry, body)
    assert error.suggestion == suggestion
    assert error.family == []


def test_unknown_command_without_anything_close(registry: Registry) -> None:
    error = unknown(registry, "!xyzzy plugh")
    assert error.typed == "xyzzy"
    assert error.suggestion is None
    assert error.family == []


def test_unknown_subcommand_lists_the_family(registry: Registry) -> None:
    error = unknown(registry, "!groupe supprimer")
    assert error.typed == "groupe"
    names = {c.name for c in error.family}
    # Every `groupe …` command, and only those (the family grows with each capability).
    expected = {c.name for c in registry.commands if c.name.startswith("groupe ")}
    assert names == expected
    assert {"groupe creer", "groupe info", "groupe regles", "groupe langue"} <= names
    assert {c.name for c in unknown(registry, "!Group delete").family} == names


# --- what counts as a command --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("!aide", True),
        ("!nimportequoi", True),
        ("!Séance", True),
        ("/aide", True),
        ("/help", True),
        ("/groupe info", True),
        ("/GROUPE creer", True),
        ("/regles", True),
        ("/s", False),
        ("/usr/bin/env", False),
        ("/shrug", False),
        ("!", False),
        ("/", False),
        ("! aide", False),
        ("!1", False),
        ("!!", False),
        ("aide", False),
        ("bonjour !aide", False),
        ("", False),
    ],
)
def test_slash_counts_only_for_our_words_while_bang_always_does(
    registry: Registry, body: str, expected: bool
) -> None:
    assert registry.is_command_text(body) is expected


# --- declarations --------------------------------------------------------------------------


def test_an_alias_clashing_with_another_family_s_name_is_refused_at_build() -> None:
    first, second = Router(), Router()
    first.command("aide", aliases=("help",))(_noop)
    second.command("assistance", aliases=("Aide",))(_noop)
    with pytest.raises(ValueError, match="declared twice"):
        Registry([first, second])


def test_names_differing_only_by_accents_or_case_are_the_same_name() -> None:
    router = Router()
    router.command("séance")(_noop)
    router.command("Seance")(_noop)
    with pytest.raises(ValueError, match="declared twice"):
        Registry([router])


def test_the_shipped_registry_builds_and_every_command_has_a_handler(registry: Registry) -> None:
    assert registry.commands
    for command in registry.commands:
        assert isinstance(command, Command)
        assert callable(command.handler)
        assert registry.find(command.name) is command
        for alias in command.aliases:
            assert registry.find(alias) is command


# --- usage lines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "language", "usage"),
    [
        ("groupe creer", "fr", "!groupe creer [soutien|communaute] [fr|en] [fuseau horaire]"),
        ("groupe creer", "en", "!group create [support|community] [fr|en] [time zone]"),
        ("aide", "fr", "!aide [commande…]"),
        ("aide", "en", "!help [command…]"),
        ("groupe langue", "fr", "!groupe langue <fr|en>"),
        ("groupe langue", "en", "!group language <fr|en>"),
        ("groupe regles", "en", "!group rules"),
        ("rejoindre", "fr", "!rejoindre"),
        ("rejoindre", "en", "!join"),
    ],
)
def test_usage_lines(registry: Registry, name: str, language: str, usage: str) -> None:
    command = registry.find(name)
    assert command is not None
    assert command.usage(language) == usage


def test_help_texts_differ_by_language(registry: Registry) -> None:
    command = registry.find("groupe creer")
    assert command is not None
    assert command.help("fr") != command.help("en")
    assert command.key == "commands.groupe_creer"
