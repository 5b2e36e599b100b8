"""The parking lot and the team-meeting agenda, the whole bot on the console transport.

Time is a manual clock: the scheduler's agenda job is fired by hand at the instant it is
armed for, and restarts reopen the same data directory with a new app, as a crashed bot would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Halte
from bot.clock import ManualClock
from bot.config import Settings
from bot.i18n import text as catalogue_text
from bot.messages import Direct, Message, Outgoing, React, Reaction, Text
from bot.runtime import build_app
from bot.transports.console import CONSOLE_ROOM, ConsoleTransport
from stockage.parking import MAX_TEXT, ItemStatus
from tests.conftest import MODERATOR, ConsoleBot

ROOM = CONSOLE_ROOM
MEETING_ROOM = "#reunion:console"
ALICE = "@alice:console"
BRUNO = "@bruno:console"
CHLOE = "@chloe:console"
# The conftest clock: Monday 2026-11-23 09:00 in Montréal. The team meets on Thursdays at
# 13:00 (18:00 UTC); with the default lead time the agenda is posted on Wednesday at 13:00.
THURSDAY_13H = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
NEXT_THURSDAY_13H = THURSDAY_13H + timedelta(weeks=1)
LEAD = timedelta(hours=24)
MODERATORS_ONLY = "est réservée aux personnes qui animent le groupe"
PARKED_EMOJI = ("🅿️", "🅿")  # with and without the variation selector U+FE0F


@asynccontextmanager
async def halte(data: Path, clock: ManualClock) -> AsyncIterator[tuple[Halte, ConsoleTransport]]:
    settings = Settings(data_dir=data, moderators=[MODERATOR])
    console = ConsoleTransport(moderators={MODERATOR}, clock=clock)
    async with build_app(settings, lambda _db: console, clock) as app:
        console.attach(app.handle)
        yield app, console


@pytest.fixture
async def group(bot: ConsoleBot) -> ConsoleBot:
    await bot.say(MODERATOR, "!groupe creer soutien")
    return bot


async def park(bot: ConsoleBot, who: str, text: str) -> str:
    reply = await bot.reply(who, f"!stationner {text}")
    assert reply.startswith("C'est stationné"), reply
    return reply


async def statuses_of(app: Halte) -> dict[int, ItemStatus]:
    return {i.number: i.status for i in await app.services.repos.parking.items(ROOM)}


async def statuses(bot: ConsoleBot) -> dict[int, ItemStatus]:
    return await statuses_of(bot.app)


def texts_in(sent: list[Outgoing], room: str) -> list[Text]:
    return [o for o in sent if isinstance(o, Text) and o.room_id == room]


def acks(sent: list[Outgoing]) -> list[React]:
    return [o for o in sent if isinstance(o, React) and o.emoji == "✅"]


# -- parking by command ----------------------------------------------------------------------


async def test_stationner_confirms_with_the_item_number(group: ConsoleBot) -> None:
    first = await group.reply(ALICE, "!stationner Le formulaire de congé ne s'ouvre pas")
    assert first == "C'est stationné : #1. On en reparlera à la réunion d'équipe. 🅿️"
    second = await group.reply(BRUNO, "!stationner Les horaires de fin de semaine")
    assert second.startswith("C'est stationné : #2.")
    item = await group.app.services.repos.parking.get(ROOM, 1)
    assert item is not None
    assert (item.text, item.author) == ("Le formulaire de congé ne s'ouvre pas", ALICE)


async def test_an_item_is_committed_before_it_is_confirmed(
    group: ConsoleBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What another connection to the database sees at the instant each confirmation leaves."""
    console = group.console
    path = group.app.services.db.path
    send = console.send
    seen: list[tuple[Outgoing, list[tuple[int, str]]]] = []

    async def witnessed_send(out: Outgoing) -> str | None:
        with closing(sqlite3.connect(path)) as other:
            rows = other.execute("SELECT number, text FROM parked_items ORDER BY number")
            seen.append((out, [tuple(row) for row in rows]))
        return await send(out)

    monkeypatch.setattr(console, "send", witnessed_send)
    await console.say(ALICE, "!stationner sujet un")
    await console.say(BRUNO, "sujet deux")
    await console.react(CHLOE, console.last_event_id or "", "🅿️")

    (reply, at_reply), (ack, at_ack) = seen
    assert isinstance(reply, Text)
    assert "#1" in reply.body
    assert at_reply == [(1, "sujet un")]
    assert isinstance(ack, React)
    assert ack.emoji == "✅"
    assert at_ack == [(1, "sujet un"), (2, "sujet deux")]


