"""The person's rights and retention, the whole bot on the console with a manual clock:
`!confidentialite`, `!mes-donnees`, `!oublier`, the daily purge and `halte purge`."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Halte
from bot.cli import _purge
from bot.clock import ManualClock
from bot.config import ConfigError, PrivacySettings, Settings, load_settings
from bot.i18n import text
from bot.messages import Direct, DirectFile, Message, Outgoing, Text
from bot.privacy import (
    EVENT_BUDGET,
    RETENTION_JOB,
    arm_retention,
    event_size,
    purge,
)
from bot.runtime import DATABASE_FILE, build_app
from bot.transports.console import CONSOLE_ROOM, ConsoleTransport
from stockage.parking import ItemStatus
from tests.conftest import MODERATOR, ConsoleBot

ROOT = Path(__file__).resolve().parents[2]
ROOM = CONSOLE_ROOM
OTHER_ROOM = "!autre:console"
DIRECT_ROOM = "!prive-alice:console"
ALICE = "@alice:console"
BRUNO = "@bruno:console"
CRISIS = "je veux en finir, je vois plus de sortie 7e2f"
# Said during a round: counted, never kept, so never exported.
ROUND_SENTENCE = "mon quart de nuit était lourd, phrase témoin 91bd"
_EVENTS = itertools.count(1)


# -- helpers -----------------------------------------------------------------------------------


async def say_in(
    bot: ConsoleBot, room_id: str, sender: str, body: str, *, direct: bool = False
) -> list[Outgoing]:
    """One message through the real dispatcher, in any room (a direct chat too)."""
    before = len(bot.console.sent)
    await bot.app.handle(
        Message(
            event_id=f"$privacy{next(_EVENTS)}",
            room_id=room_id,
            sender=sender,
            body=body,
            timestamp=bot.clock.now(),
            is_direct=direct,
        )
    )
    return bot.console.sent[before:]


def room_texts(sent: list[Outgoing]) -> list[str]:
    return [o.body for o in sent if isinstance(o, Text)]


def private_to(sent: list[Outgoing], user: str) -> list[Direct]:
    return [o for o in sent if isinstance(o, Direct) and o.user_id == user]


def files_to(sent: list[Outgoing], user: str) -> list[DirectFile]:
    return [o for o in sent if isinstance(o, DirectFile) and o.user_id == user]


def exported_json(sent: list[Outgoing], user: str) -> dict[str, Any]:
    """The JSON document of the one file the export sent `user`, decoded as UTF-8."""
    (file,) = files_to(sent, user)
    document: dict[str, Any] = json.loads(file.data.decode("utf-8"))
    return document


async def group_with(bot: ConsoleBot, *members: str, language: str = "fr") -> None:
    await bot.say(MODERATOR, f"!groupe creer soutien {language}")
    for member in members:
        await bot.say(member, "!rejoindre")


async def park(bot: ConsoleBot, who: str, body: str) -> int:
    """Park `body` as `who`; the item's number."""
    await bot.say(who, f"!stationner {body}")
    items = await bot.app.services.repos.parking.items(ROOM)
    return max(i.number for i in items if i.text == body)


async def alice_with_a_history(bot: ConsoleBot) -> None:
    """Alice joins, declares a role, attends a check-in, speaks, passes, parks, signals."""
    await group_with(bot, ALICE, BRUNO)
    await bot.say(ALICE, "!role gestionnaire")
    await park(bot, ALICE, "Le formulaire de congé ne s'ouvre pas")
    dealt = await park(bot, ALICE, "Les horaires de fin de semaine")
    await bot.say(MODERATOR, f"!stationnement traite {dealt} réglé en comité")
    await park(bot, BRUNO, "Sujet de Bruno à ne pas exporter 4411")
    await bot.say(ALICE, CRISIS)
    await bot.say(MODERATOR, "!seance debut")
    await bot.say(ALICE, "!present")
    await bot.say(BRUNO, "Bruno parle dans le tour, phrase 5522")
    await bot.say(ALICE, ROUND_SENTENCE)
    await bot.say(ALICE, "!passer")


