"""The audit trail of moderator actions: written by the dispatcher after each moderator-only
command ran, and after a member command a moderator used with moderator power (another
person's parked item, the group's schedule): who, which command, on which item, where, when —
never text anyone typed. And `!journal`."""

from __future__ import annotations

import itertools
import logging
import sqlite3
from contextlib import closing
from datetime import timedelta

import pytest

from bot.messages import Message, Outgoing, Text
from bot.transports.console import CONSOLE_ROOM
from tests.conftest import MODERATOR, ConsoleBot

ROOM = CONSOLE_ROOM
OTHER_ROOM = "!autre:console"
ALICE = "@alice:console"
MODERATORS_ONLY = "est réservée aux personnes qui animent le groupe"
_EVENTS = itertools.count(1)


def actions(bot: ConsoleBot) -> list[tuple[str, str, str, int, str]]:
    """Every row of the audit trail, read by another connection, as stored."""
    with closing(sqlite3.connect(bot.app.services.db.path)) as db:
        rows = db.execute(
            "SELECT room_id, actor, command, completed, at FROM moderator_actions ORDER BY id"
        )
        return [tuple(row) for row in rows]


async def say_in(bot: ConsoleBot, room_id: str, sender: str, body: str) -> list[Outgoing]:
    before = len(bot.console.sent)
    await bot.app.handle(
        Message(
            event_id=f"$audit{next(_EVENTS)}",
            room_id=room_id,
            sender=sender,
            body=body,
            timestamp=bot.clock.now(),
        )
    )
    return bot.console.sent[before:]


@pytest.fixture
async def group(bot: ConsoleBot) -> ConsoleBot:
    await bot.say(MODERATOR, "!groupe creer soutien")
    await bot.say(ALICE, "!rejoindre")
    await bot.say(ALICE, "!stationner Le formulaire de congé")
    return bot


# -- what is written ---------------------------------------------------------------------------


async def test_a_moderator_command_writes_who_what_where_when(group: ConsoleBot) -> None:
    group.clock.advance(timedelta(minutes=5))
    await group.say(MODERATOR, "!stationnement traite 1 décision 3c9d du comité")
    last = actions(group)[-1]
    assert last == (ROOM, MODERATOR, "stationnement traite", 1, "2026-11-23T14:05:00+00:00")


async def test_the_trail_never_holds_arguments(group: ConsoleBot) -> None:
    for body in (
        "!stationnement traite 1 note-secrete-7a1b",
        "!groupe quorum 7",
        "!groupe seuil long-chars 9137",
        "!horaire annuler 2026-12-01",
        "!seance sauter meteo",
        "!journal 42",
    ):
        await group.say(MODERATOR, body)
    rows = actions(group)
    assert [command for _, _, command, _, _ in rows] == [
        "groupe creer",
        "stationnement traite",
        "groupe quorum",
        "groupe seuil",
        "horaire annuler",
        "seance sauter",
        "journal",
    ]
    stored = " ".join(" ".join(map(str, row)) for row in rows)
    for argument in ("7a1b", "note-secrete", "9137", "long-chars", "2026-12-01", "meteo"):
        assert argument not in stored
    assert " 42 " not in f" {stored} "


async def test_member_commands_and_refusals_are_not_written(group: ConsoleBot) -> None:
    before = actions(group)
    for body in (
        "!aide",
        "!stationner Un autre sujet",
        "!stationnement",
        "!mes-donnees",
        "!confidentialite",
        "!seance debut",  # refused: Alice is not a moderator
        "!journal",  # refused too
    ):
        await group.say(ALICE, body)
    # A moderator running a member command is not a moderator action either.
    await group.say(MODERATOR, "!stationnement")
    # Nor is a moderator command that never ran (its arguments did not fit).
    await group.say(MODERATOR, "!stationnement traite pas-un-nombre")
    assert actions(group) == before