async def test_empty_text_is_refused_with_the_limit(group: ConsoleBot) -> None:
    for command in ("!stationner", "!stationner    "):
        reply = await group.reply(ALICE, command)
        assert reply.startswith("Écris le sujet après la commande, en 2000 caractères au maximum")
    assert await statuses(group) == {}


async def test_text_over_the_limit_is_refused_with_the_limit(group: ConsoleBot) -> None:
    reply = await group.reply(ALICE, "!stationner " + "x" * (MAX_TEXT + 1))
    assert reply.startswith("C'est un peu long : 2000 caractères au maximum.")
    assert await statuses(group) == {}


async def test_text_of_exactly_the_limit_is_parked(group: ConsoleBot) -> None:
    await park(group, ALICE, "x" * MAX_TEXT)
    item = await group.app.services.repos.parking.get(ROOM, 1)
    assert item is not None
    assert len(item.text) == MAX_TEXT


async def test_stationner_outside_a_group_explains(bot: ConsoleBot) -> None:
    reply = await bot.reply(ALICE, "!stationner un sujet")
    assert reply.startswith("Ce salon n'est pas encore un groupe Halte.")


async def test_a_replayed_stationner_keeps_one_item(group: ConsoleBot) -> None:
    """A crash after parking and before the event was claimed: the sync replays it."""
    app, clock = group.app, group.clock
    message = Message(
        event_id="$crash",
        room_id=ROOM,
        sender=ALICE,
        body="!stationner Le badge",
        timestamp=clock.now(),
    )
    sent = len(group.console.sent)
    await app.handle(message)
    await app.services.db.execute("DELETE FROM processed_events WHERE event_id = '$crash'")
    await app.handle(message)
    await app.handle(message)  # claimed this time: skipped without a word
    replies = [o.body for o in texts_in(group.console.sent[sent:], ROOM)]
    assert replies == [
        "C'est stationné : #1. On en reparlera à la réunion d'équipe. 🅿️",
        "C'est déjà stationné : #1.",
    ]
    assert await statuses(group) == {1: ItemStatus.OPEN}


# -- parking by reaction ---------------------------------------------------------------------


@pytest.mark.parametrize("emoji", PARKED_EMOJI)
async def test_a_parking_reaction_parks_the_message_text(group: ConsoleBot, emoji: str) -> None:
    console = group.console
    await console.say(BRUNO, "Le logiciel de paie plante encore")
    target = console.last_event_id
    assert target is not None
    sent = await console.react(ALICE, target, emoji)
    assert sent == [React(ROOM, target, "✅", key=sent[0].key)]  # only the ✅, on the message
    item = await group.app.services.repos.parking.get(ROOM, 1)
    assert item is not None
    # Who parked it is who reacted: the message's author may not have wanted it parked.
    assert (item.text, item.author, item.source_event) == (
        "Le logiciel de paie plante encore",
        ALICE,
        target,
    )


@pytest.mark.parametrize("emoji", PARKED_EMOJI)
async def test_a_message_reacted_again_is_still_one_item_with_one_ack(
    group: ConsoleBot, emoji: str
) -> None:
    console = group.console
    await console.say(BRUNO, "Le logiciel de paie plante encore")
    target = console.last_event_id or ""
    before = len(console.sent)
    await console.react(ALICE, target, emoji)
    await console.react(ALICE, target, "🅿️")  # the same person again
    await console.react(CHLOE, target, "🅿")  # someone else
    await console.react(BRUNO, target, emoji)
    sent = console.sent[before:]
    assert [(a.event_id, a.emoji) for a in acks(sent)] == [(target, "✅")]
    assert [o for o in sent if not isinstance(o, React)] == []  # no chatter in the room
    assert await statuses(group) == {1: ItemStatus.OPEN}


async def test_a_replayed_parking_reaction_keeps_one_item(group: ConsoleBot) -> None:
    app, console = group.app, group.console
    await console.say(BRUNO, "La pompe 3 est en panne")
    reaction = Reaction(
        event_id="$tap",
        room_id=ROOM,
        sender=ALICE,
        target_event_id=console.last_event_id or "",
        key="🅿️",
        timestamp=group.clock.now(),
    )
    await app.handle(reaction)
    await app.services.db.execute("DELETE FROM processed_events WHERE event_id = '$tap'")
    await app.handle(reaction)
    assert await statuses(group) == {1: ItemStatus.OPEN}
    assert len(acks(console.sent)) == 1