def database_bytes(bot: ConsoleBot) -> bytes:
    data = bot.app.services.db.path.parent
    return b"".join(p.read_bytes() for p in data.iterdir() if p.name.startswith(DATABASE_FILE))


# -- !confidentialite --------------------------------------------------------------------------


async def test_the_privacy_notice_says_what_how_long_who_and_how_in_french(
    bot: ConsoleBot,
) -> None:
    notice = await bot.reply(ALICE, "!confidentialite")
    assert notice.startswith("Confidentialité — ce que Halte garde")
    assert "Tes messages ne sont jamais enregistrés" in notice
    for days in ("180 jours", "365 jours"):
        assert days in notice
    assert "serveur Matrix que l'établissement héberge lui-même" in notice
    assert "!mes-donnees" in notice
    assert "!oublier" in notice
    # Accented spelling works too.
    assert await bot.reply(ALICE, "!confidentialité") == notice


async def test_the_privacy_notice_in_english(bot: ConsoleBot) -> None:
    await group_with(bot, language="en")
    notice = await bot.reply(ALICE, "!privacy")
    assert notice.startswith("Privacy — what Halte keeps, and for how long")
    assert "180 days" in notice
    assert "!my-data" in notice
    assert "!forget" in notice


async def test_the_privacy_notice_follows_the_configured_periods(
    tmp_path: Path, clock: ManualClock
) -> None:
    privacy = PrivacySettings(dealt_items_days=90, counts_days=200, journal_days=400)
    async with halte(tmp_path / "data", clock, privacy=privacy) as (_app, console):
        notice = room_texts(await console.say(ALICE, "!confidentialite"))[0]
    assert "90 jours" in notice
    assert "200 jours" in notice
    assert "400 jours" in notice


