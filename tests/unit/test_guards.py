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


@pytest.mark.parametrize("text", NOT_CRISIS_FR)
def test_not_crisis_fr(text: str) -> None:
    assert not classify(text, "fr").crisis, normalise(text, "fr")


@pytest.mark.parametrize("text", NOT_CRISIS_EN)
def test_not_crisis_en(text: str) -> None:
    assert not classify(text, "en").crisis, normalise(text, "en")


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


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Le voyant rouge de la pompe clignote", "fr"),
        ("Code rouge au 3e hier", "fr"),
        ("Le Canadien a perdu, je vois rouge! Sinon, jaune.", "fr"),
        ("Rouge de honte après ma présentation, mais ma couleur, c'est vert.", "fr"),
        ("Mon compte de banque est dans le rouge, mais moi je suis vert", "fr"),
        ("Orange, not red, don't worry.", "en"),
        ("red tape again", "en"),
        ("The red light on the defibrillator keeps flashing", "en"),
        ("My cheeks went red, but I'm green overall.", "en"),
    ],
)
def test_other_reds_are_not_a_crisis(text: str, lang: str) -> None:
    assert not classify(text, lang).crisis


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
    result = classify("Le DPE a planté encore et honnêtement je veux mourir", "fr")
    assert result.crisis
    assert result.technical


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