async def test_a_parking_reaction_on_a_command_it_parked_is_the_same_item(
    group: ConsoleBot,
) -> None:
    console = group.console
    await park(group, ALICE, "Les pauses de nuit")
    command = console.last_event_id or ""
    # Same item; the ✅ (queued once per item) marks the command's message as parked too.
    first = await console.react(BRUNO, command, "🅿️")
    assert [(type(o).__name__, getattr(o, "emoji", None)) for o in first] == [("React", "✅")]
    assert await console.react(ALICE, command, "🅿️") == []
    assert await statuses(group) == {1: ItemStatus.OPEN}


async def test_a_parking_reaction_on_an_unknown_message_explains_privately(
    group: ConsoleBot,
) -> None:
    sent = await group.console.react(ALICE, "$never-seen", "🅿️")
    assert len(sent) == 1
    assert isinstance(sent[0], Direct)
    assert sent[0].user_id == ALICE
    assert sent[0].body.startswith("Je n'ai pas pu stationner ce message")
    assert "!stationner" in sent[0].body
    assert await statuses(group) == {}


async def test_a_parking_reaction_on_a_too_long_message_states_the_limit(
    group: ConsoleBot,
) -> None:
    console = group.console
    await console.say(BRUNO, "y" * (MAX_TEXT + 1))
    sent = await console.react(ALICE, console.last_event_id or "", "🅿️")
    assert len(sent) == 1
    assert isinstance(sent[0], Direct)
    assert sent[0].user_id == ALICE
    assert "(2000 caractères au maximum)" in sent[0].body
    assert await statuses(group) == {}


async def test_a_parking_reaction_outside_a_group_does_nothing(bot: ConsoleBot) -> None:
    await bot.console.say(BRUNO, "un message")
    assert await bot.console.react(ALICE, bot.console.last_event_id or "", "🅿️") == []


# -- lists -----------------------------------------------------------------------------------


async def test_the_list_shows_open_items_and_tout_shows_all_with_statuses(
    group: ConsoleBot,
) -> None:
    for text in ("Formulaire", "Horaires", "Stationnement payant"):
        await park(group, ALICE, text)
    await group.reply(MODERATOR, "!stationnement traite 2")
    assert await group.reply(BRUNO, "!stationnement") == (
        "Stationnement — 2 sujet(s) à traiter\n"
        f"#1 — Formulaire — {ALICE} (ouvert)\n"
        f"#3 — Stationnement payant — {ALICE} (ouvert)"
    )
    assert await group.reply(BRUNO, "!stationnement tout") == (
        "Stationnement — tous les sujets (3)\n"
        f"#1 — Formulaire — {ALICE} (ouvert)\n"
        f"#2 — Horaires — {ALICE} (traité)\n"
        f"#3 — Stationnement payant — {ALICE} (ouvert)"
    )


async def test_empty_lists_say_how_to_park(group: ConsoleBot) -> None:
    assert (await group.reply(ALICE, "!stationnement")).startswith(
        "Rien au stationnement pour l'instant. !stationner <sujet>"
    )
    assert await group.reply(ALICE, "!stationnement tout") == "Le stationnement est vide."


async def test_list_html_escapes_item_text(group: ConsoleBot) -> None:
    await park(group, ALICE, "<b>urgent</b> & cie")
    sent = await group.say(ALICE, "!stationnement")
    html = texts_in(sent, ROOM)[0].html or ""
    assert "&lt;b&gt;urgent&lt;/b&gt; &amp; cie" in html
    assert "<b>" not in html


# -- managing items --------------------------------------------------------------------------


async def test_traite_closes_an_item_with_its_note(group: ConsoleBot) -> None:
    await park(group, ALICE, "Formulaire")
    reply = await group.reply(MODERATOR, "!stationnement traite 1 Réglé avec la RH le 2 déc.")
    assert reply == "C'est noté : le sujet #1 est traité. Merci!"
    item = await group.app.services.repos.parking.get(ROOM, 1)
    assert item is not None
    assert (item.status, item.note) == (ItemStatus.DONE, "Réglé avec la RH le 2 déc.")
    again = await group.reply(MODERATOR, "!stationnement traite 1")
    assert again == "Le sujet #1 est déjà fermé (traité, fusionné ou retiré)."


async def test_fusionner_appends_the_other_text_and_closes_it(group: ConsoleBot) -> None:
    await park(group, ALICE, "Le formulaire de congé")
    await park(group, BRUNO, "Le formulaire plante sur mobile")
    reply = await group.reply(MODERATOR, "!stationnement fusionner 1 2")
    assert reply == "C'est fait : le sujet #2 est fusionné dans le #1."
    assert await group.reply(CHLOE, "!stationnement tout") == (
        "Stationnement — tous les sujets (2)\n"
        "#1 — Le formulaire de congé\n(ajouté du #2) Le formulaire plante sur mobile"
        f" — {ALICE} (ouvert)\n"
        f"#2 — Le formulaire plante sur mobile — {BRUNO} (fusionné)"
    )
    merged = await group.app.services.repos.parking.get(ROOM, 2)
    kept = await group.app.services.repos.parking.get(ROOM, 1)
    assert merged is not None
    assert kept is not None
    assert merged.merged_into == kept.id


