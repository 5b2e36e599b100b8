"""The crisis net's learned model: its features, its file, and how it votes with the patterns."""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Callable
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.guards import classify, is_crisis
from bot.guards.classify import model_view
from bot.guards.model import (
    _BREAK,
    MODEL_FILE,
    CrisisModel,
    crisis_model,
    features,
    from_json,
    probability_of,
    read,
    word_count,
)

# The module, not the function of the same name that `bot.guards` exports.
classify_module = importlib.import_module("bot.guards.classify")


def test_features_are_words_pairs_and_prefixes() -> None:
    assert features(" je suis epuisee ") == {
        "je",
        "suis",
        "epuisee",
        "epui-",
        "je suis",
        "suis epuisee",
    }


def test_pairs_never_span_punctuation_or_a_blanked_span() -> None:
    found = features(" je veux pas ~ mourir . demain matin ")
    assert "pas mourir" not in found
    assert "~" in found  # that something was blanked is a feature; what was, is not
    assert "." not in found
    assert "mourir demain" not in found
    assert {"veux pas", "demain matin", "mourir"} <= found


def _no_tags(concepts: bool) -> str:
    return ""


def test_probability_adds_the_weights_of_the_features_present() -> None:
    model = CrisisModel({"nuit": 2.0, "seule": 1.0}, bias=-3.0, threshold=0.5)
    assert model.probability(" la nuit ") == pytest.approx(1 / (1 + 2.718281828**1), rel=1e-6)
    assert model.probability(" seule la nuit ") == pytest.approx(0.5)
    assert model.decide(" seule la nuit ", _no_tags)
    assert not model.decide(" la nuit ", _no_tags)


def test_decide_agrees_with_the_probability_when_it_has_to_look_at_the_tags() -> None:
    """The tags are looked up only near the threshold; there the intercept must count once
    (it was counted twice, so the model flagged far less than its threshold said)."""
    model = CrisisModel({"nuit": 3.5, "@clinical": -1.0}, bias=-3.0, threshold=0.5)
    assert model.probability(" nuit ") > 0.5
    assert model.decide(" nuit ", _no_tags)
    assert model.probability(" nuit . @clinical ") < 0.5
    assert not model.decide(" nuit ", lambda concepts: " . @clinical")


def test_a_short_message_needs_the_short_threshold() -> None:
    """Three words are too few for the model to judge (« je sais pas »): they need more."""
    model = CrisisModel({"sais": 2.0}, bias=-1.0, threshold=0.5, short_threshold=0.9)
    assert not model.decide(" je sais pas ", _no_tags)
    assert model.decide(" je sais pas quoi faire ", _no_tags)
    assert CrisisModel({"sais": 2.0}, bias=-1.0, threshold=0.5).decide(" je sais pas ", _no_tags)


def test_a_sensitive_group_uses_the_lower_threshold() -> None:
    model = CrisisModel({"nuit": 2.0}, bias=-3.0, threshold=0.5, sensitive_threshold=0.2)
    text = " la nuit tout seul "  # probability 0.27
    assert not model.decide(text, _no_tags)
    assert model.decide(text, _no_tags, sensitive=True)


def test_a_feature_counts_once_however_often_it_appears() -> None:
    model = CrisisModel({"nuit": 2.0}, bias=-3.0, threshold=0.5)
    assert model.probability(" nuit nuit nuit ") == model.probability(" nuit ")


def test_a_tags_prefix_is_not_a_feature() -> None:
    """At run time a tag comes alone (`tag_features`); a trained "@cli-" would never be seen."""
    assert features(" nuit . @clinical ") == {"nuit", "@clinical"}


# -- TF-IDF models: features weighted by idf, each message scaled to length one -----------


