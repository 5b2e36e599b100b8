"""The guards at run time, on the console with a manual clock: safety net, nudges, 🅿️ offers."""

from __future__ import annotations

import importlib
import logging
import sqlite3
from contextlib import closing
from datetime import timedelta

import pytest

from bot.guards.model import CrisisModel
from bot.i18n import text
from bot.messages import Direct, Outgoing, React, Text
from bot.runtime import DATABASE_FILE
from tests.conftest import MODERATOR, ConsoleBot

ALICE = "@alice:console"
BRUNO = "@bruno:console"
CHLOE = "@chloe:console"
CRISIS = "je veux en finir, je vois plus de sortie 7e2f"
classify_module = importlib.import_module("bot.guards.classify")


def room_posts(sent: list[Outgoing]) -> list[Text]:
    return [o for o in sent if isinstance(o, Text)]


def private(sent: list[Outgoing]) -> list[Direct]:
    return [o for o in sent if isinstance(o, Direct)]


async def make_group(bot: ConsoleBot, *members: str) -> None:
    await bot.say(MODERATOR, "!groupe creer soutien")
    for member in members:
        await bot.say(member, "!rejoindre")


async def test_a_crisis_message_gets_private_resources_and_a_private_alert_only(
    bot: ConsoleBot, caplog: pytest.LogCaptureFixture
) -> None:
    await make_group(bot, ALICE)
    caplog.set_level(logging.DEBUG)
    sent = await bot.say(ALICE, CRISIS)
    assert room_posts(sent) == []  # nothing public in the room
    to_alice = [d for d in private(sent) if d.user_id == ALICE]
    to_moderator = [d for d in private(sent) if d.user_id == MODERATOR]
    assert len(to_alice) == 1
    assert "1 866 APPELLE" in to_alice[0].body
    assert "811" in to_alice[0].body
    assert "9-8-8" in to_alice[0].body
    assert len(to_moderator) == 1
    alert = to_moderator[0].body
    assert ALICE in alert
    assert "7e2f" not in alert  # never the text
    assert "finir" not in alert
    assert "7e2f" not in caplog.text
    counts = await bot.app.services.repos.safety.counts()
    assert (counts.total, counts.resources_sent, counts.alerts) == (1, 1, 1)