async def test_fusionner_refuses_the_same_item_and_closed_items(group: ConsoleBot) -> None:
    for text in ("a", "b"):
        await park(group, ALICE, text)
    assert await group.reply(MODERATOR, "!stationnement fusionner 1 1") == (
        "Il faut deux sujets différents pour les fusionner."
    )
    await group.reply(MODERATOR, "!stationnement traite 2")
    assert await group.reply(MODERATOR, "!stationnement fusionner 1 2") == (
        "Le sujet #2 est déjà fermé (traité, fusionné ou retiré)."
    )
    item = await group.app.services.repos.parking.get(ROOM, 1)
    assert item is not None
    assert item.text == "a"


@pytest.mark.parametrize("who", [ALICE, MODERATOR])
async def test_retirer_by_its_author_or_a_moderator(group: ConsoleBot, who: str) -> None:
    await park(group, ALICE, "Formulaire")
    assert await group.reply(who, "!stationnement retirer 1") == (
        "Le sujet #1 est retiré du stationnement."
    )
    assert await statuses(group) == {1: ItemStatus.REMOVED}  # kept, never deleted
    assert await group.reply(who, "!stationnement retirer 1") == "Le sujet #1 est déjà retiré."


async def test_retirer_is_refused_to_another_member(group: ConsoleBot) -> None:
    await park(group, ALICE, "Formulaire")
    assert await group.reply(BRUNO, "!stationnement retirer 1") == (
        "Seule la personne qui a stationné le sujet #1, ou une personne qui anime, peut faire ça."
    )
    assert await statuses(group) == {1: ItemStatus.OPEN}


async def test_rouvrir_reopens_a_closed_item(group: ConsoleBot) -> None:
    await park(group, ALICE, "Formulaire")
    await group.reply(MODERATOR, "!stationnement traite 1")
    assert await group.reply(MODERATOR, "!stationnement rouvrir 1") == "Le sujet #1 est rouvert."
    assert await statuses(group) == {1: ItemStatus.OPEN}
    assert "#1 — Formulaire" in await group.reply(ALICE, "!stationnement")


async def test_rouvrir_refuses_a_merged_item(group: ConsoleBot) -> None:
    for text in ("a", "b"):
        await park(group, ALICE, text)
    await group.reply(MODERATOR, "!stationnement fusionner 1 2")
    assert await group.reply(MODERATOR, "!stationnement rouvrir 2") == (
        "Le sujet #2 a été fusionné avec un autre; rouvre plutôt celui-là."
    )
    assert (await statuses(group))[2] is ItemStatus.MERGED


@pytest.mark.parametrize("who", [ALICE, MODERATOR])
async def test_anonymiser_hides_who_parked_one_item(group: ConsoleBot, who: str) -> None:
    await park(group, ALICE, "Formulaire")
    await park(group, ALICE, "Horaires")
    assert await group.reply(who, "!stationnement anonymiser 1") == (
        "C'est fait : le sujet #1 n'indique plus qui l'a stationné."
    )
    assert await group.reply(BRUNO, "!stationnement") == (
        "Stationnement — 2 sujet(s) à traiter\n"
        "#1 — Formulaire (ouvert)\n"
        f"#2 — Horaires — {ALICE} (ouvert)"
    )


async def test_anonymiser_is_refused_to_another_member(group: ConsoleBot) -> None:
    await park(group, ALICE, "Formulaire")
    assert (await group.reply(BRUNO, "!stationnement anonymiser 1")).startswith(
        "Seule la personne qui a stationné le sujet #1"
    )
    assert ALICE in await group.reply(BRUNO, "!stationnement")