def test_a_tfidf_model_scores_the_scaled_idf_weighted_features() -> None:
    idf = {"nuit": 2.0, "seule": 1.0, "la": 1.5}
    model = CrisisModel({"nuit": 3.0, "seule": 1.0}, bias=-1.0, threshold=0.5, idf=idf)
    # "la" weighs nothing but lengthens the message; "zut" is unknown and changes nothing.
    expected = -1.0 + (3.0 * 2.0 + 1.0 * 1.0) / math.sqrt(2.0**2 + 1.0**2 + 1.5**2)
    assert model.total({"nuit", "seule", "la", "zut"}) == pytest.approx(expected)
    assert model.probability(" seule la nuit zut ") == pytest.approx(probability_of(expected))
    assert model.total({"zut"}) == pytest.approx(-1.0)


def test_a_tfidf_model_judges_the_share_of_crisis_words_not_their_number() -> None:
    """One weighty word among many ordinary ones counts for less (« je dois partir à 3 h
    pour aller chercher le petit à la garderie »); added up, it would count the same."""
    neutral = ["je", "dois", "a", "3", "h", "pour", "la", "garderie"]
    idf = dict.fromkeys(["partir", "ce", "soir", *neutral], 1.0)
    model = CrisisModel({"partir": 3.0}, bias=-1.0, threshold=0.6, idf=idf)
    assert model.decide(" partir ce soir ", _no_tags)
    assert not model.decide(" je dois partir a 3 h pour la garderie ", _no_tags)
    summed = CrisisModel({"partir": 3.0}, bias=-1.0, threshold=0.6)
    assert summed.decide(" je dois partir a 3 h pour la garderie ", _no_tags)


def _tagged(tags: str) -> Callable[[bool], str]:
    def give(concepts: bool) -> str:
        return tags

    return give


def _never(concepts: bool) -> str:
    raise AssertionError("the tags were looked for although they could not change the answer")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "@clinical", "#means"]),
        st.tuples(st.floats(-4, 4), st.floats(0.5, 4)),
        min_size=1,
    ),
    st.floats(-3, 3),
    st.sets(st.sampled_from(["a", "b", "c", "d", "e"])),
    st.sets(st.sampled_from(["@clinical", "#means"])),
    st.floats(0.05, 0.95),
)
def test_a_tfidf_models_decision_is_its_score_with_the_tags(
    terms: dict[str, tuple[float, float]],
    bias: float,
    words: set[str],
    tags: set[str],
    threshold: float,
) -> None:
    """Tags are looked for only when they could change the answer; either way the answer is
    the score of the words and the tags together against the threshold."""
    weights = {f: w for f, (w, _) in terms.items()}
    idf = {f: v for f, (_, v) in terms.items()}
    model = CrisisModel(weights, bias, threshold, idf=idf)
    text = " " + " . ".join(sorted(words)) + " "
    given_tags = " . ".join(sorted(tags))
    expected = model.total(words | tags) >= math.log(threshold / (1 - threshold))
    assert model.decide(text, _tagged(given_tags)) == expected
    if not any(f[:1] in "@#" for f in idf):
        assert model.decide(text, _never) == expected


def test_huge_scores_do_not_overflow() -> None:
    model = CrisisModel({"a": 1e6, "b": -1e6}, bias=0.0, threshold=0.5)
    assert model.probability(" a ") == pytest.approx(1.0)
    assert model.probability(" b ") == pytest.approx(0.0)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"weights": {}, "bias": 0.0},
        {"weights": "nope", "bias": 0.0, "threshold": 0.5},
        {"weights": {"a": "lots"}, "bias": 0.0, "threshold": 0.5},
        {"weights": {}, "bias": 0.0, "threshold": 1.5},
        {"weights": {}, "bias": 0.0, "threshold": 0.0},
        {"weights": {}, "bias": 0.0, "threshold": 0.5, "sensitive_threshold": 0.7},
        {"weights": {}, "bias": 0.0, "threshold": 0.5, "short_threshold": 1.0},
        {"weights": {"a": 1.0}, "bias": 0.0, "threshold": 0.5, "idf": {"b": 1.0}},
        {"weights": {"a": 1.0}, "bias": 0.0, "threshold": 0.5, "idf": {"a": 0.0}},
        {"weights": {}, "bias": 0.0, "threshold": 0.5, "idf": "nope"},
    ],
)
def test_a_broken_model_file_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=MODEL_FILE):
        from_json(data)