async def test_english_aliases_are_written_under_the_command_name(group: ConsoleBot) -> None:
    await group.say(MODERATOR, "!parking done 1")
    assert actions(group)[-1][2] == "stationnement traite"


async def test_a_command_that_failed_is_written_as_not_completed(
    group: ConsoleBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(group.app.services.checkins, "start_now", broken)
    reply = await group.reply(MODERATOR, "!seance debut")
    assert reply.startswith("Oups")
    assert actions(group)[-1][2:4] == ("seance debut", 0)
    listed = await group.reply(MODERATOR, "!journal 1")
    assert listed.endswith("!seance debut (n'a pas abouti)")


async def test_a_failing_audit_trail_never_hides_the_answer(
    group: ConsoleBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("-".join(("disk", "full")))

    monkeypatch.setattr(group.app.services.repos.audit, "record", broken)
    reply = await group.reply(MODERATOR, "!stationnement traite 1")
    assert reply == "C'est noté : le sujet #1 est traité. Merci!"
    assert "audit trail: recording stationnement traite" in caplog.text
    assert "disk-full" not in caplog.text


async def test_actions_outside_a_group_are_written_for_their_room(bot: ConsoleBot) -> None:
    await say_in(bot, OTHER_ROOM, MODERATOR, "!groupe creer soutien")
    assert actions(bot)[-1][:3] == (OTHER_ROOM, MODERATOR, "groupe creer")


# -- !journal ----------------------------------------------------------------------------------


async def test_journal_lists_the_rooms_last_actions_oldest_first(group: ConsoleBot) -> None:
    group.clock.advance(timedelta(minutes=1))
    await group.say(MODERATOR, "!groupe quorum 4")
    group.clock.advance(timedelta(minutes=1))
    await group.say(MODERATOR, "!stationnement traite 1")
    await say_in(group, OTHER_ROOM, MODERATOR, "!groupe creer soutien")  # another room
    listed = await group.reply(MODERATOR, "!journal")
    assert listed.splitlines() == [
        "Journal des actions d'animation — 3 action(s) récente(s) (gardé 365 jours)",
        f"2026-11-23 09:00 — {MODERATOR} — !groupe creer",
        f"2026-11-23 09:01 — {MODERATOR} — !groupe quorum",
        f"2026-11-23 09:02 — {MODERATOR} — !stationnement traite #1",
    ]
    # `!journal` itself is a moderator action, written after it ran.
    last_two = await group.reply(MODERATOR, "!journal 2")
    assert last_two.splitlines()[1:] == [
        f"2026-11-23 09:02 — {MODERATOR} — !stationnement traite #1",
        f"2026-11-23 09:02 — {MODERATOR} — !journal",
    ]


async def test_journal_shows_twenty_by_default_and_at_most_a_hundred(group: ConsoleBot) -> None:
    for _ in range(30):
        await group.say(MODERATOR, "!groupe quorum 3")
    assert len((await group.reply(MODERATOR, "!journal")).splitlines()) == 1 + 20
    assert len((await group.reply(MODERATOR, "!journal 100")).splitlines()) == 1 + 32
    too_many = await group.reply(MODERATOR, "!journal 101")
    assert "« 101 » doit être entre 1 et 100." in too_many
    assert "Utilisation : !journal [N]" in too_many


async def test_journal_when_nothing_was_done(bot: ConsoleBot) -> None:
    empty = await bot.reply(MODERATOR, "!journal")
    assert empty == "Aucune action d'animation au journal de ce salon (il garde 365 jours)."


async def test_journal_is_refused_to_members(group: ConsoleBot) -> None:
    refused = await group.reply(ALICE, "!journal")
    assert MODERATORS_ONLY in refused
    assert "!groupe creer" not in refused


async def test_journal_in_english(group: ConsoleBot) -> None:
    await group.say(MODERATOR, "!groupe langue en")
    await group.say(MODERATOR, "!parking done 1")
    listed = await group.reply(MODERATOR, "!log")
    lines = listed.splitlines()
    assert lines[0] == "Moderators' log — 3 recent action(s) (kept 365 days)"
    assert lines[-1] == f"2026-11-23 09:00 — {MODERATOR} — !parking done #1"
    refused = await group.reply(ALICE, "!log")
    assert refused == "The !log command is for the group's moderators."


async def test_journal_times_are_in_the_groups_time_zone(bot: ConsoleBot) -> None:
    await bot.say(MODERATOR, "!groupe creer soutien fr Europe/Paris")
    listed = await bot.reply(MODERATOR, "!journal")
    assert listed.splitlines()[1] == f"2026-11-23 15:00 — {MODERATOR} — !groupe creer"


async def test_journal_escapes_nothing_a_person_typed_because_there_is_none(
    group: ConsoleBot,
) -> None:
    await group.say(MODERATOR, "!stationnement traite 1 <script>alert(1)</script>")
    sent = await group.say(MODERATOR, "!journal")
    (post,) = [o for o in sent if isinstance(o, Text)]
    assert "script" not in post.body
    assert "script" not in (post.html or "")


async def test_the_journal_is_kept_apart_from_logs(
    group: ConsoleBot, caplog: pytest.LogCaptureFixture
) -> None:
    # Halte's own loggers at their most talkative (libraries stay quiet: see `setup_logging`).
    caplog.set_level(logging.DEBUG, logger="bot")
    await group.say(MODERATOR, "!stationnement traite 1 note-9e8f")
    await group.say(MODERATOR, "!journal")
    assert "9e8f" not in caplog.text


# -- moderator power inside member commands ----------------------------------------------------

BRUNO = "@bruno:console"
ITEM_TEXT = "Le formulaire de congé"


def targets(bot: ConsoleBot) -> list[tuple[str, str, str | None, int]]:
    """(actor, command, target, completed) of every row, as stored."""
    with closing(sqlite3.connect(bot.app.services.db.path)) as db:
        rows = db.execute("SELECT actor, command, target, completed FROM moderator_actions")
        return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("!stationnement retirer 1", "stationnement retirer"),
        ("!stationnement anonymiser 1", "stationnement anonymiser"),
        ("!parking remove 1", "stationnement retirer"),
        ("!parking anonymize 1", "stationnement anonymiser"),
    ],
)
async def test_a_moderator_acting_on_someone_elses_item_is_written_with_its_number(
    group: ConsoleBot, body: str, command: str
) -> None:
    group.clock.advance(timedelta(minutes=3))
    await group.say(MODERATOR, body)
    assert actions(group)[-1] == (ROOM, MODERATOR, command, 1, "2026-11-23T14:03:00+00:00")
    assert targets(group)[-1] == (MODERATOR, command, "#1", 1)