async def test_an_anonymous_group_hides_authors_of_new_items(group: ConsoleBot) -> None:
    await park(group, ALICE, "Avant")
    assert await group.reply(MODERATOR, "!groupe stationnement anonyme") == (
        "C'est noté : les sujets stationnés n'indiqueront plus qui les a stationnés."
    )
    await park(group, BRUNO, "Après")
    await group.console.say(CHLOE, "Par réaction")
    await group.console.react(CHLOE, group.console.last_event_id or "", "🅿️")
    assert await group.reply(ALICE, "!stationnement") == (
        "Stationnement — 3 sujet(s) à traiter\n"
        f"#1 — Avant — {ALICE} (ouvert)\n"
        "#2 — Après (ouvert)\n"
        "#3 — Par réaction (ouvert)"
    )
    preview = await group.reply(MODERATOR, "!ordre-du-jour")
    assert BRUNO not in preview
    assert CHLOE not in preview
    assert "2. Après (stationné le 2026-11-23)" in preview
    await group.reply(MODERATOR, f"!ordre-du-jour salle {MEETING_ROOM}")
    [posted] = texts_in(await group.say(MODERATOR, "!ordre-du-jour publier"), MEETING_ROOM)
    assert posted.body.splitlines()[2:] == [
        f"1. Avant — stationné par {ALICE} le 2026-11-23",
        "2. Après (stationné le 2026-11-23)",
        "3. Par réaction (stationné le 2026-11-23)",
    ]
    assert BRUNO not in (posted.html or "")
    assert CHLOE not in (posted.html or "")
    # Back to showing authors: items parked anonymously stay anonymous.
    await group.reply(MODERATOR, "!groupe stationnement auteur")
    await park(group, CHLOE, "Encore")
    listing = await group.reply(ALICE, "!stationnement")
    assert "#2 — Après (à l'ordre du jour)" in listing
    assert f"#4 — Encore — {CHLOE} (ouvert)" in listing


@pytest.mark.parametrize(
    "command",
    [
        "!stationnement traite 1",
        "!stationnement traite 1 une note",
        "!stationnement fusionner 1 2",
        "!stationnement rouvrir 1",
        "!stationnement traite",  # incomplete: refused before being told the usage
        "!groupe stationnement anonyme",
        "!ordre-du-jour",
        "!ordre-du-jour publier",
        f"!ordre-du-jour salle {MEETING_ROOM}",
        "!ordre-du-jour horaire jeudi 13:00",
        "!ordre-du-jour delai 12",
    ],
)
async def test_members_are_refused_moderator_commands(group: ConsoleBot, command: str) -> None:
    for text in ("a", "b"):
        await park(group, ALICE, text)
    before = len(group.console.sent)
    reply = await group.reply(ALICE, command)
    assert MODERATORS_ONLY in reply
    assert reply.startswith(f"La commande !{command[1:].split(' ')[0]}")
    assert await statuses(group) == {1: ItemStatus.OPEN, 2: ItemStatus.OPEN}
    assert texts_in(group.console.sent[before:], MEETING_ROOM) == []
    group_now = await group.app.services.repos.groups.get(ROOM)
    assert group_now is not None
    assert group_now.meeting_room is None
    assert not group_now.parking_anonymous


@pytest.mark.parametrize(
    "command",
    [
        "!stationnement traite 9",
        "!stationnement rouvrir 9",
        "!stationnement retirer 9",
        "!stationnement anonymiser 9",
        "!stationnement fusionner 1 9",
        "!stationnement fusionner 9 1",
    ],
)
async def test_an_unknown_item_number_is_named(group: ConsoleBot, command: str) -> None:
    await park(group, ALICE, "a")
    assert await group.reply(MODERATOR, command) == (
        "Je ne trouve pas le sujet #9. !stationnement tout montre la liste."
    )
    assert await statuses(group) == {1: ItemStatus.OPEN}


# -- the agenda, by hand ---------------------------------------------------------------------


async def test_the_preview_shows_the_agenda_and_changes_nothing(group: ConsoleBot) -> None:
    await park(group, ALICE, "Formulaire")
    await park(group, BRUNO, "Horaires")
    sent = await group.say(MODERATOR, "!ordre-du-jour")
    assert [o.room_id for o in sent if isinstance(o, Text)] == [ROOM]
    assert sent[0].body == (  # type: ignore[union-attr]
        "Aperçu (rien n'est publié) :\n"
        "Ordre du jour — Salle de la console\n"
        "Réunion d'équipe : la prochaine réunion\n"
        f"1. Formulaire — stationné par {ALICE} le 2026-11-23\n"
        f"2. Horaires — stationné par {BRUNO} le 2026-11-23"
    )
    assert await statuses(group) == {1: ItemStatus.OPEN, 2: ItemStatus.OPEN}
    assert await group.app.services.db.fetch_all("SELECT * FROM agendas") == []


async def test_publier_without_a_meeting_room_explains(group: ConsoleBot) -> None:
    await park(group, ALICE, "Formulaire")
    assert await group.reply(MODERATOR, "!ordre-du-jour publier") == (
        "Il faut d'abord indiquer le salon de la réunion d'équipe :"
        " !ordre-du-jour salle #salon:serveur."
    )
    assert await statuses(group) == {1: ItemStatus.OPEN}
    assert await group.app.services.db.fetch_all("SELECT * FROM agendas") == []