def test_retention_periods_are_checked_in_config(tmp_path: Path) -> None:
    assert Settings().privacy == PrivacySettings(
        dealt_items_days=180, counts_days=365, journal_days=365
    )
    path = tmp_path / "config.toml"
    path.write_text("[privacy]\ndealt_items_days = 0\nkeep_forever = true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    keys = [key for key, _ in caught.value.problems]
    assert "privacy.dealt_items_days" in keys
    assert "privacy.keep_forever" in keys


# -- !mes-donnees ------------------------------------------------------------------------------


async def test_my_data_sends_everything_privately_and_only_a_note_in_the_room(
    bot: ConsoleBot,
) -> None:
    await alice_with_a_history(bot)
    sent = await bot.say(ALICE, "!mes-donnees")
    assert room_texts(sent) == ["Je t'ai envoyé tes données en privé. 📬"]
    assert {o.user_id for o in sent if isinstance(o, Direct)} == {ALICE}
    (readable,) = private_to(sent, ALICE)
    # Readable text first.
    body = readable.body
    assert body.startswith(f"Tes données dans Halte — {ALICE} (heures de America/Montreal)")
    assert "Tes groupes (1)" in body
    assert "Salle de la console (!salle:console) — inscrit·e depuis le 2026-11-23" in body
    assert "rôle déclaré : gestionnaire" in body
    assert "Présences confirmées (1)" in body
    assert "1 rencontre(s), la dernière le 2026-11-23" in body
    assert "1 message(s) dans 1 tour(s), 1 tour(s) passé(s)" in body
    assert "Sujets que tu as stationnés (2)" in body
    assert "Le formulaire de congé ne s'ouvre pas" in body
    assert "traité" in body
    assert "Note : réglé en comité" in body
    assert "Filet de sécurité (1)" in body
    assert "!oublier" in body
    # Then the same as a JSON file, after the text that announces it by name.
    (file,) = files_to(sent, ALICE)
    assert sent.index(file) > sent.index(readable)
    assert file.filename == "halte-mes-donnees-2026-11-23.json"
    assert f"📎 Les mêmes données suivent dans le fichier {file.filename} (format JSON)" in body
    assert f"<strong>{file.filename}</strong>" in (readable.html or "")
    assert file.mimetype == "application/json"
    assert "```" not in body  # no JSON in the text any more
    document = exported_json(sent, ALICE)
    assert document["format"] == "halte-export/1"
    assert document["user_id"] == ALICE
    assert document["memberships"] == [
        {
            "room_id": ROOM,
            "group": "Salle de la console",
            "joined_at": "2026-11-23T14:00:00+00:00",
            "role": "gestionnaire",
        }
    ]
    assert len(document["attendance"]) == 1
    rounds = {(p["round"], p["messages"], p["passed"]) for p in document["participation"]}
    assert sum(messages for _, messages, _ in rounds) == 1
    assert any(passed for _, _, passed in rounds)
    items = document["parked_items"]
    assert [(i["number"], i["status"], i["note"]) for i in items] == [
        (1, "ouvert", None),
        (2, "traite", "réglé en comité"),
    ]
    assert document["safety_signals"]["count"] == 1


async def test_no_message_body_but_parked_texts_appears_in_the_export(bot: ConsoleBot) -> None:
    await alice_with_a_history(bot)
    sent = await bot.say(ALICE, "!mes-donnees")
    everything = "\n".join(f"{o.body}\n{o.html}" for o in private_to(sent, ALICE))
    for said in (ROUND_SENTENCE, "91bd", CRISIS, "7e2f", "finir", "5522"):
        assert said not in everything
    # Another member's parked item is theirs, not Alice's.
    assert "4411" not in everything
    # Only the parked texts, Alice's own, are there.
    assert "Le formulaire de congé ne s'ouvre pas" in everything
    # And the database itself never held the words said in the round.
    raw = database_bytes(bot)
    assert b"91bd" not in raw
    assert b"7e2f" not in raw


async def test_my_data_in_a_direct_chat_answers_only_there(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    sent = await say_in(bot, DIRECT_ROOM, ALICE, "!mes-donnees", direct=True)
    assert room_texts(sent) == []
    assert len(private_to(sent, ALICE)) == 1
    assert len(files_to(sent, ALICE)) == 1
    assert exported_json(sent, ALICE)["memberships"]


async def test_my_data_in_english(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE, language="en")
    sent = await bot.say(ALICE, "!my-data")
    assert room_texts(sent) == ["I sent you your data privately. 📬"]
    (readable,) = private_to(sent, ALICE)
    assert readable.body.startswith(f"Your data in Halte — {ALICE}")
    assert "Your groups (1)" in readable.body
    assert "member since 2026-11-23" in readable.body
    (file,) = files_to(sent, ALICE)
    assert file.filename == "halte-my-data-2026-11-23.json"
    assert f"The same data follows in the file {file.filename} (JSON format)" in readable.body


async def test_my_data_for_someone_with_nothing_stored(bot: ConsoleBot) -> None:
    sent = await bot.say(BRUNO, "!mes-donnees")
    (readable,) = private_to(sent, BRUNO)
    assert readable.body.count("• rien") == 8
    document = exported_json(sent, BRUNO)
    assert document["memberships"] == []
    assert document["parked_items"] == []
    assert document["safety_signals"] == {"count": 0, "dates": []}


async def test_my_data_spans_every_group_and_the_moderators_own_actions(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    bot.clock.advance(timedelta(minutes=1))
    await say_in(bot, OTHER_ROOM, MODERATOR, "!groupe creer soutien")
    await say_in(bot, OTHER_ROOM, ALICE, "!rejoindre")
    await bot.say(MODERATOR, "!groupe quorum 4")
    alice = exported_json(await bot.say(ALICE, "!mes-donnees"), ALICE)
    assert [m["room_id"] for m in alice["memberships"]] == [ROOM, OTHER_ROOM]
    assert alice["moderator_actions"] == []
    moderator = exported_json(await bot.say(MODERATOR, "!mes-donnees"), MODERATOR)
    assert [g["room_id"] for g in moderator["groups_created"]] == [ROOM, OTHER_ROOM]
    commands = [a["command"] for a in moderator["moderator_actions"]]
    assert commands == ["groupe creer", "groupe creer", "groupe quorum"]


async def test_a_long_export_is_cut_into_messages_that_each_fit_a_matrix_event(
    bot: ConsoleBot,
) -> None:
    await group_with(bot, ALICE)
    long_text = ("Équipe <&> 😀 " * 200)[:1990]
    for n in range(40):
        await bot.say(ALICE, f"!stationner {n:02d} {long_text}")
    sent = await bot.say(ALICE, "!mes-donnees")
    messages = private_to(sent, ALICE)
    assert len(messages) > 1
    for message in messages:
        assert event_size(message.body, message.html or "") <= EVENT_BUDGET
    # The footer naming the file comes last, once.
    assert [m for m in messages if "📎" in m.body] == [messages[-1]]
    # The readable part shortens each text; the JSON file, one piece however long, has every
    # text whole (larger than any one event could hold).
    (file,) = files_to(sent, ALICE)
    assert len(file.data) > EVENT_BUDGET
    document = exported_json(sent, ALICE)
    texts = [i["text"] for i in document["parked_items"]]
    assert len(texts) == 40
    assert all(t.endswith(long_text.strip()) for t in texts)


async def test_the_export_file_is_utf8_json_kept_readable(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    await park(bot, ALICE, "Le congé férié « spécial » n'apparaît pas")
    (file,) = files_to(await bot.say(ALICE, "!mes-donnees"), ALICE)
    raw = file.data.decode("utf-8")
    # Accents as they are (not \u escapes), indented: a person can read it in any editor.
    assert "« spécial » n'apparaît pas" in raw
    assert '\n  "format": "halte-export/1",\n' in raw
    # The content never shows in a log line or a repr of the value.
    assert "spécial" not in repr(file)


async def test_a_replayed_export_sends_the_file_once(bot: ConsoleBot) -> None:
    """Same command event twice (a crash before the sync token was saved): the keyed sends
    are deduplicated, the file with them."""
    await group_with(bot, ALICE)
    message = Message(
        event_id="$replayed-export",
        room_id=ROOM,
        sender=ALICE,
        body="!mes-donnees",
        timestamp=bot.clock.now(),
    )
    before = len(bot.console.sent)
    await bot.app.handle(message)
    first = bot.console.sent[before:]
    assert len(files_to(first, ALICE)) == 1
    keys = [o.key for o in first if isinstance(o, Direct | DirectFile)]
    assert all(keys)
    assert len(set(keys)) == len(keys)
    await bot.console.send(files_to(first, ALICE)[0])
    assert len(files_to(bot.console.sent[before:], ALICE)) == 1


# -- !oublier ----------------------------------------------------------------------------------


async def test_forget_asks_for_confirmation_first_and_erases_nothing(bot: ConsoleBot) -> None:
    await alice_with_a_history(bot)
    ask = await bot.reply(ALICE, "!oublier")
    assert ask.startswith("Effacer tes données?")
    assert "!oublier confirmer" in ask
    assert "10 minutes" in ask
    assert await bot.app.services.repos.members.is_member(ROOM, ALICE)
    assert len(await bot.app.services.repos.parking.items(ROOM)) == 3


async def test_forget_confirmed_erases_and_reports_what_went(bot: ConsoleBot) -> None:
    await alice_with_a_history(bot)
    repos = bot.app.services.repos
    on_agenda = await park(bot, ALICE, "Sujet déjà à l'ordre du jour")
    await repos.parking.set_status(ROOM, on_agenda, ItemStatus.ON_AGENDA, bot.clock.now())
    # Bruno's item merged into Alice's open #1: Bruno's own row must survive her erasure.
    brunos = await park(bot, BRUNO, "Un autre sujet de Bruno 6633")
    await bot.say(MODERATOR, f"!stationnement fusionner 1 {brunos}")
    await bot.say(BRUNO, CRISIS)
    bruno_before = {i.number: i for i in await repos.parking.items(ROOM) if i.author == BRUNO}

    await bot.say(ALICE, "!oublier")
    sent = await bot.say(ALICE, "!oublier confirmer")

    assert room_texts(sent) == ["C'est fait. Le détail t'a été envoyé en privé."]
    (report,) = private_to(sent, ALICE)
    assert report.body.startswith("C'est fait : tes données sont effacées.")
    for line in (
        "inscriptions à des groupes : 1 (dont rôles déclarés : 1)",
        "présences : 1",
        "sujets ouverts supprimés : 1",
        "sujets gardés pour l'équipe, sans ton nom : 2",
        "signaux de sécurité : 1",
        "groupes créés (ton nom retiré) : 0",
    ):
        assert line in report.body
    assert "participation (lignes de nombres) : 1" in report.body
    assert "journal des actions d'animation" in report.body

    # The effects, row by row.
    assert not await repos.members.is_member(ROOM, ALICE)
    assert await repos.members.is_member(ROOM, BRUNO)
    items = {i.number: i for i in await repos.parking.items(ROOM)}
    assert 1 not in items  # Alice's open item is gone
    for number in (2, on_agenda):  # dealt with, or on an agenda: kept, without her name
        assert items[number].author is None
        assert items[number].anonymous
        assert items[number].source_event.startswith("erased:")
    assert items[2].note == "réglé en comité"
    # Bruno's items are untouched, the one merged into #1 included (only unlinked).
    for number, before in bruno_before.items():
        after = items[number]
        assert (after.author, after.text, after.status) == (
            before.author,
            before.text,
            before.status,
        )
    assert items[brunos].merged_into is None
    with closing(sqlite3.connect(bot.app.services.db.path)) as db:

        def count(sql: str, user: str) -> int:
            return int(db.execute(sql, (user,)).fetchone()[0])

        for table in ("attendance", "participation", "safety_signals"):
            assert count(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", ALICE) == 0
        assert count("SELECT COUNT(*) FROM safety_signals WHERE user_id = ?", BRUNO) == 1
        assert count("SELECT COUNT(*) FROM participation WHERE user_id = ?", BRUNO) >= 1
        assert count("SELECT COUNT(*) FROM parked_items WHERE author = ?", ALICE) == 0
    # What is left about her: nothing but the way to reach her.
    after = exported_json(await bot.say(ALICE, "!mes-donnees"), ALICE)
    for kind in ("memberships", "attendance", "participation", "parked_items", "private_posts"):
        assert after[kind] == [], kind
    assert after["safety_signals"] == {"count": 0, "dates": []}


async def test_forget_erases_the_name_of_a_group_creator(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    await bot.say(MODERATOR, "!oublier")
    (report,) = private_to(await bot.say(MODERATOR, "!oublier confirmer"), MODERATOR)
    assert "groupes créés (ton nom retiré) : 1" in report.body
    row = await bot.app.services.db.fetch_one("SELECT created_by FROM groups")
    assert row is not None
    assert row[0] == ""


async def test_forget_in_english(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE, language="en")
    ask = await bot.reply(ALICE, "!forget")
    assert ask.startswith("Erase your data?")
    assert "!forget confirm" in ask
    sent = await bot.say(ALICE, "!forget confirm")
    assert room_texts(sent) == ["Done. The details were sent to you privately."]
    (report,) = private_to(sent, ALICE)
    assert report.body.startswith("Done: your data is erased.")
    assert "group memberships: 1 (declared roles among them: 0)" in report.body


async def test_the_confirmation_expires_after_ten_minutes(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    await bot.say(ALICE, "!oublier")
    bot.clock.advance(timedelta(minutes=10, seconds=1))
    expired = await bot.reply(ALICE, "!oublier confirmer")
    assert expired.startswith("Ta demande d'effacement a expiré (plus de 10 minutes)")
    assert await bot.app.services.repos.members.is_member(ROOM, ALICE)
    # The expired request is gone: confirming again needs a new `!oublier`.
    again = await bot.reply(ALICE, "!oublier confirmer")
    assert again.startswith("Il n'y a pas de demande d'effacement en attente.")


async def test_a_confirmation_at_ten_minutes_still_counts(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    await bot.say(ALICE, "!oublier")
    bot.clock.advance(timedelta(minutes=10))
    sent = await bot.say(ALICE, "!oublier confirmer")
    assert private_to(sent, ALICE)
    assert not await bot.app.services.repos.members.is_member(ROOM, ALICE)


async def test_asking_again_restarts_the_ten_minutes(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    await bot.say(ALICE, "!oublier")
    bot.clock.advance(timedelta(minutes=8))
    await bot.say(ALICE, "!oublier")
    bot.clock.advance(timedelta(minutes=8))
    await bot.say(ALICE, "!oublier confirmer")
    assert not await bot.app.services.repos.members.is_member(ROOM, ALICE)


async def test_confirming_without_asking_erases_nothing(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    reply = await bot.reply(ALICE, "!oublier confirmer")
    assert reply.startswith("Il n'y a pas de demande d'effacement en attente.")
    assert await bot.app.services.repos.members.is_member(ROOM, ALICE)


async def test_one_persons_request_is_not_anothers(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE, BRUNO)
    await bot.say(ALICE, "!oublier")
    reply = await bot.reply(BRUNO, "!oublier confirmer")
    assert reply.startswith("Il n'y a pas de demande d'effacement en attente.")
    assert await bot.app.services.repos.members.is_member(ROOM, ALICE)
    assert await bot.app.services.repos.members.is_member(ROOM, BRUNO)


async def test_forget_in_a_direct_chat_reports_only_there(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    await say_in(bot, DIRECT_ROOM, ALICE, "!oublier", direct=True)
    sent = await say_in(bot, DIRECT_ROOM, ALICE, "!oublier confirmer", direct=True)
    assert [o for o in sent if isinstance(o, Text) and o.room_id == ROOM] == []
    (report,) = private_to(sent, ALICE)
    assert "inscriptions à des groupes : 1" in report.body


async def test_a_bad_confirmation_word_gets_the_usage(bot: ConsoleBot) -> None:
    reply = await bot.reply(ALICE, "!oublier oui")
    assert "Utilisation : !oublier [confirmer]" in reply


# -- retention ---------------------------------------------------------------------------------


@asynccontextmanager
async def halte(
    data: Path, clock: ManualClock, privacy: PrivacySettings | None = None
) -> AsyncIterator[tuple[Halte, ConsoleTransport]]:
    settings = Settings(data_dir=data, moderators=[MODERATOR], privacy=privacy or PrivacySettings())
    console = ConsoleTransport(moderators={MODERATOR}, clock=clock)
    async with build_app(settings, lambda _db: console, clock) as app:
        console.attach(app.handle)
        yield app, console


async def lot_of_every_kind(bot: ConsoleBot) -> None:
    """Items in every status, a check-in with attendance and participation, journal lines."""
    await group_with(bot, ALICE, BRUNO)
    for n in range(1, 6):
        await park(bot, ALICE, f"Sujet {n}")
    await bot.say(MODERATOR, "!stationnement traite 1")
    await bot.say(MODERATOR, "!stationnement fusionner 2 3")  # 3 is merged
    await bot.say(ALICE, "!stationnement retirer 4")
    await bot.app.services.repos.parking.set_status(ROOM, 5, ItemStatus.ON_AGENDA, bot.clock.now())
    await park(bot, BRUNO, "Sujet ouvert de Bruno")  # 6 stays open
    await bot.say(MODERATOR, "!seance debut")
    await bot.say(ALICE, "!present")
    await bot.say(ALICE, "Je parle dans le tour")
    await bot.say(MODERATOR, "!seance fin")
    await bot.say(ALICE, "!oublier")  # a request left unconfirmed


async def test_purge_dry_run_counts_and_the_real_run_deletes(bot: ConsoleBot) -> None:
    await lot_of_every_kind(bot)
    services = bot.app.services
    repos = services.repos

    # Nothing is old yet, except the request (ten minutes) once a little time passes.
    bot.clock.advance(timedelta(minutes=11))
    first = await purge(repos, services.settings, bot.clock.now(), dry_run=True)
    assert first.as_dict() == {
        "dealt_items": 0,
        "attendance": 0,
        "participation": 0,
        "safety_signals": 0,
        "sent_posts": 0,
        "journal": 0,
        "processed_events": 0,
        "erasure_requests": 1,
    }

    bot.clock.advance(timedelta(days=181))
    now = bot.clock.now()
    dry = await purge(repos, services.settings, now, dry_run=True)
    assert dry.dealt_items == 3  # traité, fusionné, retiré
    assert (dry.attendance, dry.participation, dry.journal) == (0, 0, 0)
    assert dry.processed_events > 0
    # A dry run changes nothing.
    assert await purge(repos, services.settings, now, dry_run=True) == dry
    assert len(await repos.parking.items(ROOM)) == 6

    real = await purge(repos, services.settings, now)
    assert real == dry
    left = {i.number: i.status for i in await repos.parking.items(ROOM)}
    # Pending items never go, however old: #2 (open, with #3's text merged in), #5, #6.
    assert left == {2: ItemStatus.OPEN, 5: ItemStatus.ON_AGENDA, 6: ItemStatus.OPEN}
    assert (await purge(repos, services.settings, now, dry_run=True)).total == 0

    bot.clock.advance(timedelta(days=365 - 181 + 1))
    later = await purge(repos, services.settings, bot.clock.now())
    assert later.attendance == 1
    assert later.participation >= 1
    assert later.journal > 0
    assert later.sent_posts > 0
    assert later.dealt_items == 0
    assert await repos.audit.recent(ROOM, 100) == []


async def test_retention_counts_from_the_last_change_to_the_second(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    await park(bot, ALICE, "Sujet traité")
    await bot.say(MODERATOR, "!stationnement traite 1")
    services = bot.app.services

    bot.clock.advance(timedelta(days=180))
    kept = await purge(services.repos, services.settings, bot.clock.now(), dry_run=True)
    assert kept.dealt_items == 0
    bot.clock.advance(timedelta(seconds=1))
    gone = await purge(services.repos, services.settings, bot.clock.now(), dry_run=True)
    assert gone.dealt_items == 1


async def test_a_merged_item_pointing_at_a_purged_one_is_unlinked_not_lost(
    bot: ConsoleBot,
) -> None:
    await group_with(bot, ALICE)
    await park(bot, ALICE, "Premier")
    await park(bot, ALICE, "Deuxième")
    await bot.say(MODERATOR, "!stationnement fusionner 1 2")
    await bot.say(MODERATOR, "!stationnement traite 1")
    bot.clock.advance(timedelta(days=100))
    await bot.say(ALICE, "!stationnement anonymiser 2")  # #2 changes later than #1
    bot.clock.advance(timedelta(days=81))
    services = bot.app.services

    purged = await purge(services.repos, services.settings, bot.clock.now())
    assert purged.dealt_items == 1
    (left,) = await services.repos.parking.items(ROOM)
    assert (left.number, left.text, left.merged_into) == (2, "Deuxième", None)


async def test_the_retention_job_runs_every_night_and_purges(bot: ConsoleBot) -> None:
    await group_with(bot, ALICE)
    await park(bot, ALICE, "Sujet traité")
    await bot.say(MODERATOR, "!stationnement traite 1")
    services = bot.app.services
    arm_retention(services)
    # Monday 09:00 in Montréal: the next run is Tuesday 03:30, Montréal time.
    assert services.scheduler.next_daily(RETENTION_JOB) == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    job = services.scheduler.scheduler.get_job(RETENTION_JOB)
    assert job is not None
    bot.clock.advance(timedelta(days=181))
    await job.func()
    assert await services.repos.parking.items(ROOM) == []


async def test_halte_purge_prints_counts_dry_run_first(
    tmp_path: Path, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    async with halte(data, clock) as (_app, console):
        await console.say(MODERATOR, "!groupe creer soutien")
        await console.say(ALICE, "!stationner Un sujet")
        await console.say(MODERATOR, "!stationnement traite 1")
    settings = Settings(data_dir=data)
    later = ManualClock(clock.now() + timedelta(days=200))

    assert await _purge(settings, True, later) == 0
    dry = capsys.readouterr().out.splitlines()
    assert dry[0].endswith("(dry run, nothing deleted)")
    assert "would delete" in dry[0]
    assert "  dealt_items: 1 (older than 180 days)" in dry
    assert "  journal: 0 (older than 365 days)" in dry

    assert await _purge(settings, False, later) == 0
    real = capsys.readouterr().out.splitlines()
    assert "deleted" in real[0]
    assert "  dealt_items: 1 (older than 180 days)" in real

    assert await _purge(settings, True, later) == 0
    assert "  dealt_items: 0 (older than 180 days)" in capsys.readouterr().out.splitlines()


async def test_halte_purge_without_a_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _purge(Settings(data_dir=tmp_path / "nothing"), True) == 2
    assert "no database" in capsys.readouterr().err


def run_halte(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALTE_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=False,
    )


def test_halte_purge_on_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = run_halte("console", "--data-dir", str(data), stdin="!confidentialite\n")
    assert made.returncode == 0, made.stderr
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{data}"\n[privacy]\ndealt_items_days = 30\n', encoding="utf-8")
    dry = run_halte("purge", "--dry-run", "-c", str(config))
    assert dry.returncode == 0, dry.stderr
    assert "dry run, nothing deleted" in dry.stdout
    assert "dealt_items: 0 (older than 30 days)" in dry.stdout
    real = run_halte("purge", "-c", str(config))
    assert real.returncode == 0, real.stderr
    assert "deleted" in real.stdout


def test_the_catalogue_has_the_privacy_texts_in_both_languages() -> None:
    assert text("fr", "privacy.export_sent") == "Je t'ai envoyé tes données en privé. 📬"
    assert text("en", "privacy.export_sent") == "I sent you your data privately. 📬"


async def test_my_data_names_the_items_a_moderator_acted_on_never_their_text(
    bot: ConsoleBot,
) -> None:
    await group_with(bot, ALICE)
    await park(bot, ALICE, "Le formulaire 4b7e")
    await bot.say(MODERATOR, "!stationnement retirer 1")
    sent = await bot.say(MODERATOR, "!mes-donnees")
    readable, *_ = private_to(sent, MODERATOR)
    assert "• 2026-11-23 09:00 — !stationnement retirer #1 — " in readable.body
    moderator = exported_json(sent, MODERATOR)
    removed = moderator["moderator_actions"][-1]
    assert (removed["command"], removed["target"]) == ("stationnement retirer", "#1")
    assert "4b7e" not in json.dumps(moderator["moderator_actions"])