async def test_a_person_acting_on_their_own_item_is_not_written(group: ConsoleBot) -> None:
    await group.say(MODERATOR, "!stationner Mon propre sujet")  # item 2, the moderator's own
    before = actions(group)
    assert "n'indique plus" in await group.reply(ALICE, "!stationnement anonymiser 1")
    assert "retiré" in await group.reply(ALICE, "!stationnement retirer 1")
    # A moderator on their own item uses no moderator power either.
    await group.say(MODERATOR, "!stationnement anonymiser 2")
    await group.say(MODERATOR, "!stationnement retirer 2")
    assert actions(group) == before


async def test_a_refusal_or_a_change_that_changes_nothing_is_not_written(
    group: ConsoleBot,
) -> None:
    await group.say(BRUNO, "!rejoindre")
    refused = await group.reply(BRUNO, "!stationnement retirer 1")
    assert "#1" in refused
    await group.say(MODERATOR, "!stationnement retirer 1")
    written = actions(group)
    await group.say(MODERATOR, "!stationnement retirer 1")  # already removed
    await group.say(MODERATOR, "!stationnement retirer 99")  # no such item
    await group.say(MODERATOR, "!stationnement retirer pas-un-nombre")
    assert actions(group) == written
    assert [t for t in targets(group) if t[1] == "stationnement retirer"] == [
        (MODERATOR, "stationnement retirer", "#1", 1)
    ]