async def test_a_group_can_make_the_crisis_net_more_sensitive_never_less(
    bot: ConsoleBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = CrisisModel({"zorglub": 1.0}, bias=-2.0, threshold=0.5, sensitive_threshold=0.2)
    monkeypatch.setattr(classify_module, "crisis_model", lambda: model)
    await make_group(bot, ALICE)
    borderline = "ce soir encore zorglub"  # the model's probability: 0.27
    assert private(await bot.say(ALICE, borderline)) == []
    await bot.say(ALICE, "!groupe crise elevee")  # a member cannot change it
    group = await bot.app.services.repos.groups.get(bot.console.room_id)
    assert group is not None
    assert group.crisis_sensitivity == "standard"
    await bot.say(MODERATOR, "!group crisis high")
    to_alice = [d for d in private(await bot.say(ALICE, borderline)) if d.user_id == ALICE]
    assert len(to_alice) == 1
    assert "9-8-8" in to_alice[0].body
    reply = await bot.say(MODERATOR, "!groupe crise basse")
    assert any("standard" in t.body for t in room_posts(reply))  # no « less sensitive »
    await bot.say(MODERATOR, "!groupe crise standard")
    group = await bot.app.services.repos.groups.get(bot.console.room_id)
    assert group is not None
    assert group.crisis_sensitivity == "standard"


async def test_crisis_messages_are_paced_per_person(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE)
    first = await bot.say(ALICE, CRISIS)
    assert len(private(first)) == 2
    bot.clock.advance(timedelta(minutes=5))
    # Within 10 minutes: neither resources again nor another alert.
    assert private(await bot.say(ALICE, "j'ai pensé à prendre toutes mes pilules")) == []
    bot.clock.advance(timedelta(minutes=6))
    # After 10 minutes the moderators are alerted again; resources wait for 30 minutes.
    again = private(await bot.say(ALICE, "je veux mourir"))
    assert [d.user_id for d in again] == [MODERATOR]
    bot.clock.advance(timedelta(minutes=20))
    later = private(await bot.say(ALICE, "je veux mourir"))
    assert sorted(d.user_id for d in later) == sorted([ALICE, MODERATOR])
    counts = await bot.app.services.repos.safety.counts()
    assert counts.total == 4


async def test_the_safety_net_works_outside_groups_and_check_ins(bot: ConsoleBot) -> None:
    # The console room is not a group here: resources still go out; config moderators alerted.
    sent = await bot.say(BRUNO, "I can't go on, I don't want to wake up tomorrow")
    assert room_posts(sent) == []
    assert sorted(d.user_id for d in private(sent)) == sorted([BRUNO, MODERATOR])
    english = next(d for d in private(sent) if d.user_id == BRUNO)
    assert "1 866 APPELLE" in english.body


async def test_a_commands_name_is_not_read_by_the_safety_net_its_text_is(bot: ConsoleBot) -> None:
    """« !help » and « !aide » ask for the bot's help, not a person's; a command's free text
    (« !stationner … ») is the person's words and is read."""
    for command in ("!help", "!aide", "!help park", "/help"):
        sent = await bot.say(BRUNO, command)
        assert not [d for d in private(sent) if "1 866 APPELLE" in d.body], command
    sent = await bot.say(BRUNO, "!park I can't go on, I don't want to wake up tomorrow")
    assert any("1 866 APPELLE" in d.body for d in private(sent) if d.user_id == BRUNO)


async def test_figures_of_speech_and_clinical_talk_raise_nothing(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE)
    for calm in (
        "ce dossier me tue",
        "je suis mort de rire",
        "On a fait l'évaluation du risque suicidaire avec l'usager et un filet de sécurité.",
    ):
        assert await bot.say(ALICE, calm) == []


async def test_a_red_weather_answer_is_a_safety_signal(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE)
    await bot.say(MODERATOR, "!seance debut")
    bot.clock.advance(timedelta(minutes=3))
    await bot.app.services.checkins.tick()  # round 2: Météo
    sent = await bot.say(ALICE, "rouge")
    assert room_posts(sent) == []
    assert sorted(d.user_id for d in private(sent)) == sorted([ALICE, MODERATOR])
    # Outside the weather round, « rouge » is just a colour (here, a 🅿️ offer, no alert).
    bot.clock.advance(timedelta(minutes=4))
    await bot.app.services.checkins.tick()
    assert private(await bot.say(CHLOE, "le voyant rouge de la pompe clignote")) == []


async def test_technical_talk_gets_a_parking_offer_and_one_explanation(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE, BRUNO)
    # Outside a check-in (default mode « seance »): no offer.
    assert await bot.say(ALICE, "Le formulaire AH-223 plante encore quand je joins un PDF") == []
    await bot.say(MODERATOR, "!seance debut")
    first = await bot.say(ALICE, "Le formulaire AH-223 plante encore quand je joins un PDF")
    assert next((type(o).__name__, getattr(o, "emoji", "")) for o in first) == ("React", "🅿️")
    assert [p.body for p in room_posts(first)] == [text("fr", "guards.parking_explained")]
    second = await bot.say(BRUNO, "L'horaire de Noël est toujours pas sorti")
    assert [type(o) for o in second] == [React]  # explained once per check-in
    # One tap on the bot's 🅿️ parks it.
    reacted = second[0]
    assert isinstance(reacted, React)
    await bot.console.react(BRUNO, reacted.event_id, "🅿️")
    item = await bot.app.services.repos.parking.get(bot.console.room_id, 1)
    assert item is not None
    assert item.text == "L'horaire de Noël est toujours pas sorti"


async def test_technical_mode_always_and_never(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE)
    await bot.say(MODERATOR, "!groupe technique toujours")
    offered = await bot.say(ALICE, "Logibec refuse mon mot de passe depuis lundi")
    assert any(isinstance(o, React) for o in offered)
    await bot.say(MODERATOR, "!groupe technique non")
    await bot.say(MODERATOR, "!seance debut")
    assert await bot.say(ALICE, "La pompe IV du 3e bipe tout le temps") == []


async def test_one_member_dominating_a_round_gets_one_private_nudge(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE, BRUNO)
    await bot.say(MODERATOR, "!seance debut")
    await bot.say(BRUNO, "bonjour")
    nudges = []
    for number in range(6):
        nudges += private(await bot.say(ALICE, f"encore une chose, numéro {number}"))
    assert len(nudges) == 1  # at most once per person per round
    assert nudges[0].user_id == ALICE
    assert "Accueil et cadre" in nudges[0].body  # brings back the round's question
    assert "laisser un peu d'espace" in nudges[0].body


async def test_a_far_longer_message_is_nudged_and_thresholds_are_per_group(
    bot: ConsoleBot,
) -> None:
    await make_group(bot, ALICE, BRUNO)
    await bot.say(MODERATOR, "!seance debut")
    await bot.say(BRUNO, "Ça va.")
    await bot.say(CHLOE, "Fatiguée mais ok.")
    long_one = "Une longue histoire de ma semaine, " * 25
    assert "redis en une ou deux phrases" in private(await bot.say(ALICE, long_one))[0].body
    # The group raises the bar: the same message in the next round is fine.
    assert (
        "long-chars = 2000"
        in room_posts(await bot.say(MODERATOR, "!groupe seuil long-chars 2000"))[0].body
    )
    bot.clock.advance(timedelta(minutes=3))
    await bot.app.services.checkins.tick()
    await bot.say(BRUNO, "Ça va.")
    assert private(await bot.say(ALICE, long_one)) == []


async def test_blame_gets_a_kind_nudge_and_nudges_can_be_turned_off(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE, BRUNO)
    await bot.say(MODERATOR, "!seance debut")
    nudge = private(await bot.say(ALICE, "La direction nous prend pour des cons, encore."))
    assert len(nudge) == 1
    assert "on parle de soi" in nudge[0].body
    await bot.say(MODERATOR, "!groupe relances non")
    bot.clock.advance(timedelta(minutes=3))
    await bot.app.services.checkins.tick()
    assert private(await bot.say(BRUNO, "Ma gestionnaire s'en fout complètement.")) == []


async def test_a_negative_run_in_the_what_helps_round_is_nudged(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE, BRUNO)
    await bot.say(MODERATOR, "!seance debut")
    bot.clock.advance(timedelta(minutes=15))
    await bot.app.services.checkins.tick()  # round 4: Ce qui aide
    sent: list[Outgoing] = []
    for grievance in (
        "Rien n'aide, tout est pire, je suis épuisée et découragée.",
        "Je suis épuisée, découragée et triste.",
        "Franchement c'est l'enfer, je suis à bout et écoeurée.",
    ):
        sent += await bot.say(ALICE, grievance)
    nudges = private(sent)
    assert len(nudges) == 1
    assert "Ce tour porte sur ce qui aide" in nudges[0].body


async def test_a_crisis_message_is_never_nudged_and_non_members_are_never_nudged(
    bot: ConsoleBot,
) -> None:
    await make_group(bot, ALICE)
    await bot.say(MODERATOR, "!seance debut")
    crisis = await bot.say(ALICE, "La direction s'en fout, je veux en finir avec la vie.")
    assert not any("on parle de soi" in d.body for d in private(crisis))
    # Chloé has not joined: she is never nudged, whatever she writes.
    assert private(await bot.say(CHLOE, "La direction nous prend pour des cons.")) == []


async def test_refocus_reposts_the_round_question(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE)
    assert room_posts(await bot.say(MODERATOR, "!recentrer"))[0].body == text(
        "fr", "checkin.not_running"
    )
    await bot.say(MODERATOR, "!seance debut")
    posted = room_posts(await bot.say(MODERATOR, "!recentrer"))
    assert posted[0].body.startswith("On revient à la question du tour — Accueil et cadre")
    refused = room_posts(await bot.say(ALICE, "!recentrer"))
    assert "réservée aux personnes qui animent" in refused[0].body


async def test_no_guarded_text_reaches_the_database(bot: ConsoleBot) -> None:
    await make_group(bot, ALICE)
    await bot.say(MODERATOR, "!seance debut")
    await bot.say(ALICE, CRISIS)
    await bot.say(ALICE, "La direction nous prend pour des cons 7e2f")
    data = bot.app.services.settings.data_dir
    with closing(sqlite3.connect(data / DATABASE_FILE)) as db:
        db.execute("PRAGMA wal_checkpoint(FULL)")
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.name.startswith(DATABASE_FILE))
    assert b"7e2f" not in raw
