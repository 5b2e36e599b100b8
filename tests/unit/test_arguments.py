"""Typed arguments: each type accepts what a person types and refuses the rest with a named text."""

from __future__ import annotations

from datetime import date, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commandes.arguments import (
    Arg,
    BadArgument,
    Choice,
    Day,
    Integer,
    Rest,
    TimeOfDay,
    TimeZone,
    Word,
    fold,
)
from commandes.groupe import KIND, LANGUAGE


def refused(arg_type: object, raw: str) -> BadArgument:
    with pytest.raises(BadArgument) as caught:
        arg_type.parse(raw)  # type: ignore[attr-defined]
    return caught.value


def test_fold_strips_case_and_french_accents() -> None:
    assert fold("SÉANCE") == "seance"
    assert fold("Créer") == "creer"
    assert fold("Français") == "francais"
    assert fold("Où") == "ou"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("soutien", "soutien"),
        ("Support", "soutien"),
        ("pairs", "soutien"),
        ("communauté", "communaute"),
        ("COMMUNAUTE", "communaute"),
        ("community", "communaute"),
        ("cop", "communaute"),
    ],
)
def test_choice_accepts_french_and_english_spellings(raw: str, value: str) -> None:
    assert KIND.parse(raw) == value


@pytest.mark.parametrize(
    ("raw", "value"),
    [("fr", "fr"), ("Français", "fr"), ("en", "en"), ("English", "en"), ("anglais", "en")],
)
def test_language_choice_accepts_both_languages_spellings(raw: str, value: str) -> None:
    assert LANGUAGE.parse(raw) == value


def test_choice_refusal_lists_the_shown_choices() -> None:
    error = refused(KIND, "groupe")
    assert error.key == "errors.choice"
    assert error.params == {"value": "groupe", "choices": "soutien | communaute"}


def test_choice_without_shown_lists_each_value_once() -> None:
    error = refused(Choice({"oui": "yes", "yes": "yes", "non": "no"}), "peut-etre")
    assert error.params["choices"] == "yes | no"


@pytest.mark.parametrize(("raw", "value"), [("1", 1), ("7", 7), ("12", 12)])
def test_integer_in_range(raw: str, value: int) -> None:
    assert Integer(1, 12).parse(raw) == value


@pytest.mark.parametrize("raw", ["0", "13", "999999999"])
def test_integer_out_of_range_names_the_bounds(raw: str) -> None:
    error = refused(Integer(1, 12), raw)
    assert error.key == "errors.integer_range"
    assert error.params == {"value": raw, "minimum": 1, "maximum": 12}


@pytest.mark.parametrize("raw", ["", "-1", "1.5", "deux", "\uff11", "1e3", "12345678901"])
def test_integer_refuses_what_is_not_a_whole_number(raw: str) -> None:
    assert refused(Integer(0, 10**12), raw).key == "errors.integer"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("12:00", time(12, 0)),
        ("12h30", time(12, 30)),
        ("12H30", time(12, 30)),
        ("12h", time(12, 0)),
        ("9:05", time(9, 5)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
    ],
)
def test_time_of_day_accepts_quebec_spellings(raw: str, value: time) -> None:
    assert TimeOfDay().parse(raw) == value


@pytest.mark.parametrize(
    "raw", ["25:00", "24:00", "12:60", "9:5", "12:", "h30", "12:00:00", "midi", "", "1230h"]
)
def test_time_of_day_refuses_impossible_or_malformed_times(raw: str) -> None:
    error = refused(TimeOfDay(), raw)
    assert error.key == "errors.time"
    assert error.params == {"value": raw}


@settings(database=None, max_examples=300)
@given(st.text(max_size=12))
def test_time_of_day_only_ever_raises_bad_argument(raw: str) -> None:
    try:
        result: object = TimeOfDay().parse(raw)
    except BadArgument as exc:
        result = exc
    if isinstance(result, BadArgument):
        assert result.key == "errors.time"
    else:
        assert isinstance(result, time)


@settings(database=None)
@given(st.integers(0, 23), st.integers(0, 59))
def test_time_of_day_round_trips_every_valid_hh_mm(hour: int, minute: int) -> None:
    parsed = TimeOfDay().parse(f"{hour:02d}:{minute:02d}")
    assert parsed == time(hour, minute)
    assert parsed.strftime("%H:%M") == f"{hour:02d}:{minute:02d}"
    assert TimeOfDay().parse(f"{hour}h{minute:02d}") == parsed


def test_day_accepts_an_iso_date() -> None:
    assert Day().parse("2026-12-01") == date(2026, 12, 1)
    assert Day().parse("2028-02-29") == date(2028, 2, 29)


@pytest.mark.parametrize(
    "raw",
    ["2026-02-30", "2026-13-01", "2027-02-29", "2026-2-3", "20261201", "0000-01-01", "demain"],
)
def test_day_refuses_impossible_or_non_iso_dates(raw: str) -> None:
    error = refused(Day(), raw)
    assert error.key == "errors.date"
    assert error.params == {"value": raw}


@pytest.mark.parametrize("raw", ["America/Montreal", "America/Toronto", "UTC", "Etc/GMT+5"])
def test_time_zone_accepts_iana_names(raw: str) -> None:
    assert TimeZone().parse(raw) == raw


@pytest.mark.parametrize(
    "raw",
    ["Mars/Base", "../etc", "/etc/passwd", "America/../../etc/passwd", "America", "", "zone.tab"],
)
def test_time_zone_refuses_unknown_names_and_paths(raw: str) -> None:
    error = refused(TimeZone(), raw)
    assert error.key == "errors.timezone"
    assert error.params == {"value": raw}


def test_word_length_limit() -> None:
    assert Word(max_length=5).parse("abcde") == "abcde"
    error = refused(Word(max_length=5), "abcdef")
    assert error.key == "errors.too_long"
    assert error.params == {"limit": 5}


def test_rest_keeps_inner_spaces_and_limits_length() -> None:
    assert Rest(max_length=11).parse("  deux   mots \n") == "deux   mots"
    error = refused(Rest(max_length=11), "douze carac.")
    assert error.key == "errors.too_long"
    assert error.params == {"limit": 11}


def test_arg_label_comes_from_the_catalogue() -> None:
    arg = Arg("fuseau", TimeZone(), optional=True)
    assert arg.label("fr") == "fuseau horaire"
    assert arg.label("en") == "time zone"
    assert not arg.rest
    assert Arg("commande", Rest()).rest