async def test_publier_posts_the_agenda_in_the_meeting_room(group: ConsoleBot) -> None:
    await park(group, ALICE, "Formulaire")
    await park(group, BRUNO, "Horaires")
    assert await group.reply(MODERATOR, f"!ordre-du-jour salle {MEETING_ROOM}") == (
        f"C'est noté : l'ordre du jour sera publié dans {MEETING_ROOM}."
    )
    sent = await group.say(MODERATOR, "!ordre-du-jour publier")
    [posted] = texts_in(sent, MEETING_ROOM)
    assert posted.body == (
        "Ordre du jour — Salle de la console\n"
        "Réunion d'équipe : la prochaine réunion\n"
        f"1. Formulaire — stationné par {ALICE} le 2026-11-23\n"
        f"2. Horaires — stationné par {BRUNO} le 2026-11-23"
    )
    assert posted.html is not None
    assert '<li value="2">Horaires' in posted.html
    [confirmation] = texts_in(sent, ROOM)
    assert confirmation.body == (
        "C'est publié : l'ordre du jour (2 sujet(s)) est dans le salon de la réunion d'équipe."
    )
    assert await statuses(group) == {1: ItemStatus.ON_AGENDA, 2: ItemStatus.ON_AGENDA}
    listing = await group.reply(ALICE, "!stationnement")
    assert listing.endswith(f"#2 — Horaires — {BRUNO} (à l'ordre du jour)")


async def test_items_not_dealt_with_are_carried_over(group: ConsoleBot) -> None:
    for text in ("Formulaire", "Horaires", "Badges"):
        await park(group, ALICE, text)
    await group.reply(MODERATOR, f"!ordre-du-jour salle {MEETING_ROOM}")
    await group.say(MODERATOR, "!ordre-du-jour publier")
    await group.reply(MODERATOR, "!stationnement traite 1 fait")
    await group.reply(MODERATOR, "!stationnement retirer 3")
    await park(group, BRUNO, "Nouveau")
    sent = await group.say(MODERATOR, "!ordre-du-jour publier")
    [posted] = texts_in(sent, MEETING_ROOM)
    assert posted.body.splitlines()[2:] == [
        f"2. Horaires — stationné par {ALICE} le 2026-11-23 (reporté)",
        f"4. Nouveau — stationné par {BRUNO} le 2026-11-23",
    ]
    assert posted.html is not None
    assert "(reporté)</li>" in posted.html


async def test_an_agenda_shows_a_parked_script_as_text(group: ConsoleBot) -> None:
    await park(
        group, ALICE, "<script>alert('x')</script> & <a href=\"https://matrix.to/#/@x:y\">x</a>"
    )
    await group.reply(MODERATOR, f"!ordre-du-jour salle {MEETING_ROOM}")
    [posted] = texts_in(await group.say(MODERATOR, "!ordre-du-jour publier"), MEETING_ROOM)
    assert posted.html is not None
    assert "<script>" not in posted.html
    assert "<a " not in posted.html
    assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;a href=" in posted.html
    assert "<script>alert('x')</script>" in posted.body  # the plain body is shown as is


async def test_an_english_group_parks_and_publishes_in_english(group: ConsoleBot) -> None:
    await group.reply(MODERATOR, "!groupe langue en")
    assert await group.reply(ALICE, "!park The leave form") == (
        "Parked: #1. We'll come back to it at the team meeting. 🅿️"
    )
    await group.reply(MODERATOR, f"!agenda room {MEETING_ROOM}")
    [posted] = texts_in(await group.say(MODERATOR, "!agenda publish"), MEETING_ROOM)
    assert posted.body.startswith("Agenda — Salle de la console\nTeam meeting: the next meeting\n")
    assert f"1. The leave form — parked by {ALICE} on 2026-11-23" in posted.body


# -- the agenda, on time ---------------------------------------------------------------------


async def schedule_meetings(console: ConsoleTransport) -> None:
    await console.say(MODERATOR, "!groupe creer soutien")
    await console.say(MODERATOR, f"!ordre-du-jour salle {MEETING_ROOM}")
    await console.say(ALICE, "!stationner Formulaire")
    await console.say(BRUNO, "!stationner Horaires")
    [reply] = texts_in(await console.say(MODERATOR, "!ordre-du-jour horaire jeudi 13:00"), ROOM)
    assert reply.body == (
        "C'est noté. Prochaine réunion d'équipe : jeudi 2026-11-26 à 13:00;"
        " l'ordre du jour sera publié 24 h avant."
    )


