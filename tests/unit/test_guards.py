"""The guards' classifiers: crisis net, technical detection, venting signals, red weather.

Examples are written for this project (fr and en, direct and indirect, misspelt, Québec
forms, hard negatives). The labelled data set in `tests/data/guards/` is used only by the
recall regression test at the end and by `bench/guards_eval.py`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.guards import (
    BLAME,
    LONG,
    LONG_THRESHOLD,
    Classification,
    classify,
    classify_json,
    classify_lines,
    detect_language,
    dominates,
    far_longer,
    is_crisis,
    is_red_weather,
    negative,
    negative_run,
    normalise,
    to_json,
)
from bot.guards.classify import _crisis_lists, _technical_lists, _venting_lists, _weather_lists
from bot.guards.lexicon import Keyed, Tokens, compile_any, first_keys, load
from bot.guards.normalise import parse_language

ROOT = Path(__file__).resolve().parents[2]
TUNE = ROOT / "tests" / "data" / "guards" / "tune.jsonl"


# -- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Ça me TUE", "fr", " ca me tue "),
        ("Œuvre élève", "fr", " oeuvre eleve "),
        ("J\u2019veux pu", "fr", " je veux plus "),
        ("jveux mourrrir", "fr", " je veux mourir "),
        ("chu pu capab", "fr", " je suis plus capable "),
        ("m'as m'tuer", "fr", " je vais me tuer "),
        ("j'ai pu dormir", "fr", " je ai pu dormir "),
        ("j'ai pu envie de rien", "fr", " je ai plus envie de rien "),
        ("suiside, sucidaire", "fr", " suicide suicidaire "),
        ("mourire", "fr", " mourir "),
        ("Fini!!! Vraiment?", "fr", " fini . vraiment ? "),
        ("t'es où? y'a personne", "fr", " tu es ou ? il y a persone "),
        ("I'm not ok, I can't", "en", " i am not ok i can not "),
        ("proud of myself", "en", " proud of myself "),
        ("i dont wanna", "en", " i do not want to "),
        ("kms", "en", " kil myself "),
        ("no one cares", "en", " nobody cares "),
        ("sooooo tired 😩", "en", " so tired "),
        ("🔴 today", "en", " red today "),
        ("🔴 aujourd'hui", "fr", " rouge aujourd hui "),
    ],
)
def test_normalise_brings_spellings_to_one_form(text: str, lang: str, expected: str) -> None:
    assert normalise(text, lang) == expected


def test_normalised_text_has_single_spaces_and_edges() -> None:
    text = normalise("  Bon…   ben,\tj'sais pas  ", "fr")
    assert text.startswith(" ")
    assert text.endswith(" ")
    assert "  " not in text
    for lang in ("fr", "en"):  # found by hypothesis: apostrophes alone left two spaces
        assert normalise("'\u00b4", lang) == normalise("''", lang) == normalise("", lang) == " "


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_normalise_and_classify_never_fail_on_any_text(text: str) -> None:
    for lang in ("fr", "en", None):
        result = classify(text, lang)
        assert result.lang in ("fr", "en")
        assert "  " not in normalise(text, result.lang)


# -- language --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Je suis vraiment fatiguée cette semaine", "fr"),
        ("chu pu capable pis tse c'est dur", "fr"),
        ("Évidemment", "fr"),
        ("I am really tired this week", "en"),
        ("Does anyone know how to swap shifts?", "en"),
        ("", "fr"),
        ("🔴", "fr"),
    ],
)
def test_detect_language_by_stop_words(text: str, expected: str) -> None:
    assert detect_language(text) == expected
    assert classify(text).lang == expected


def test_given_language_is_used_and_regional_tags_accepted() -> None:
    assert classify("I am tired", "fr").lang == "fr"
    assert parse_language("fr-CA") == "fr"
    assert parse_language("en_US") == "en"
    with pytest.raises(ValueError, match="unsupported language"):
        classify("Hallo", "de")


# -- crisis ----------------------------------------------------------------------------------

CRISIS_FR = [
    # direct
    "Je veux mourir.",
    "J'ai envie de me suicider",
    "je vais me tuer ce soir",
    "Je pense au suicide tous les jours",
    "j'ai des idées suicidaires depuis une semaine",
    "Je veux en finir.",
    "je veux mettre fin à mes jours",
    "J'ai pensé à me foutre en l'air",
    "Je me scarifie encore",
    "j'ai recommencé à me couper",
    # indirect
    "Je ne vois plus de sortie.",
    "Tout le monde serait mieux sans moi",
    "Je suis un fardeau pour ma famille",
    "Personne ne s'ennuierait de moi si je disparaissais",
    "J'aimerais m'endormir et ne plus me réveiller",
    "Je n'ai plus envie de vivre",
    "La vie ne vaut plus la peine",
    "J'ai écrit une lettre d'adieu à mes enfants",
    "J'ai accumulé des pilules",
    "Je ne me sens pas en sécurité avec moi-même ce soir",
    "j'ai peur de faire une bêtise",
    "je ne peux plus continuer",
    # misspelt, no accents, Québec
    "jveux mourrir",
    "j'pense au suiside",
    "chu pu capable de vivre de meme",
    "m'as m'tuer",
    "j'veux pu vivre",
    "g envie de mourire",
    "JE VEUX MOURIR!!!",
    "j'ai pu envie de vivre",
    # negation that does not cancel
    "Je ne veux plus vivre",
    "je ne suis pas suicidaire mais je ne vois plus de sortie",
    "je ne sais pas si je veux mourir",
    # the whole message counts, not only its first clause
    "Ce dossier me tue, et honnêtement je pense à en finir",
    # code-switching
    "chu tellement épuisée, I want to die",
]

CRISIS_EN = [
    "I want to die",
    "I'm going to kill myself",
    "I've been thinking about suicide a lot",
    "I have suicidal thoughts again",
    "I'm suicidal",
    "I want to end it all",
    "I want to end my life",
    "I've started cutting again",
    "I keep hurting myself on purpose",
    "I can't go on",
    "I don't want to live anymore",
    "I don't want to wake up tomorrow",
    "Everyone would be better off without me",
    "I'm a burden to my family",
    "Nobody would notice if I was gone",
    "There's no way out",
    "no reason to live",
    "I wrote a note for my kids",
    "I've been stockpiling pills",
    "I don't feel safe with myself tonight",
    "I'm scared of what I might do",
    "wish I was dead",
    "kms",
    "i wanna die",
    "im so done with life",
    "thinking about sewer slide",
    "I feel sucidal",
    "I'm not suicidal, I just want to die",
    "I'm not saying I want to die, but I think about it",
    "je veux pas en parler. I want to disappear forever",
]

NOT_CRISIS_FR = [
    # figures of speech
    "Ce dossier me tue",
    "Je suis mort de rire",
    "J'étais morte de fatigue après mon quart",
    "Ma gestionnaire va me tuer si je remets ça en retard",
    "Je me tue à le répéter",
    "On va se tuer à la tâche",
    "Je vais mourir de faim, qui vient dîner?",
    "Je veux en finir avec ce rapport",
    "J'aimerais disparaître sous terre tellement j'avais honte",
    "mdr",
    # clinical talk
    "Évaluation du risque suicidaire avec l'usager ce matin",
    "Le patient a des idées suicidaires, on a fait le plan de sécurité",
    "Formation sentinelle en prévention du suicide jeudi",
    "La grille d'estimation de la dangerosité est à refaire dans le dossier",
    # negations
    "Je ne veux pas mourir, je veux juste dormir",
    "Je ne suis pas suicidaire, juste fatiguée",
    "Aucune idée suicidaire, rassurez-vous",
    # ordinary
    "Météo: jaune, un peu fatiguée mais ça va",
    "Merci pour la rencontre",
    "Code rouge au 3e hier",
]

NOT_CRISIS_EN = [
    "This shift is killing me",
    "My feet are killing me",
    "I'm dying to see the new schedule",
    "I could kill for a coffee",
    "I died laughing",
    "dead tired after nights",
    "Safety plan with the client today",
    "Suicide risk assessment with the patient this morning",
    "The resident has suicidal ideation, we followed the protocol",
    "I'm not suicidal, just exhausted",
    "I don't want to die, I want a vacation",
    "I would never hurt myself",
    "We nailed it, killing it today",
    "I burned myself out last year, doing better now",
    "I'm proud of myself for asking for help",
    "Taking care of myself this week",
]


@pytest.mark.parametrize("text", CRISIS_FR)
def test_crisis_fr(text: str) -> None:
    assert classify(text, "fr").crisis, normalise(text, "fr")
    assert is_crisis(text, "fr")


@pytest.mark.parametrize("text", CRISIS_EN)
def test_crisis_en(text: str) -> None:
    assert classify(text, "en").crisis, normalise(text, "en")


@pytest.mark.parametrize("text", CRISIS_FR + CRISIS_EN)
def test_crisis_without_language_given(text: str) -> None:
    assert classify(text).crisis


# The negatives below are checked against the patterns alone (`learned=False`): the patterns
# must never flag them. The learned model leans towards recall and may flag a few (a needless
# private message costs little); how many is bounded by a test at the end of this file.


@pytest.mark.parametrize("text", NOT_CRISIS_FR)
def test_not_crisis_fr(text: str) -> None:
    assert not is_crisis(text, "fr", learned=False), normalise(text, "fr")


@pytest.mark.parametrize("text", NOT_CRISIS_EN)
def test_not_crisis_en(text: str) -> None:
    assert not is_crisis(text, "en", learned=False), normalise(text, "en")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Rouge.", "fr"),
        ("🔴", "fr"),
        ("rouge, sans hésiter", "fr"),
        ("Aujourd'hui c'est rouge.", "fr"),
        ("Je suis dans le rouge depuis deux semaines", "fr"),
        ("Honestly? Red.", "en"),
        ("I'm at red.", "en"),
        ("red today", "en"),
    ],
)
def test_red_given_as_ones_own_colour_is_a_crisis_anywhere(text: str, lang: str) -> None:
    assert classify(text, lang).crisis


OTHER_REDS = [
    ("Le voyant rouge de la pompe clignote", "fr"),
    ("Code rouge au 3e hier", "fr"),
    ("Le Canadien a perdu, je vois rouge! Sinon, jaune.", "fr"),
    ("Rouge de honte après ma présentation, mais ma couleur, c'est vert.", "fr"),
    ("Mon compte de banque est dans le rouge, mais moi je suis vert", "fr"),
    ("Orange, not red, don't worry.", "en"),
    ("red tape again", "en"),
    ("The red light on the defibrillator keeps flashing", "en"),
    ("My cheeks went red, but I'm green overall.", "en"),
]


@pytest.mark.parametrize(("text", "lang"), OTHER_REDS)
def test_other_reds_are_not_a_crisis(text: str, lang: str) -> None:
    assert not is_crisis(text, lang, learned=False)


# -- red weather -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "🔴",
        "🔴 pas de mots",
        "Rouge.",
        "rouge aujourd'hui, dure semaine",
        "Je suis dans le rouge",
        "entre orange et rouge",
        "en état critique",
        "Red today",
        "red. not good",
        "🟥",
        "I'm at red",
        "critical",
    ],
)
def test_red_weather(text: str) -> None:
    assert is_red_weather(text)


@pytest.mark.parametrize(
    "text",
    [
        "🟢 vert",
        "jaune, fatiguée",
        "pas rouge, plutôt orange",
        "hier rouge, aujourd'hui vert",
        "vert malgré le code rouge d'hier",
        "Green, thanks",
        "not red anymore, yellow",
        "was red last week, orange now",
        "yellow, too much red tape",
        "🟡",
        "",
    ],
)
def test_not_red_weather(text: str) -> None:
    assert not is_red_weather(text)


# -- technical -------------------------------------------------------------------------------

TECHNICAL = [
    ("Comment on remplit le formulaire AH-223 dans le DPE?", "fr"),
    ("Quelqu'un sait comment échanger un quart sur Kronos?", "fr"),
    ("Le lève-personne du 2e est encore brisé", "fr"),
    ("Ma paie n'est pas rentrée, c'est qui au service de la paie?", "fr"),
    ("La nouvelle procédure pour les TSO sort quand?", "fr"),
    ("Mon mot de passe I-CLSC est expiré", "fr"),
    ("Est-ce que quelqu'un a le lien vers la politique de télétravail?", "fr"),
    ("L'horaire des vacances d'été est affiché?", "fr"),
    ("Does anyone know how to swap shifts in Kronos?", "en"),
    ("The printer on 3 is jammed again, who do I call?", "en"),
    ("My paycheck was short this week, who handles payroll?", "en"),
    ("Where's the new policy on sick leave?", "en"),
    ("How do I submit the incident report form?", "en"),
    ("The IV pumps need new batteries", "en"),
]

NOT_TECHNICAL = [
    ("Je me sens vidée, j'ai pleuré dans mon auto", "fr"),
    ("Merci à l'équipe, vous m'avez fait du bien", "fr"),
    ("Une famille m'a remerciée hier, ça m'a touchée", "fr"),
    ("Je suis fière de mon travail avec madame L.", "fr"),
    ("I felt so alone after that death on the unit", "en"),
    ("A patient's daughter hugged me today", "en"),
    ("Grateful for my colleagues this week", "en"),
]


@pytest.mark.parametrize(("text", "lang"), TECHNICAL)
def test_technical(text: str, lang: str) -> None:
    assert classify(text, lang).technical, normalise(text, lang)


@pytest.mark.parametrize(("text", "lang"), NOT_TECHNICAL)
def test_not_technical(text: str, lang: str) -> None:
    assert not classify(text, lang).technical, normalise(text, lang)


def test_technical_and_crisis_can_both_be_true() -> None:
    text = "Le DPE a planté encore, faudrait en parler à la réunion. Honnêtement je veux mourir"
    result = classify(text, "fr")
    assert result.crisis
    assert result.technical


def test_a_crisis_that_merely_names_work_needs_a_plain_problem_to_be_technical() -> None:
    """The labelling guide: a crisis that names the schedule or the software is the crisis
    talking, not a point for the meeting (`threshold_in_crisis` in data/technical.*.toml)."""
    crisis = "Le DPE a planté encore et honnêtement je veux mourir"
    assert classify(crisis, "fr").crisis
    assert not classify(crisis, "fr").technical
    assert classify("Le DPE a planté encore, c'est la troisième fois", "fr").technical


# -- venting: blame and long -----------------------------------------------------------------

BLAME_CASES = [
    ("Ma gestionnaire s'en fout complètement de nous", "fr"),
    ("La direction ne fait jamais rien, ils sont déconnectés", "fr"),
    ("C'est de sa faute si l'équipe est à terre", "fr"),
    ("Notre chef de service est incompétent", "fr"),
    ("Encore une fois, Julie a rien fait de son quart, elle est paresseuse", "fr"),
    ("My manager never listens, she's useless", "en"),
    ("Management doesn't care about us", "en"),
    ("It's all their fault, upper management is clueless", "en"),
    ("Honestly Kevin is lazy and never does anything", "en"),
    ("@marc:example.org lied to us again", "en"),
]

NOT_BLAME = [
    ("Ma gestionnaire m'a aidée à trouver un remplacement", "fr"),
    ("Je me sens incompétente des fois", "fr"),
    ("La direction a annoncé une nouvelle structure", "fr"),
    ("My manager covered my shift, so kind", "en"),
    ("I feel useless some days", "en"),
]


@pytest.mark.parametrize(("text", "lang"), BLAME_CASES)
def test_blame(text: str, lang: str) -> None:
    assert BLAME in classify(text, lang).venting, normalise(text, lang)


@pytest.mark.parametrize(("text", "lang"), NOT_BLAME)
def test_not_blame(text: str, lang: str) -> None:
    assert BLAME not in classify(text, lang).venting, normalise(text, lang)


def test_long_threshold_default_and_configurable() -> None:
    assert LONG_THRESHOLD == 600
    assert LONG not in classify("a" * 600, "fr").venting
    assert LONG in classify("a" * 601, "fr").venting
    assert LONG not in classify("a" * 601, "fr", long_threshold=1000).venting
    assert LONG in classify("a" * 101, "fr", long_threshold=100).venting
    # surrounding whitespace is not length
    assert LONG not in classify(" " * 50 + "a" * 600 + "\n" * 10, "fr").venting


def test_venting_signals_come_in_a_fixed_order() -> None:
    text = "Ma gestionnaire s'en fout de nous. " + "Et puis encore autre chose. " * 30
    assert classify(text, "fr").venting == (BLAME, LONG)


# -- round-level helpers ---------------------------------------------------------------------


def test_dominates() -> None:
    assert dominates({"a": 4, "b": 1, "c": 1}, "a")
    assert not dominates({"a": 3, "b": 1}, "a"), "under the minimum"
    assert not dominates({"a": 4, "b": 4}, "a"), "exactly half is not more than half"
    assert not dominates({"a": 6}, "a"), "alone in the round"
    assert not dominates({"a": 1}, "zed")
    assert dominates({"a": 3, "b": 1, "c": 1}, "a", share=0.5, minimum=3)
    assert dominates({"a": 5, "b": 5}, "a", share=0.4)


def test_far_longer() -> None:
    assert far_longer(700, [100, 120, 200])
    assert not far_longer(600, [10, 10]), "must be over the minimum"
    assert not far_longer(700, [300, 250]), "must be over ratio x median"
    assert not far_longer(5000, []), "nothing to compare with"
    assert far_longer(301, [100], ratio=3, minimum=300)
    assert not far_longer(300, [100], ratio=3, minimum=0)


def test_negative_score_and_run() -> None:
    assert negative("Épuisée, tannée, tout va mal, c'est l'enfer", "fr") == 1.0
    assert negative("Marcher dehors m'a fait du bien, merci", "fr") == 0.0
    assert negative("I'm exhausted and angry, it's a nightmare", "en") == 1.0
    assert negative("My colleagues helped, I'm grateful", "en") == 0.0
    assert 0.0 < negative("c'est difficile", "fr") < 1.0
    assert negative_run([0.0, 0.6, 0.7, 1.0])
    assert not negative_run([0.6, 0.1, 0.7, 1.0])
    assert not negative_run([1.0, 1.0])
    assert negative_run([0.4, 0.4], threshold=0.3, run=2)


# -- output and the CLI entry point ----------------------------------------------------------


def test_to_json_has_exactly_the_three_fields() -> None:
    result = classify("Je veux mourir", "fr")
    assert isinstance(result, Classification)
    assert to_json(result) == {"crisis": True, "technical": False, "venting": []}
    assert json.loads(classify_json("Je veux mourir")) == to_json(result)
    with pytest.raises(AttributeError):
        result.crisis = False  # type: ignore[misc]


def test_classify_lines_answers_each_line_even_malformed_ones() -> None:
    lines = [
        json.dumps({"text": "Je veux mourir", "lang": "fr"}),
        "{not json",
        json.dumps({"text": "Comment on remplit le formulaire AH-223?"}),
        json.dumps(["a list"]),
        json.dumps({"lang": "fr"}),
        json.dumps({"text": "hello", "lang": "de"}),
        json.dumps({"text": "hello", "lang": 3}),
        "",
        json.dumps({"text": "My manager never listens, she's useless", "lang": None}),
    ]
    out = [json.loads(line) for line in classify_lines(lines)]
    assert len(out) == len(lines)
    assert out[0] == {"crisis": True, "technical": False, "venting": []}
    assert set(out[1]) == {"error"}
    assert out[2] == {"crisis": False, "technical": True, "venting": []}
    for index in (3, 4, 5, 6, 7):
        assert set(out[index]) == {"error"}, lines[index]
    assert out[8]["venting"] == ["blame"]


def test_classify_sensitive_flags_more_crises_never_fewer() -> None:
    """`halte classify --sensitive` answers as a group at « élevée »: every message the
    default net flags stays flagged, and some the default lets through are flagged too."""
    rows = [json.loads(line) for line in TUNE.read_text("utf-8").splitlines()[:1500]]
    lines = [json.dumps({"text": r["text"], "lang": r["lang"]}) for r in rows]
    default = [json.loads(line)["crisis"] for line in classify_lines(lines)]
    sensitive = [json.loads(line)["crisis"] for line in classify_lines(lines, sensitive=True)]
    assert all(s for d, s in zip(default, sensitive, strict=True) if d)
    assert sum(sensitive) > sum(default)
    one = next(r for r, d, s in zip(rows, default, sensitive, strict=True) if s and not d)
    assert json.loads(classify_json(one["text"], one["lang"], sensitive=True))["crisis"]
    assert not json.loads(classify_json(one["text"], one["lang"]))["crisis"]


def test_classify_lines_keeps_non_ascii_readable() -> None:
    (line,) = classify_lines([json.dumps({"text": "é", "lang": "xx"})])
    assert "xx" in json.loads(line)["error"]


# -- data files and the keyed index ----------------------------------------------------------

DATA = ROOT / "bot" / "guards" / "data"


def test_every_data_file_loads_and_compiles() -> None:
    names = sorted(path.name for path in DATA.glob("*.toml"))
    assert names == sorted(
        f"{guard}.{lang}.toml"
        for guard in ("crisis", "normalise", "technical", "venting", "weather")
        for lang in ("fr", "en")
    )
    _crisis_lists()
    for lang in ("fr", "en"):
        _technical_lists(lang)
        _venting_lists(lang)
        _weather_lists(lang)
        normalise("x", lang)


def test_first_keys() -> None:
    assert first_keys(r"\bje (?:(?:ne|pas) )*veux") == {"je "}
    assert first_keys(r"\b(?:je )?(?:ne )?suis") == {"je ", "ne ", "sui"}
    assert first_keys(r"\bsuicid\w*") == {"sui"}
    assert first_keys(r"\bi am") == {"i "}
    assert first_keys(r"\?") == {"? "}
    assert first_keys(r"\bs(?:u|ui)[cs]") is None
    assert first_keys(r"\b\w+ment") is None


def _all_texts() -> list[str]:
    texts = [t for t in CRISIS_FR + CRISIS_EN + NOT_CRISIS_FR + NOT_CRISIS_EN]
    texts += [t for t, _ in TECHNICAL + NOT_TECHNICAL + BLAME_CASES + NOT_BLAME]
    if TUNE.exists():
        texts += [json.loads(line)["text"] for line in TUNE.read_text("utf-8").splitlines() if line]
    return texts


def test_keyed_index_answers_like_a_plain_alternation() -> None:
    """The speed-up (first-word index, tries) must not change any answer."""
    from bot.guards.lexicon import expand, macros_of, strings

    for lang in ("fr", "en"):
        data = load("crisis", lang)
        macros = macros_of(data)
        for key in ("cancel", "figurative", "direct", "generic", "clinical"):
            sources = strings(data, key)
            keyed = Keyed(sources, macros)
            plain = compile_any([expand(s, macros) for s in sources])
            for text in _all_texts():
                norm = normalise(text, lang)
                assert keyed.search(Tokens(norm)) == bool(plain.search(norm)), (key, norm)


@given(st.lists(st.from_regex(r"[a-z]{1,6}( [a-z]{1,4})?", fullmatch=True), min_size=1))
@settings(max_examples=200, deadline=None)
def test_word_tries_match_the_same_strings(words: list[str]) -> None:
    from bot.guards.lexicon import _tries

    plain = re.compile("(?:" + "|".join(map(re.escape, words)) + ")$")
    trie = re.compile(_tries("(?:" + "|".join(words) + ")") + "$")
    for word in [*words, *(w + "x" for w in words), *(w[:-1] for w in words)]:
        assert bool(plain.match(word)) == bool(trie.match(word)), word


# -- more examples, written in rounds while tuning (each round was measured fresh first) ----

# Crisis, varied wording: plans, means, farewells, time limits, danger to others.
MORE_CRISIS = [
    ("fr", "J'ai l'impression que ma vie est finie, autant en finir."),
    ("fr", "Hier soir j'ai écrit des lettres à mes enfants, au cas où."),
    ("fr", "Je me sens tellement de trop, je devrais juste partir pour de bon."),
    ("fr", "Je pense à me pendre, je sais pas quoi faire."),
    ("fr", "J'ai fait des recherches sur comment mourir sans souffrir."),
    ("fr", "Je peux plus. Je veux que ça s'arrête pour toujours."),
    ("fr", "J'ai pris une bouteille de pilules tantôt."),
    ("fr", "Y'a des soirs où je me dis que mes enfants seraient mieux sans moi."),
    ("fr", "je suis pu capable de vivre avec ça"),
    ("fr", "Je veux plus exister."),
    ("fr", "J'aurais aimé ne jamais me réveiller ce matin."),
    ("fr", "ça me tente pus de me battre, j'ai pu rien"),
    ("fr", "Chus rendue à penser au suicide pour vrai"),
    ("fr", "Mon chum me menace pis j'ai peur pour ma vie."),
    ("fr", "Je me suis brûlée exprès avec le fer hier."),
    ("fr", "Je me scarifie depuis l'automne."),
    ("fr", "J'envisage sérieusement de mettre fin à mes jours."),
    ("fr", "J'en peux plus de vivre comme ça, je veux mourir."),
    ("fr", "Des fois je roule pis j'ai envie de donner un coup de volant."),
    ("fr", "J'ai acheté de quoi en finir."),
    ("fr", "Je sais pas si je vais me rendre à demain."),
    ("fr", "Ma vie a plus aucun sens."),
    ("fr", "Je vois pas de lumière au bout du tunnel, juste du noir."),
    ("fr", "J'ai l'impression d'être un fardeau pour mon équipe pis ma famille."),
    ("fr", "C'est la dernière fois que vous avez de mes nouvelles."),
    ("fr", "Je vous dis merci pour tout, vraiment. Adieu."),
    ("fr", "Je suis rouge. Je sais pas quoi dire d'autre."),
    ("fr", "🔴 pas envie d'en parler"),
    ("fr", "J'ai recommencé à me faire vomir pis à me couper."),
    ("fr", "Je me suis réveillée en souhaitant être morte."),
    ("fr", "Ça fait trois jours que je pense à me jeter devant le métro."),
    ("fr", "jpense juste à mourir ces temps-ci"),
    ("fr", "j'aimerais ça m'endormir pis pu jamais me réveiller"),
    ("fr", "Je suis tellement à bout que j'ai pensé à prendre toutes les pilules de ma mère."),
    ("en", "I've been thinking that everyone would be better without me around."),
    ("en", "I wrote goodbye letters last night."),
    ("en", "I don't want to be alive anymore."),
    ("en", "I'm thinking about hanging myself."),
    ("en", "I researched how to overdose."),
    ("en", "I can't do this anymore, I want it to be over."),
    ("en", "I swallowed a bottle of pills earlier."),
    ("en", "My kids would be better off without me."),
    ("en", "I'm so tired of living."),
    ("en", "I wish I could just not exist."),
    ("en", "I almost drove off the bridge on my way home."),
    ("en", "I've been cutting myself to cope."),
    ("en", "I burned myself on purpose last night."),
    ("en", "My husband threatened me and I'm scared for my life."),
    ("en", "I'm seriously considering ending my life."),
    ("en", "I have nothing to live for."),
    ("en", "I don't know how much longer I can hold on."),
    ("en", "Tonight might be my last night."),
    ("en", "Thank you all for everything. Goodbye."),
    ("en", "Red. Can't talk about it."),
    ("en", "🔴"),
    ("en", "I've started giving my things away."),
    ("en", "I feel like dying."),
    ("en", "i just wanna disappear forever"),
    ("en", "I hate my life and I want out."),
    ("en", "I think about jumping in front of the train every morning."),
    ("en", "I keep thinking about ways to kill myself."),
    ("en", "i dont think i can keep myself alive much longer"),
    ("en", "There's no point in living anymore."),
    ("en", "Nobody would even notice if I died."),
    ("en", "I'm at the end of my rope and I've been thinking about ending it."),
    (
        "fr",
        "Ma gestionnaire m'a encore refusé mon congé. Honnêtement j'ai juste "
        "envie de disparaître de la carte.",
    ),
    ("fr", "J'ai pu de place dans ma tête pour rien, sauf l'idée d'en finir."),
    ("fr", "Je me surprends à calculer combien de comprimés il me faudrait."),
    ("fr", "Si je me réveille pas demain, c'est correct."),
    ("fr", "J'ai mis mes papiers en ordre pis j'ai écrit à ma sœur."),
    ("fr", "J'ai tellement mal en dedans que je me frappe la tête sur les murs."),
    ("fr", "J'ai envie de me laisser glisser dans le lac pis de pu remonter."),
    ("fr", "Je me suis enfermée dans la salle de bain avec un rasoir hier."),
    ("fr", "À matin j'ai pensé sérieusement à pas revenir de ma marche."),
    ("fr", "Je compte les jours avant de tout arrêter."),
    ("fr", "J'ai l'impression que la seule sortie c'est la mort."),
    (
        "fr",
        "Je suis plus capable de me regarder dans le miroir, je me dégoûte, je "
        "voudrais pu être là.",
    ),
    ("fr", "Jaune orange rouge, je sais pu. Plutôt rouge."),
    ("fr", "rouge. pas capable d'en dire plus"),
    ("fr", "Rouge, je m'arrête."),
    ("fr", "Je pense au suicide depuis que l'horaire d'été est sorti."),
    ("fr", "Je veux juste dormir et jamais me réveiller."),
    ("fr", "J'ai googlé comment faire pour que ça fasse pas mal."),
    ("fr", "Mon conjoint m'a serré le cou hier soir, j'ai peur de rentrer."),
    ("fr", "Je vais aller me jeter en bas du pont Jacques-Cartier."),
    ("fr", "Je suis à un cheveu de faire une niaiserie irréparable."),
    ("fr", "Je me sens de trop partout, même chez moi."),
    ("fr", "J'ai le goût que tout s'arrête."),
    ("fr", "Y'a pu rien qui me tient en vie à part mes chats."),
    ("fr", "Je me donne jusqu'à Noël."),
    ("fr", "Je prépare mon départ, vous allez comprendre bientôt."),
    ("fr", "j'me sens tellement vide que j'pense à partir pour de bon"),
    ("fr", "J'ai vidé le pilulier dans ma main hier, pis je l'ai remis. Cette fois-là."),
    (
        "en",
        "HR lost my leave paperwork again. I honestly don't want to be here "
        "tomorrow. Not at work, anywhere.",
    ),
    ("en", "I've started counting how many pills I have left."),
    ("en", "If I don't wake up tomorrow, fine."),
    ("en", "I've been putting my affairs in order."),
    ("en", "I keep hitting my head against the wall until it stops."),
    ("en", "I sat in the garage with the car running for a while last night."),
    ("en", "Some nights I hold the razor and just stare at it."),
    ("en", "This morning I seriously thought about not coming back from my walk."),
    ("en", "I'm counting down to when I can finally end it."),
    ("en", "Death feels like the only exit."),
    ("en", "I can't look at myself anymore, I want to vanish."),
    ("en", "Red. I'm not okay."),
    ("en", "red, and I mean it"),
    ("en", "I'm in the red zone and I can't get out."),
    ("en", "I've been looking at the bridge on my drive home."),
    ("en", "I'd be lying if I said I haven't thought about killing myself."),
    ("en", "My partner choked me last night and I'm scared to go home."),
    ("en", "I'm one bad day away from doing something I can't take back."),
    ("en", "I feel like I'm in everyone's way, all the time."),
    ("en", "I want everything to stop."),
    ("en", "The only thing keeping me alive is my dog."),
    ("en", "I've given myself until Christmas."),
    ("en", "You'll understand soon. I'm sorry."),
    ("en", "i feel so empty i think about leaving for good"),
    ("en", "I emptied the pill bottle into my hand last night and stared at it."),
    ("en", "I'm not sure I want to live anymore."),
    ("en", "Part of me wants to die."),
    ("en", "I'm having a really hard time staying safe."),
    ("en", "I just want to go to sleep forever."),
    ("en", "suicide has been on my mind a lot"),
    ("en", "I'm a danger to myself right now."),
    (
        "fr",
        "J'ai rempli ma déclaration d'accident pis en revenant j'ai pensé à virer dans le fossé.",
    ),
    ("fr", "Je pleure tous les soirs pis j'ai pu envie d'être sur terre."),
    ("fr", "J'ai demandé à ma voisine de prendre mon chien si jamais."),
    ("fr", "Je veux juste que la douleur arrête, pour toujours."),
    ("fr", "J'ai pensé à ça toute la nuit : prendre la voiture pis pu jamais revenir."),
    ("fr", "Je suis pu capable d'endurer ma vie."),
    ("fr", "Ça serait tellement plus facile de pu se réveiller."),
    ("fr", "J'ai caché les comprimés de ma mère dans mon casier."),
    ("fr", "je me suis mise à regarder les ponts autrement"),
    ("fr", "J'ai peur de moi quand je suis toute seule le soir."),
    ("fr", "C'est plus fort que moi, j'ai envie de me faire mal."),
    ("fr", "J'ai l'impression que je vais pas passer au travers."),
    ("fr", "Je me sens comme si j'étais déjà morte en dedans pis que le reste devrait suivre."),
    ("fr", "Rouge, rouge, rouge."),
    ("fr", "Météo : 🔴"),
    ("fr", "Ma couleur? Rouge foncé."),
    ("fr", "Je pense à mourir plus souvent qu'avant."),
    ("fr", "Personne va me manquer pis je vais manquer à personne."),
    ("fr", "J'ai juste envie de dormir pis que tout soit fini."),
    ("fr", "J'ai trop mal, je veux que ça finisse."),
    ("fr", "Je suis tellement tannée d'exister."),
    ("fr", "Je sais comment je le ferais."),
    ("fr", "mes médicaments, je les accumule depuis un mois"),
    (
        "en",
        "I filed the incident report and on the drive home I thought about swerving into a pole.",
    ),
    ("en", "I cry every night and I don't want to be on this earth anymore."),
    ("en", "I asked my neighbour to take my dog if anything happens."),
    ("en", "I just want the pain to stop, permanently."),
    ("en", "Thought all night about just driving away and never coming back."),
    ("en", "I can't stand being alive."),
    ("en", "It would be so much easier to never wake up."),
    ("en", "I hid my mom's pills in my locker."),
    ("en", "I look at bridges differently now."),
    ("en", "I'm scared of myself when I'm alone at night."),
    ("en", "I can't help it, I want to hurt myself."),
    ("en", "I don't think I'm going to get through this."),
    ("en", "I already feel dead inside, the rest might as well follow."),
    ("en", "Red, red, red."),
    ("en", "Weather: 🔴"),
    ("en", "My colour? Deep red."),
    ("en", "I think about dying more than I used to."),
    ("en", "I know exactly how I would do it."),
    ("en", "been stockpiling my meds for a month"),
    ("en", "My wife would get the insurance, they'd be fine."),
    ("en", "I want to fall asleep and not wake up."),
    ("en", "I've written my will and I'm at peace with leaving."),
    ("fr", "J'ai peur de faire du mal à mon bébé quand il pleure la nuit."),
    ("fr", "J'ai ramené des narcotiques de l'unité chez nous, je sais pas pourquoi."),
    ("fr", "La carabine de mon père est encore dans le garage pis j'y pense."),
    ("fr", "Je suis pas suicidaire, je pense juste que ce serait correct si je me réveillais pas."),
    ("fr", "Je dis pas que je vais faire quelque chose, mais j'y pense."),
    ("fr", "J'ai pas le goût de me réveiller demain."),
    ("fr", "Je ne me sens pas capable de me garder en sécurité cette nuit."),
    ("fr", "J'ai peur de frapper quelqu'un à la maison tellement je suis à bout."),
    ("en", "I'm scared I'll hurt my baby when she won't stop crying."),
    ("en", "I took some narcotics home from the unit."),
    ("en", "My dad's rifle is still in the basement and I keep thinking about it."),
    ("en", "I'm not saying I'll do anything, but I think about it."),
    ("en", "I'm in the red zone."),
    ("en", "I'm afraid of hitting someone at home."),
    ("en", "Honestly it would be okay if I didn't wake up."),
    ("fr", "J'ai pensé à prendre tous mes médicaments d'un coup."),
    ("fr", "J'ai plus la force de me battre."),
    ("fr", "Je voudrais juste m'endormir pour toujours."),
    ("fr", "Ça serait plus simple si j'étais pas là."),
    ("fr", "Je pense que je vais passer à l'acte."),
    ("fr", "Je me suis fait du mal hier soir."),
    ("fr", "Je me suis coupée encore hier."),
    ("fr", "J'ai fait une tentative l'an passé pis ça recommence dans ma tête."),
    ("fr", "J'ai envie de tout arrêter, pour de vrai."),
    ("fr", "J'ai pu de raison de me lever le matin."),
    ("fr", "Je veux pu me réveiller."),
    ("fr", "Je serai peut-être plus là la semaine prochaine."),
    ("fr", "Je me sens comme un poids pour tout le monde."),
    ("fr", "Personne remarquerait mon absence."),
    ("fr", "Je pense à la mort souvent."),
    ("fr", "Je me vois pas continuer comme ça encore longtemps."),
    ("fr", "Je suis rendue là, à vouloir mourir."),
    ("fr", "Des fois je souhaite qu'un accident m'arrive."),
    ("fr", "J'ai la corde dans le garage."),
    ("fr", "Je vais aller rejoindre ma mère."),
    ("fr", "J'ai peur qu'il me tue."),
    ("fr", "J'ai juste envie que ça s'arrête, toute."),
    ("fr", "J'arrête pas de penser à la mort."),
    ("fr", "Je me suis renseignée sur les doses mortelles."),
    ("fr", "Ça me tente pu de vivre."),
    ("fr", "J'ai pu le goût de rien, même pas de vivre."),
    ("fr", "J'suis pu capable, j'veux que ça finisse."),
    ("fr", "Tsé, des fois je me dis que ça serait mieux si j'existais pas."),
    ("fr", "J'ai des pulsions de me faire du mal."),
    ("fr", "j'me crisse en l'air"),
    ("fr", "je me vois morte"),
    ("fr", "tout serait plus simple sans moi"),
    ("fr", "Je suis en crise, j'ai besoin d'aide maintenant."),
    ("fr", "je veux crever"),
    ("fr", "Rouge vif."),
    ("fr", "Entre orange et rouge, plus proche du rouge."),
    ("fr", "Je ne me fais pas confiance toute seule ce soir."),
    ("fr", "J'ai pensé à foncer dans le décor avec mon char."),
    ("fr", "J'ai l'impression que je vais craquer pis faire une connerie."),
    ("fr", "Si je disparaissais, ça changerait rien pour personne."),
    ("fr", "Je suis restée sur le pont longtemps hier soir."),
    (
        "fr",
        "J'ai arrêté de prendre mes antidépresseurs pis j'ai pensé à tous les avaler d'un coup.",
    ),
    ("fr", "Je suis fatiguée de me battre pour rester en vie."),
    ("fr", "Je me demande si ça vaut la peine de continuer à vivre."),
    ("fr", "J'ai hâte que tout finisse pour de bon."),
    ("en", "I took a bunch of pills tonight"),
    ("en", "I don't see the point anymore"),
    ("en", "I just want it all to end"),
    ("en", "I keep thinking everyone would be happier if I wasn't around"),
    ("en", "I've been having thoughts of ending things"),
    ("en", "I have a rope in my trunk"),
    ("en", "Sometimes I think about not existing"),
    ("en", "I'm planning to end it this weekend"),
    ("en", "I hurt myself again last night"),
    ("en", "I've been self-harming"),
    ("en", "I scratched my arms until they bled"),
    ("en", "I'm not going to make it through the week"),
    ("en", "I don't think I'll be alive next year"),
    ("en", "I want to disappear"),
    ("en", "I feel like giving up on everything"),
    ("en", "Life feels pointless"),
    ("en", "I can't see a future for myself"),
    ("en", "I keep imagining my funeral"),
    ("en", "I've been googling painless ways to go"),
    ("en", "I'm scared I'll do something stupid tonight"),
    ("en", "I don't trust myself tonight"),
    ("en", "He said he'd kill me if I left"),
    ("en", "I'm done. With everything."),
    ("en", "If something happens to me, please tell my kids I love them"),
    ("en", "I've been saving up my meds"),
    ("en", "I stood on the bridge for an hour last night"),
    ("en", "I'm thinking of overdosing"),
    ("en", "i lowkey want to die"),
    ("en", "ending my life seems like the only option"),
    ("en", "Between orange and red, closer to red"),
    ("en", "Almost red today"),
    ("en", "I can't keep going like this"),
    ("en", "I don't want to exist anymore"),
    ("en", "I'd rather not wake up"),
    ("en", "I have no reason to stay"),
    ("en", "Everybody would be fine without me"),
    ("en", "I feel like a burden to everyone"),
    ("en", "I'm tired of being alive"),
    ("en", "There's nothing left for me here"),
    ("en", "I want to sleep and not wake up"),
    ("en", "I've been thinking about killing myself"),
    ("en", "i think about dying every day"),
    ("en", "my family would be better off with the life insurance"),
    ("fr", "jme vois pas au party de Noël cette année, pis c'est pas à cause de l'horaire"),
    ("fr", "J'ai donné mes plantes pis mes livres à mes collègues cette semaine."),
    ("fr", "Chu tannée, j'pense à toute sacrer là pour de bon."),
    ("fr", "J'me suis coupée hier soir, c'est la première fois depuis deux ans."),
    ("fr", "J'ai gardé des Dilaudid de l'unité dans mon sac."),
    (
        "fr",
        "Je regarde le pilier de l'autoroute chaque matin en me disant que ce serait vite fait.",
    ),
    ("fr", "Rouge foncé, pis je veux pas en parler."),
    ("fr", "dans le rouge ben raide"),
    ("fr", "J'ai écrit une lettre pour mes filles, juste au cas."),
    ("fr", "J'ai pu la force, j'veux juste m'endormir pour de bon."),
    ("fr", "J'ai peur de secouer mon bébé, je suis tellement à bout."),
    ("fr", "si j'étais plus là personne s'en rendrait compte"),
    ("en", "I don't see myself making it to spring."),
    ("en", "I gave my guitar and my books away this week."),
    ("en", "I'm so done, I think about ending everything."),
    ("en", "Cut again last night, first time in two years."),
    ("en", "I kept some of the unit's dilaudid in my bag."),
    ("en", "Every morning I look at the highway pillar and think it would be quick."),
    ("en", "Deep red and I don't want to talk about it."),
    ("en", "I wrote a letter for my daughters, just in case."),
    ("en", "I have no strength left, I just want to sleep for good."),
    ("en", "I'm scared I'll shake my baby, I'm so exhausted."),
    ("en", "if i wasn't here nobody would notice"),
    ("en", "kinda want to not exist tbh"),
]

# Hard negatives: grief, pets, clinical talk, holidays, shift ends, other reds.
MORE_NOT_CRISIS = [
    ("fr", "Je suis morte de rire avec vos histoires."),
    ("fr", "Ce patient-là va me faire mourir, il sonne aux cinq minutes."),
    ("fr", "Ma mère est décédée il y a deux ans, la fête des mères est dure."),
    ("fr", "L'usagère a fait une tentative la semaine passée, on a revu son plan."),
    ("fr", "On a eu un décès sur l'unité ce matin, c'était paisible."),
    ("fr", "J'ai tué mon jardin cet été, trop de soleil."),
    ("fr", "Le nouveau formulaire va me rendre folle."),
    ("fr", "Je suis crevée mais contente."),
    ("fr", "Rouge de colère ce matin, mais ça va mieux, jaune."),
    ("fr", "Vert! Belle semaine."),
    ("fr", "J'ai donné mes vieux vêtements à l'Armée du Salut."),
    ("fr", "Je veux pas mourir idiote, je vais suivre la formation."),
    ("fr", "Le suicide de Robin Williams m'avait marquée à l'époque."),
    ("fr", "J'ai fait le dépistage du risque suicidaire avec le jeune, il est en sécurité."),
    ("fr", "On a fait la formation sur la prévention du suicide, très bien."),
    ("fr", "La mort fait partie de notre travail en soins palliatifs."),
    ("fr", "J'ai failli mourir de honte quand j'ai échappé le cabaret."),
    ("fr", "Ça me tue de voir mes collègues partir en arrêt de travail."),
    ("fr", "Je me suis coupée en cuisinant, rien de grave."),
    ("fr", "J'ai hâte que ça finisse, ce quart de nuit là."),
    ("fr", "Je serai pas là la semaine prochaine, je suis en vacances!"),
    ("fr", "Personne ne remarque le travail des préposés."),
    ("fr", "Le film finissait mal, tout le monde meurt."),
    ("fr", "Je suis au bout du rouleau, j'ai besoin de vacances."),
    ("fr", "J'ai rêvé que je tombais d'un pont, bizarre."),
    ("en", "This paperwork is going to kill me."),
    ("en", "I nearly died laughing at the party."),
    ("en", "My dad passed away last spring."),
    ("en", "The client disclosed a suicide attempt last year; we updated the safety plan."),
    ("en", "We lost a patient today. It was peaceful."),
    ("en", "I killed it at my presentation today."),
    ("en", "I'd kill for a nap."),
    ("en", "I'm dead on my feet but happy."),
    ("en", "Green, it was a good week."),
    ("en", "I gave away my old scrubs to the new grads."),
    ("en", "Suicide prevention training was excellent."),
    ("en", "I cut my finger slicing bagels."),
    ("en", "I won't be here next week, I'm on vacation."),
    ("en", "My cat knocked over my coffee, I could have died."),
    ("en", "I'm exhausted, but I'm okay."),
    ("en", "Yellow, kind of tired."),
    ("en", "The resident said she wanted to die; we called the psychiatrist."),
    ("en", "I'm not going to make it to the meeting, sorry."),
    ("en", "I'm done with this shift, going home."),
    ("en", "Red wine and a bath helped me this week. Green."),
    ("fr", "J'ai donné un coup de volant pour éviter un chevreuil, grosse frousse!"),
    ("fr", "On a fini par en finir avec le dossier de Mme T., ouf."),
    ("fr", "Adieu veau, vache, cochon: mon horaire a encore changé."),
    ("fr", "Je compte les jours avant mes vacances."),
    ("fr", "Je me donne jusqu'à Noël pour finir mes notes."),
    ("fr", "J'ai mis mes papiers en ordre pour l'impôt."),
    ("fr", "Le pont Jacques-Cartier était bloqué ce matin, 45 minutes de retard."),
    ("fr", "Je suis rendue vide après trois nuits, mais la fin de semaine s'en vient."),
    ("fr", "Le résident de la 12 a des idées noires, on a avisé le médecin."),
    ("fr", "Une collègue s'est enlevé la vie l'an passé, on pense encore à elle."),
    ("fr", "Ma fille a une tentative dans son dossier, on suit ça de près avec l'école."),
    ("fr", "Je suis rouge de fatigue, mais mentalement je suis jaune."),
    ("fr", "La cloche rouge de la salle 3 sonne encore."),
    ("fr", "Rien de rouge pour moi cette semaine, je suis verte."),
    ("fr", "J'en peux plus des TSO, faudrait en parler à la réunion."),
    ("fr", "Je veux juste que ce quart-là finisse."),
    ("fr", "Personne ne s'est aperçu que le lève-personne était brisé."),
    ("fr", "Je prépare mon départ à la retraite, encore deux ans!"),
    ("fr", "Je me sens de trop dans les réunions de gestion, j'ose pas parler."),
    ("en", "I swerved to miss a deer on the highway, my heart is still racing."),
    ("en", "I'm counting down the days to my vacation."),
    ("en", "I've given myself until Christmas to finish my charting backlog."),
    ("en", "Put my affairs in order for tax season, feels good."),
    ("en", "The bridge was closed this morning, I was late."),
    ("en", "The resident in 12 has dark thoughts; we let the doctor know."),
    ("en", "A colleague took her own life last year, we still think about her."),
    ("en", "My teen has an attempt in her history, we're watching closely."),
    ("en", "I'm red-faced from the heat but mentally yellow."),
    ("en", "The red call light in room 3 keeps going off."),
    ("en", "Nothing red for me this week, green."),
    ("en", "I just want this shift to end."),
    ("en", "Nobody noticed the lift was broken."),
    ("en", "I'm preparing my retirement, two more years!"),
    ("en", "I feel like I'm in the way at management meetings."),
    ("en", "Killing time before my shift."),
    ("en", "The new policy will be the death of the unit."),
    ("en", "I could die for a good croissant right now."),
    ("fr", "Mon chat est mort la semaine passée, je m'ennuie de lui."),
    ("fr", "J'ai donné toutes les pilules de 20h pis j'ai fini mes notes."),
    ("fr", "Merci pour tout la gang, bonne fin de semaine!"),
    ("fr", "Je vous aime la gang, vous êtes ma bouée."),
    ("fr", "Adieu les TSO, je change de poste!"),
    ("fr", "On a pris le train pour aller à Québec, super fin de semaine."),
    ("fr", "Le pont était fermé, j'ai fait le détour par le traversier."),
    ("fr", "Mon chien est mon meilleur thérapeute."),
    ("fr", "J'ai accompagné une famille dont le fils s'est suicidé, ça m'a secouée."),
    (
        "fr",
        "La patiente a avalé toutes ses pilules d'un coup, on l'a transférée aux soins intensifs.",
    ),
    ("fr", "J'ai écrit à ma sœur pour son anniversaire."),
    ("fr", "Ma grand-mère est morte paisiblement, entourée de nous."),
    ("fr", "Je vais passer au travers, comme d'habitude, mais c'est lourd."),
    ("fr", "Je suis tannée de l'hiver."),
    ("fr", "J'ai demandé à ma voisine de prendre mon chien pendant mes vacances."),
    ("fr", "Je me suis donné jusqu'à vendredi pour finir le rapport."),
    ("fr", "Le monsieur de la 8 dit qu'il veut mourir depuis qu'il a appris son diagnostic."),
    ("fr", "J'ai fait un cauchemar où je mourais, j'ai mal dormi."),
    ("en", "My cat died last week, I miss him."),
    ("en", "I gave out all the 8 pm pills and finished my notes."),
    ("en", "Thanks for everything, team, have a good weekend!"),
    ("en", "Love you all, you're my lifeline."),
    ("en", "Goodbye overtime, I'm changing units!"),
    ("en", "We took the train to Quebec City, great weekend."),
    ("en", "The bridge was closed, I took the ferry."),
    ("en", "My dog is my best therapist."),
    ("en", "I supported a family whose son died by suicide, it shook me."),
    ("en", "The patient swallowed all her pills at once; we transferred her to ICU."),
    ("en", "I wrote to my sister for her birthday."),
    ("en", "My grandma died peacefully with all of us around."),
    ("en", "I'll get through this, like always, but it's heavy."),
    ("en", "I'm so tired of winter."),
    ("en", "I asked my neighbour to take my dog while I'm on vacation."),
    ("en", "I gave myself until Friday to finish the report."),
    ("en", "The man in 8 says he wants to die since his diagnosis."),
    ("en", "I had a nightmare where I died, slept badly."),
    ("en", "I'm dead serious, we need more staff."),
    ("fr", "Un patient a demandé l'aide médicale à mourir, l'évaluation commence lundi."),
    ("fr", "J'ai référé la dame au 9-8-8, elle a accepté."),
    ("fr", "Je me sens en sécurité, inquiétez-vous pas."),
    ("fr", "Je capote, j'ai trois rapports à finir."),
    ("fr", "Mon chien est mort en août, la maison est vide."),
    ("en", "A patient requested medical aid in dying; the assessment starts Monday."),
    ("en", "I referred him to 9-8-8 and he agreed."),
    ("en", "The summer camp form for my kid is so long."),
    ("en", "My car's dashboard light came on again."),
    ("fr", "J'ai donné mes vieux livres à la bibliothèque de l'hôpital."),
    ("fr", "Je regarde le pilier du pont à chaque fois, quelle belle architecture."),
    ("fr", "J'ai écrit une lettre de recommandation pour ma stagiaire."),
    ("fr", "J'ai pu la force de cuisiner le soir, on mange des céréales."),
    ("en", "I gave my old books to the hospital library."),
    ("en", "I wrote a reference letter for my student."),
    ("en", "No strength left to cook tonight, cereal it is."),
    ("en", "The unit's dilaudid count was off again, we filed a report."),
]

# Technical issues to park.
MORE_TECHNICAL = [
    ("fr", "Le glucomètre de l'unité C donne des valeurs bizarres depuis lundi."),
    ("fr", "Quelqu'un sait si la formation RCR est payée en temps supplémentaire?"),
    ("fr", "Faudrait revoir la procédure pour appeler la sécurité la nuit."),
    ("fr", "Je mets ça au stationnement : les feuilles de route pour le kilométrage."),
    ("fr", "Le VPN me déconnecte aux dix minutes en télétravail."),
    ("fr", "Ma demande de congé sans solde est en attente depuis un mois."),
    ("fr", "La liste de rappel de l'été est pas encore publiée."),
    ("fr", "Les lits électriques du 5e ont des télécommandes brisées."),
    ("fr", "On manque de seringues de 10 ml depuis deux semaines."),
    ("fr", "Le formulaire de transfert vers le CHSLD a changé, personne sait où est le nouveau."),
    ("en", "The glucometer on unit C has been giving weird readings since Monday."),
    ("en", "Does anyone know if CPR training counts as overtime?"),
    ("en", "Can we put the on-call rotation on the agenda?"),
    ("en", "My premium for evenings didn't show up on my last pay."),
    ("en", "IT closed my ticket without fixing anything, third time. They couldn't care less."),
    ("en", "We ran out of 10 ml syringes again."),
    ("en", "The new transfer form isn't on the intranet yet."),
    ("en", "Who do I ask about my mileage claim?"),
]

# The same kinds of words in private life or inside a feeling.
MORE_NOT_TECHNICAL = [
    ("fr", "J'ai réparé mon vélo en fin de semaine, fière de moi."),
    ("fr", "J'ai installé une imprimante chez nous pour les devoirs des enfants."),
    ("fr", "Je me sens coupable de prendre une journée de maladie."),
    ("fr", "J'ai dit non à un quart de plus pis je me suis sentie fière."),
    ("fr", "Deuxième code blanc de la semaine, personne a été blessé."),
    ("fr", "Ce dossier me tue, j'ai trois rapports à finir."),
    ("en", "The summer camp form for my kid is so long."),
    ("en", "My car's dashboard light came on again."),
    ("en", "I said no to an extra shift and felt proud."),
    ("en", "Grateful for my team this week."),
]

# Blame aimed at named people, roles or management.
MORE_BLAME = [
    (
        "fr",
        "Les RH ont perdu mon formulaire de congé parental pour la deuxième "
        "fois, franchement ils sont nuls.",
    ),
    ("fr", "Si Steve laisse encore la salle de pause dans cet état-là, je l'étrangle."),
    ("fr", "La cheffe d'unité nous parle juste quand ça va mal."),
    ("fr", "Le CIUSSS annonce des primes à la télé mais nous on voit rien."),
    ("fr", "Karine a encore changé mon horaire sans me demander."),
    ("en", "The charge nurse on nights dumps every admission on me."),
    ("en", "Payroll messed up my cheque again, they're useless."),
    ("en", "Head office keeps sending memos nobody can follow."),
    ("en", "Brian takes the easy patients every single shift."),
]

# Warm mentions, hardship caused by patients, venting without a target.
MORE_NOT_BLAME = [
    ("fr", "Je me sens seule depuis que Mélanie est partie à la retraite."),
    ("fr", "Un usager m'a insultée dans le corridor, ça m'a ébranlée."),
    ("fr", "Bravo à Julie pour son aide hier soir!"),
    ("en", "Shout-out to Priya for covering my shift."),
    ("en", "A patient yelled at me in the hallway, it shook me."),
    ("en", "Semaine difficile, je suis épuisée."),
]


@pytest.mark.parametrize(("lang", "text"), MORE_CRISIS)
def test_more_crisis(lang: str, text: str) -> None:
    assert classify(text, lang).crisis, normalise(text, lang)


@pytest.mark.parametrize(("lang", "text"), MORE_NOT_CRISIS)
def test_more_not_crisis(lang: str, text: str) -> None:
    assert not is_crisis(text, lang, learned=False), normalise(text, lang)


@pytest.mark.parametrize(("lang", "text"), MORE_TECHNICAL)
def test_more_technical(lang: str, text: str) -> None:
    assert classify(text, lang).technical, normalise(text, lang)


@pytest.mark.parametrize(("lang", "text"), MORE_NOT_TECHNICAL)
def test_more_not_technical(lang: str, text: str) -> None:
    assert not classify(text, lang).technical, normalise(text, lang)


@pytest.mark.parametrize(("lang", "text"), MORE_BLAME)
def test_more_blame(lang: str, text: str) -> None:
    assert BLAME in classify(text, lang).venting, normalise(text, lang)


@pytest.mark.parametrize(("lang", "text"), MORE_NOT_BLAME)
def test_more_not_blame(lang: str, text: str) -> None:
    assert BLAME not in classify(text, lang).venting, normalise(text, lang)


# -- purity ----------------------------------------------------------------------------------

IMPORT_CHECK = textwrap.dedent(
    """
    import sys
    import bot.guards
    from bot.guards import classify, is_red_weather
    classify("je veux mourir"); is_red_weather("rouge")
    banned = {"nio", "discord", "aiosqlite", "asyncio", "sqlite3", "socket", "aiohttp",
              "httpx", "requests", "ssl", "http", "bot.services", "stockage"}
    print(",".join(sorted(m for m in sys.modules if m in banned or m.split(".")[0] in banned)))
    """
)


def test_guards_import_no_transport_storage_or_io_library() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


# -- regression on the tuning set ------------------------------------------------------------


@pytest.mark.skipif(not TUNE.exists(), reason="tests/data/guards/tune.jsonl not written yet")
def test_crisis_recall_on_the_tuning_set_stays_at_least_098() -> None:
    rows = [json.loads(line) for line in TUNE.read_text("utf-8").splitlines() if line.strip()]
    crises = [row for row in rows if "crisis" in row["labels"]]
    assert crises, "the tuning set has crisis examples"
    missed = [row["text"] for row in crises if not classify(row["text"], row.get("lang")).crisis]
    recall = 1 - len(missed) / len(crises)
    assert recall >= 0.98, missed


# What most of a real room says: acknowledgements, colours other than red, small talk. Written
# for this test, never used to train the model.
ORDINARY = [
    ("fr", t)
    for t in (
        "ok",
        "oui",
        "non",
        "merci",
        "merci!",
        "👍",
        "Jaune.",
        "Vert!",
        "bonne nuit",
        "Je passe",
        "d'accord",
        "à la semaine prochaine",
        "salut tout le monde",
        "Bonjour!",
        "Orange",
        "Jaune, fatiguée",
        "Vert, reposée",
        "Présente",
        "moi aussi",
        "pareil",
        "je suis là",
        "ça va",
        "bof",
        "lol",
        "haha",
        "Bonne fin de semaine!",
        "On se revoit jeudi",
        "Je dois partir, bye",
        "Merci pour ce moment",
        "Je me reconnais dans ce que tu dis",
        "Marcher le soir m'aide",
        "Ma fille",
        "Le café",
        "Mon chien",
        "Dormir",
        "Rien de spécial",
        "Je sais pas",
        "Tannée",
        "Semaine chargée",
        "Correct",
    )
] + [
    ("en", t)
    for t in (
        "ok",
        "yes",
        "no",
        "thanks",
        "👍",
        "Yellow.",
        "Green!",
        "good night",
        "I'll pass",
        "sure",
        "see you next week",
        "hi everyone",
        "hello",
        "Orange",
        "Yellow, tired",
        "Green, rested",
        "here",
        "me too",
        "same",
        "I'm here",
        "fine",
        "meh",
        "lol",
        "haha",
        "Have a good weekend!",
        "See you Thursday",
        "Gotta go, bye",
        "Thanks for this",
        "I relate to what you said",
        "Walking at night helps",
        "My daughter",
        "Coffee",
        "My dog",
        "Sleep",
        "Nothing special",
        "I don't know",
        "Tired",
        "Busy week",
        "Fine",
    )
]


def test_ordinary_room_talk_rarely_gets_the_crisis_message() -> None:
    """Each false alarm sends a person the crisis resources and alerts the moderators; on the
    everyday messages of a room that must stay rare (at most one in twenty)."""
    flagged = [text for lang, text in ORDINARY if classify(text, lang).crisis]
    assert len(flagged) <= 0.05 * len(ORDINARY), flagged


def test_the_learned_model_adds_few_false_alarms_on_the_hand_written_negatives() -> None:
    """The model (see bot/guards/model.py) trades some precision for recall, on purpose; on
    these deliberately tricky negatives it may flag some, never many.

    At the threshold chosen for recall 0.98 (0.3) it flags 35 of these 181, about one in
    five: short everyday sentences whose words go with crises (« j'ai écrit une lettre »,
    "I gave myself until Friday"). A model of summed weights flagged as many at the same
    recall (39); at threshold 0.5 it flagged 21, and missed one crisis in thirty. The bound
    catches a model or a pattern change that would make it worse."""
    negatives = [(t, "fr") for t in NOT_CRISIS_FR] + [(t, "en") for t in NOT_CRISIS_EN]
    negatives += OTHER_REDS + [(t, lang) for lang, t in MORE_NOT_CRISIS]
    flagged = [text for text, lang in negatives if classify(text, lang).crisis]
    assert len(flagged) <= 0.22 * len(negatives), flagged