async def test_an_item_whose_author_was_erased_is_someone_elses(group: ConsoleBot) -> None:
    await group.say(MODERATOR, "!stationnement traite 1")  # dealt with: kept after erasure
    await group.say(ALICE, "!oublier")
    await group.say(ALICE, "!oublier confirmer")
    item = await group.app.services.repos.parking.get(ROOM, 1)
    assert item is not None
    assert item.author is None
    await group.say(MODERATOR, "!stationnement retirer 1")
    assert targets(group)[-1] == (MODERATOR, "stationnement retirer", "#1", 1)


async def test_setting_the_schedule_is_written_reading_it_is_not(group: ConsoleBot) -> None:
    before = actions(group)
    await group.say(MODERATOR, "!horaire")  # reading
    await group.say(ALICE, "!horaire")
    refused = await group.reply(ALICE, "!horaire mardi 12:00")
    assert MODERATORS_ONLY in refused
    await group.say(MODERATOR, "!horaire mardi")  # the time is missing: nothing set
    assert actions(group) == before
    group.clock.advance(timedelta(minutes=7))
    await group.say(MODERATOR, "!horaire mardi 12:00 aux 2 semaines America/Toronto")
    assert actions(group)[-1] == (ROOM, MODERATOR, "horaire", 1, "2026-11-23T14:07:00+00:00")
    assert targets(group)[-1] == (MODERATOR, "horaire", None, 1)
    # Its arguments stay out of the trail, like every other command's.
    stored = " ".join(str(v) for row in actions(group) + targets(group) for v in row)
    assert "Toronto" not in stored
    assert "12:00" not in stored


async def test_a_moderator_action_that_failed_part_way_is_written_as_not_completed(
    group: ConsoleBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(group.app.services.repos.parking, "set_status", broken)
    reply = await group.reply(MODERATOR, "!stationnement retirer 1")
    assert reply.startswith("Oups")
    assert targets(group)[-1] == (MODERATOR, "stationnement retirer", "#1", 0)
    listed = await group.reply(MODERATOR, "!journal 2")
    assert listed.splitlines()[-1].endswith("!stationnement retirer #1 (n'a pas abouti)")


async def test_the_journal_names_items_by_number_never_by_their_text(group: ConsoleBot) -> None:
    await group.say(ALICE, "!stationner Deuxième sujet 5f2e")
    await group.say(ALICE, "!stationner Troisième sujet 8c4d")
    await group.say(MODERATOR, "!stationnement fusionner 2 3")
    await group.say(MODERATOR, "!stationnement anonymiser 2")
    await group.say(MODERATOR, "!stationnement retirer 1")
    listed = await group.reply(MODERATOR, "!journal 3")
    assert listed.splitlines()[1:] == [
        f"2026-11-23 09:00 — {MODERATOR} — !stationnement fusionner #2 #3",
        f"2026-11-23 09:00 — {MODERATOR} — !stationnement anonymiser #2",
        f"2026-11-23 09:00 — {MODERATOR} — !stationnement retirer #1",
    ]
    stored = " ".join(str(v) for row in targets(group) for v in row)
    for text in (ITEM_TEXT, "5f2e", "8c4d"):
        assert text not in stored
        assert text not in listed


async def test_the_journal_in_english_names_items_too(group: ConsoleBot) -> None:
    await group.say(MODERATOR, "!groupe langue en")
    await group.say(MODERATOR, "!parking remove 1")
    listed = await group.reply(MODERATOR, "!log 1")
    assert listed.splitlines()[1] == f"2026-11-23 09:00 — {MODERATOR} — !parking remove #1"