async def test_the_agenda_job_is_armed_the_lead_time_before_the_meeting(
    group: ConsoleBot,
) -> None:
    await schedule_meetings(group.console)
    scheduler = group.app.services.scheduler
    assert scheduler.armed_agenda_for(ROOM) == THURSDAY_13H - LEAD
    assert await group.reply(MODERATOR, "!ordre-du-jour delai 48") == (
        "C'est noté : l'ordre du jour sera publié 48 h avant chaque réunion d'équipe."
    )
    assert scheduler.armed_agenda_for(ROOM) == THURSDAY_13H - timedelta(hours=48)


async def test_a_schedule_without_a_room_arms_nothing_until_the_room_is_named(
    group: ConsoleBot,
) -> None:
    reply = await group.reply(MODERATOR, "!ordre-du-jour horaire jeudi 13:00")
    assert reply.startswith("C'est noté. Indique maintenant le salon de la réunion")
    assert group.app.services.scheduler.armed_agenda_for(ROOM) is None
    await group.reply(MODERATOR, f"!ordre-du-jour salle {MEETING_ROOM}")
    assert group.app.services.scheduler.armed_agenda_for(ROOM) == THURSDAY_13H - LEAD


async def test_the_agenda_is_posted_once_at_the_lead_time_and_not_again_after_a_restart(
    tmp_path: Path, clock: ManualClock
) -> None:
    data = tmp_path / "data"
    async with halte(data, clock) as (app, console):
        await schedule_meetings(console)
        before = len(console.sent)
        clock.set(THURSDAY_13H - LEAD)
        await app.services.scheduler._fire_agenda(ROOM, THURSDAY_13H)  # what APScheduler runs
        await app.services.scheduler._fire_agenda(ROOM, THURSDAY_13H)  # a duplicate run
        posted = texts_in(console.sent[before:], MEETING_ROOM)
        assert len(posted) == 1
        assert posted[0].body.splitlines()[:2] == [
            "Ordre du jour — Salle de la console",
            "Réunion d'équipe : jeudi 2026-11-26 à 13:00",
        ]
        assert len(posted[0].body.splitlines()) == 4
        assert console.sent[before:] == posted  # nothing said in the group itself
        assert app.services.scheduler.armed_agenda_for(ROOM) == NEXT_THURSDAY_13H - LEAD

    clock.advance(timedelta(minutes=5))
    async with halte(data, clock) as (app, console):
        await app.services.scheduler.rebuild()
        await app.services.checkins.flush()
        assert console.sent == []
        assert app.services.scheduler.armed_agenda_for(ROOM) == NEXT_THURSDAY_13H - LEAD
        items = await app.services.repos.parking.items(ROOM)
        assert [i.status for i in items] == [ItemStatus.ON_AGENDA] * 2