def test_the_shipped_model_is_trained_and_loads() -> None:
    raw = resources.files("bot.guards").joinpath("data").joinpath(MODEL_FILE).read_text("utf-8")
    data = json.loads(raw)
    model = crisis_model()
    assert len(model.weights) > 500, "the model file holds no trained weights"
    assert model.threshold == data["threshold"]
    assert "tune.jsonl" in data["trained_on"]


@pytest.fixture
def only_word_model(monkeypatch: pytest.MonkeyPatch) -> CrisisModel:
    """A model that flags exactly the word "zorglub": how the vote works, whatever the weights."""
    model = CrisisModel({"zorglub": 10.0}, bias=-10.0, threshold=0.5)
    monkeypatch.setattr(classify_module, "crisis_model", lambda: model)
    return model


def test_the_model_alone_is_enough_to_flag_a_crisis(only_word_model: CrisisModel) -> None:
    assert classify("ce soir zorglub", "fr").crisis
    assert is_crisis("ce soir zorglub", "fr")
    assert not is_crisis("ce soir zorglub", "fr", learned=False)


def test_classify_passes_the_groups_sensitivity_to_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = CrisisModel({"zorglub": 1.0}, bias=-2.0, threshold=0.5, sensitive_threshold=0.2)
    monkeypatch.setattr(classify_module, "crisis_model", lambda: model)
    text = "ce soir encore zorglub"  # probability 0.27
    assert not classify(text, "fr").crisis
    assert classify(text, "fr", sensitive=True).crisis
    assert is_crisis(text, "fr", sensitive=True)


def test_the_patterns_alone_are_enough_too(only_word_model: CrisisModel) -> None:
    assert classify("je veux mourir", "fr").crisis


def test_the_model_reads_the_text_after_negations_are_blanked(only_word_model: CrisisModel) -> None:
    view = model_view("Je ne veux pas mourir, je veux juste dormir", "fr")
    assert "mourir" not in view.split()


def test_a_patients_words_in_quotes_are_not_the_members(only_word_model: CrisisModel) -> None:
    text = "Une patiente m'a dit « zorglub » au triage, on l'a gardée en observation."
    assert not classify(text, "fr").crisis
    assert classify("Je te le dis : « zorglub ».", "fr").crisis


def test_the_model_sees_concept_tags_and_the_clinical_marker() -> None:
    view = model_view("J'ai gardé des pilules au cas où, pour ce soir", "fr")
    assert "#means" in view.split()
    assert "#time" in view.split()
    clinical = model_view("Évaluation du risque suicidaire avec l'usager ce matin", "fr")
    assert "@clinical" in clinical.split()


def _features_word_by_word(text: str) -> tuple[set[str], int]:
    """The plain definition of `features` and `word_count`, which `read` must equal."""
    found: set[str] = set()
    words = 0
    previous = ""
    for word in text.split():
        if word in {".", "?", "!", "~", ",", ";", ":"}:
            if word == "~":
                found.add("~")
            previous = ""
            continue
        found.add(word)
        if word[:1] not in "#@":
            words += 1
            if len(word) > 4:
                found.add(word[:4] + "-")
        if previous:
            found.add(previous + " " + word)
        previous = word
    return found, words


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *("je", "suis", "epuisee", "a", ".", "~", "?", ",", "!", ";", ":"),
                *("@clinical", "#means", "mourir", "ok.", "~~", "x", "longword", "\t", "\n", "  "),
            ]
        ),
        max_size=14,
    )
)
def test_read_is_the_word_by_word_definition(tokens: list[str]) -> None:
    text = " " + " ".join(tokens) + " "
    assert read(text) == _features_word_by_word(text)
    assert features(text) == read(text)[0]
    assert word_count(text) == read(text)[1]


@given(st.text(alphabet=" .?!~,;:ab\t\n", max_size=20))
def test_the_break_pattern_splits_as_its_lookbehind_first_form(text: str) -> None:
    plain = re.compile(r"(?<!\S)([.?!~,;:])(?!\S)")
    assert _BREAK.split(text) == plain.split(text)