async def test_next_weeks_agenda_carries_over_what_was_not_dealt_with(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with halte(tmp_path / "data", clock) as (app, console):
        await schedule_meetings(console)
        clock.set(THURSDAY_13H - LEAD)
        await app.services.scheduler._fire_agenda(ROOM, THURSDAY_13H)
        clock.set(THURSDAY_13H + timedelta(hours=1))
        await console.say(MODERATOR, "!stationnement traite 1 réglé en réunion")
        before = len(console.sent)
        clock.set(NEXT_THURSDAY_13H - LEAD)
        await app.services.scheduler._fire_agenda(ROOM, NEXT_THURSDAY_13H)
        [posted] = texts_in(console.sent[before:], MEETING_ROOM)
    assert posted.body.splitlines()[1:] == [
        "Réunion d'équipe : jeudi 2026-12-03 à 13:00",
        f"2. Horaires — stationné par {BRUNO} le 2026-11-23 (reporté)",
    ]


async def test_a_schedule_set_after_the_lead_time_posts_now_and_names_the_next_meeting(
    group: ConsoleBot,
) -> None:
    await park(group, ALICE, "Formulaire")
    await group.reply(MODERATOR, f"!ordre-du-jour salle {MEETING_ROOM}")
    group.clock.set(THURSDAY_13H - timedelta(hours=5))  # Thursday morning: less than 24 h
    sent = await group.say(MODERATOR, "!ordre-du-jour horaire jeudi 13:00")
    [posted] = texts_in(sent, MEETING_ROOM)
    assert "Réunion d'équipe : jeudi 2026-11-26 à 13:00" in posted.body
    # The team still meets today: the reply must not send people to next week.
    [reply] = texts_in(sent, ROOM)
    assert "Prochaine réunion d'équipe : jeudi 2026-11-26 à 13:00;" in reply.body
    assert group.app.services.scheduler.armed_agenda_for(ROOM) == NEXT_THURSDAY_13H - LEAD


async def test_a_bot_down_at_the_lead_time_posts_when_it_is_back_before_the_meeting(
    tmp_path: Path, clock: ManualClock
) -> None:
    data = tmp_path / "data"
    async with halte(data, clock) as (app, console):
        await schedule_meetings(console)
    # Down from Monday to Thursday morning: Wednesday's job never ran.
    clock.set(THURSDAY_13H - timedelta(hours=6))
    async with halte(data, clock) as (app, console):
        await app.services.scheduler.rebuild()
        [posted] = texts_in(console.sent, MEETING_ROOM)
        assert "Réunion d'équipe : jeudi 2026-11-26 à 13:00" in posted.body
        assert app.services.scheduler.armed_agenda_for(ROOM) == NEXT_THURSDAY_13H - LEAD
    # And a second restart before the meeting does not post it again.
    clock.advance(timedelta(hours=1))
    async with halte(data, clock) as (app, console):
        await app.services.scheduler.rebuild()
        await app.services.checkins.flush()
        assert console.sent == []


async def test_a_bot_down_past_the_meeting_posts_no_stale_agenda(
    tmp_path: Path, clock: ManualClock
) -> None:
    data = tmp_path / "data"
    async with halte(data, clock) as (app, console):
        await schedule_meetings(console)
    clock.set(THURSDAY_13H + timedelta(hours=2))
    async with halte(data, clock) as (app, console):
        await app.services.scheduler.rebuild()
        assert console.sent == []
        assert app.services.scheduler.armed_agenda_for(ROOM) == NEXT_THURSDAY_13H - LEAD
        assert await statuses_of(app) == {1: ItemStatus.OPEN, 2: ItemStatus.OPEN}


# -- with a check-in -------------------------------------------------------------------------


async def test_the_check_in_summary_counts_items_parked_during_it(group: ConsoleBot) -> None:
    console = group.console
    await park(group, ALICE, "Avant la séance")
    await console.say(MODERATOR, "!seance debut")
    await park(group, ALICE, "Pendant, par commande")
    await console.say(BRUNO, "Pendant, par réaction")
    await console.react(CHLOE, console.last_event_id or "", "🅿️")
    sent = await console.say(MODERATOR, "!seance fin")
    [summary] = [t.body for t in texts_in(sent, ROOM) if t.body.startswith("Merci pour")]
    assert "Sujets stationnés pour la réunion d'équipe : 2" in summary


async def test_publishing_by_hand_takes_the_next_meeting_so_the_job_posts_no_duplicate(
    group: ConsoleBot,
) -> None:
    console, services = group.console, group.app.services
    await park(group, ALICE, "Les pauses de nuit")
    await console.say(MODERATOR, "!ordre-du-jour salle #reunion:console")
    await console.say(MODERATOR, "!ordre-du-jour horaire jeudi 13:00")
    current = await services.repos.groups.get(console.room_id)
    assert current is not None
    meeting = await services.agendas.next_meeting(current)
    assert meeting is not None
    published = await console.say(MODERATOR, "!ordre-du-jour publier")
    assert sum(isinstance(o, Text) and o.room_id == "#reunion:console" for o in published) == 1
    again = await console.say(MODERATOR, "!ordre-du-jour publier")
    assert [o.body for o in again if isinstance(o, Text)] == [
        catalogue_text("fr", "agenda.already_published")
    ]
    group.clock.set(meeting - timedelta(hours=24))
    before = len(console.sent)
    await services.scheduler._fire_agenda(console.room_id, meeting)
    assert [o for o in console.sent[before:] if isinstance(o, Text)] == []


async def test_a_huge_parking_lot_still_fits_in_one_matrix_event(group: ConsoleBot) -> None:
    # 45 items of 2,000 characters: the list and the agenda stay under 64 KiB, body and HTML.
    for number in range(45):
        await park(group, ALICE, f"sujet {number} " + "é" * (MAX_TEXT - 20))
    await group.console.say(MODERATOR, "!ordre-du-jour salle #reunion:console")
    for command in ("!stationnement", "!ordre-du-jour publier"):
        sent = await group.console.say(MODERATOR, command)
        posts = [o for o in sent if isinstance(o, Text)]
        assert posts
        for post in posts:
            size = len(post.body.encode()) + len((post.html or "").encode())
            assert size < 60_000, (command, size)
    agenda = next(o for o in sent if isinstance(o, Text) and o.room_id == "#reunion:console")
    assert "… et 25 autre(s) sujet(s)" in agenda.body
    # Nothing is lost: every item keeps its full text.
    item = await group.app.services.repos.parking.get(CONSOLE_ROOM, 45)
    assert item is not None
    assert len(item.text) == MAX_TEXT - 20 + len("sujet 44 ")
