"""The check-in engine on the console transport, with a manual clock: no real waiting.

A whole 30-minute check-in runs in milliseconds; restarts reopen the same database with a new
app, as a crashed bot would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Halte
from bot.clock import ManualClock
from bot.config import Settings
from bot.i18n import text
from bot.messages import Direct, Outgoing, Text
from bot.runtime import DATABASE_FILE, build_app
from bot.transports.console import CONSOLE_ROOM, ConsoleTransport
from tests.conftest import MODERATOR

ROOM = CONSOLE_ROOM
MEMBERS = ["@alice:console", "@bruno:console", "@chloe:console"]
# Monday 2026-11-23 09:00 in Montréal (EST, UTC-5).
MONDAY_9H = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@asynccontextmanager
async def halte(data: Path, clock: ManualClock) -> AsyncIterator[tuple[Halte, ConsoleTransport]]:
    settings = Settings(data_dir=data, moderators=[MODERATOR])
    console = ConsoleTransport(moderators={MODERATOR}, clock=clock)
    async with build_app(settings, lambda _db: console, clock) as app:
        console.attach(app.handle)
        yield app, console


async def setup_group(console: ConsoleTransport, present: list[str] = MEMBERS) -> None:
    await console.say(MODERATOR, "!groupe creer soutien")
    for member in MEMBERS:
        await console.say(member, "!rejoindre")


async def run_until(app: Halte, clock: ManualClock, end: datetime) -> None:
    """Jump from deadline to deadline, ticking at each, as the engine's loop would."""
    for _ in range(200):
        records = await app.services.repos.checkins.unfinished()
        deadlines = [r.state.deadline for r in records if r.state.deadline is not None]
        if not deadlines or min(deadlines) > end:
            clock.set(end)
            await app.services.checkins.tick()
            return
        clock.set(max(min(deadlines), clock.now()))
        await app.services.checkins.tick()
    raise AssertionError("the check-in never settled")


def room_texts(sent: list[Outgoing]) -> list[str]:
    return [o.body for o in sent if isinstance(o, Text)]


def directs(sent: list[Outgoing]) -> list[tuple[str, str]]:
    return [(o.user_id, o.body) for o in sent if isinstance(o, Direct)]


async def test_a_whole_scheduled_check_in_runs_in_milliseconds(
    tmp_path: Path, clock: ManualClock
) -> None:
    clock.set(MONDAY_9H - timedelta(hours=2))  # 07:00 local
    async with halte(tmp_path / "data", clock) as (app, console):
        await setup_group(console)
        await console.say(MODERATOR, "!horaire lundi 10:00")
        start = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 10:00 local
        assert app.services.scheduler.armed_for(ROOM) == start - timedelta(hours=1)
        before = len(console.sent)
        clock.set(start - timedelta(hours=1))
        await app.services.scheduler._fire(ROOM, start)  # what APScheduler runs at that time
        reminder = console.sent[before:]
        assert [t for t in room_texts(reminder) if "Rappel" in t]
        for member in MEMBERS[:2]:
            await console.say(member, "!present")
        await run_until(app, clock, start + timedelta(minutes=3, seconds=30))
        # Round 2 (météo) is on: Alice answers, Bruno passes, Chloé said nothing.
        await console.say(MEMBERS[0], "vert, un mot : reposée")
        await console.say(MEMBERS[1], "!passer")
        await run_until(app, clock, start + timedelta(minutes=31))
        posted = console.sent[before:]

    texts = room_texts(posted)
    prompts = [t for t in texts if t.startswith("Tour ")]
    assert [p.split(" — ")[1].split(" (")[0] for p in prompts] == [
        "Accueil et cadre",
        "Météo",
        "Ce qui est lourd",
        "Ce qui aide",
        "Reconnaissance",
        "Stationnement et clôture",
    ]
    assert sum("Bienvenue à notre rencontre" in t for t in texts) == 1
    summary = [t for t in texts if t.startswith("Merci pour cette rencontre")]
    assert len(summary) == 1
    assert "Personnes qui ont pris la parole : 1" in summary[0]
    assert "Prochaine rencontre : lundi 2026-11-30 à 10:00" in summary[0]
    # Quorum (3) not reached with 2 answers: the moderator alone hears it, privately.
    private = directs(posted)
    assert [u for u, body in private if "ont confirmé leur présence" in body] == [MODERATOR]
    nudges = [u for u, body in private if "petit mot discret" in body.lower()]
    # Nudged: present members who neither wrote nor passed, once per nudging round. Alice wrote
    # only in round 2; Bruno passed round 2; Chloé never said she would come: never nudged.
    assert MEMBERS[2] not in nudges
    assert nudges.count(MEMBERS[0]) == 3  # rounds 3, 4, 5
    assert nudges.count(MEMBERS[1]) == 3  # rounds 3, 4, 5 (round 2: passed)
    # Nothing posted twice, and the whole half hour took no real time.
    keys = [o.key for o in posted if o.key is not None]
    assert len(keys) == len(set(keys))


async def test_resume_after_a_restart_mid_round(tmp_path: Path, clock: ManualClock) -> None:
    data = tmp_path / "data"
    async with halte(data, clock) as (app, console):
        await setup_group(console)
        start = clock.now()
        await console.say(MODERATOR, "!seance debut")
    # The bot is down for ten minutes: the group is now in round 3 (« Ce qui est lourd »).
    clock.set(start + timedelta(minutes=10))
    async with halte(data, clock) as (app, console):
        await app.services.checkins.tick()
        texts = room_texts(console.sent)
        assert len(texts) == 1
        assert texts[0].startswith("Tour 3 sur 6 — Ce qui est lourd (on reprend ici")
        state = await console.say(MEMBERS[0], "!seance etat")
        assert isinstance(state[0], Text)
        assert "Il reste 5 min" in state[0].body


async def test_a_check_in_whose_end_passed_while_down_closes_with_a_note(
    tmp_path: Path, clock: ManualClock
) -> None:
    data = tmp_path / "data"
    async with halte(data, clock) as (app, console):
        await setup_group(console)
        start = clock.now()
        await console.say(MODERATOR, "!seance debut")
    clock.set(start + timedelta(hours=2))
    async with halte(data, clock) as (app, console):
        await app.services.checkins.tick()
        texts = room_texts(console.sent)
        assert len(texts) == 1
        assert texts[0].startswith("J'ai été absent un moment")
        assert "Merci pour cette rencontre" in texts[0]
        assert await app.services.repos.checkins.current(ROOM) is None


@pytest.mark.parametrize(
    ("late", "opens"),
    [(timedelta(minutes=5), True), (timedelta(minutes=11), False)],
)
async def test_a_start_missed_while_down_starts_late_within_grace_or_is_reported(
    tmp_path: Path, clock: ManualClock, late: timedelta, opens: bool
) -> None:
    data = tmp_path / "data"
    clock.set(MONDAY_9H - timedelta(hours=2))
    start = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    async with halte(data, clock) as (app, console):
        await setup_group(console)
        await console.say(MODERATOR, "!horaire lundi 10:00")
    # Down from 07:00 until after the start; at start the jobs are rebuilt from the database.
    clock.set(start + late)
    async with halte(data, clock) as (app, console):
        await app.services.scheduler.rebuild()
        texts = room_texts(console.sent)
        private = directs(console.sent)
        if opens:
            assert texts[0].startswith("Petit retard de ma part")
            # It starts now, with the whole half hour ahead.
            assert any(t.startswith("Tour 1 sur 6 — Accueil et cadre (3 min") for t in texts)
            assert not private
        else:
            assert texts == []
            assert private == [
                (
                    MODERATOR,
                    "La rencontre prévue le lundi 2026-11-23 à 10:00 n'a pas pu commencer : "
                    "j'étais hors ligne. Elle est sautée; la suivante reste prévue.",
                )
            ]
        # Either way the next week's occurrence is armed.
        assert app.services.scheduler.armed_for(ROOM) == start + timedelta(days=7, hours=-1)
        # Rebuilding again (another restart) changes nothing.
        before = len(console.sent)
        await app.services.scheduler.rebuild()
        assert console.sent[before:] == []


async def test_no_double_post_when_the_bot_dies_between_sending_and_recording(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    async with halte(data, clock) as (app, console):
        await setup_group(console)
        repo = app.services.repos.checkins

        async def crash(*_args: object) -> None:
            raise RuntimeError("killed before recording the send")

        monkeypatch.setattr(repo, "mark_sent", crash)
        await console.say(MODERATOR, "!seance debut")
        # The opening went out; the bot "died" before recording it, so nothing else did.
        shown = room_texts(console.sent)
        assert sum("Bienvenue à notre rencontre" in t for t in shown) == 1
        assert sum(t.startswith("Tour 1 sur 6") for t in shown) == 0
        pending = await repo.pending_posts()
        assert [e.key.split(":", 2)[2] for e in pending] == ["opening", "round:0"]
        monkeypatch.undo()
        # On restart the outbox is sent again with the same keys: the transport (as Matrix
        # does with transaction ids) recognises them, so the room sees each post once.
        assert await app.services.checkins.flush() == 0
        assert await repo.pending_posts() == []
        shown = room_texts(console.sent)
        assert sum(t.startswith("Tour 1 sur 6") for t in shown) == 1
        assert sum("Bienvenue à notre rencontre" in t for t in shown) == 1


async def test_two_moderators_advancing_at_once_make_one_advance(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with halte(tmp_path / "data", clock) as (app, console):
        await setup_group(console)
        await console.say(MODERATOR, "!seance debut")
        clock.advance(timedelta(seconds=40))
        # Both typed at the same instant; each reaches the bot a little later, one by one.
        typed_at = clock.now()
        clock.advance(timedelta(milliseconds=150))
        first = await console.say(MODERATOR, "!seance suivant", at=typed_at)
        clock.advance(timedelta(milliseconds=150))
        second = await console.say(MODERATOR, "!seance suivant", at=typed_at)
        assert room_texts(first)[0].startswith("Tour 2 sur 6")
        assert room_texts(second) == ["C'est déjà fait : on vient de passer au tour suivant."]
        record = await app.services.repos.checkins.current(ROOM)
        assert record is not None
        assert record.state.round_index == 1


async def test_skip_finish_and_state_commands(tmp_path: Path, clock: ManualClock) -> None:
    async with halte(tmp_path / "data", clock) as (app, console):
        await setup_group(console)
        assert room_texts(await console.say(MODERATOR, "!seance etat")) == [
            text("fr", "checkin.none")
        ]
        await console.say(MODERATOR, "!seance debut")
        skipped = room_texts(await console.say(MODERATOR, "!seance sauter meteo"))
        assert skipped == ["C'est noté : le tour « Météo » est sauté aujourd'hui."]
        unknown = room_texts(await console.say(MODERATOR, "!seance sauter pluie"))
        assert unknown[0].startswith("Je ne trouve pas le tour « pluie »")
        refused = room_texts(await console.say(MEMBERS[0], "!seance suivant"))
        assert "réservée aux personnes qui animent" in refused[0]
        clock.advance(timedelta(minutes=3))
        await app.services.checkins.tick()
        assert room_texts(console.sent)[-1].startswith("Tour 3 sur 6 — Ce qui est lourd")
        done = room_texts(await console.say(MODERATOR, "!seance fin"))
        assert done[0].startswith("Merci pour cette rencontre")
        again = room_texts(await console.say(MODERATOR, "!seance fin"))
        assert again == [text("fr", "checkin.none")]


async def test_participation_is_counted_never_stored(tmp_path: Path, clock: ManualClock) -> None:
    sentence = "une phrase unique sur mon quart de travail 5c1e"
    data = tmp_path / "data"
    async with halte(data, clock) as (app, console):
        await setup_group(console)
        await console.say(MODERATOR, "!seance debut")
        await console.say(MEMBERS[0], sentence)
        await console.say(MEMBERS[0], "et une autre")
        # Someone who did not join the group is not counted (participation is voluntary).
        await console.say("@visiteur:console", "bonjour")
        record = await app.services.repos.checkins.current(ROOM)
        assert record is not None
        assert await app.services.repos.checkins.participants(record.id) == 1
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.name.startswith(DATABASE_FILE))
    assert b"5c1e" not in raw
    assert b"quart de travail" not in raw


async def test_a_schedule_keeps_its_wall_clock_time_across_daylight_saving(
    tmp_path: Path, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 10, 26, 12, 0, tzinfo=UTC))
    async with halte(tmp_path / "data", clock) as (app, console):
        await setup_group(console)
        answer = room_texts(await console.say(MODERATOR, "!horaire mardi 12:00"))
        assert "Première rencontre : mardi 2026-10-27 à 12:00" in answer[0]
        shown = room_texts(await console.say(MEMBERS[0], "!horaire"))[0]
        # Montréal leaves daylight time on 2026-11-01: 12:00 stays 12:00 on the wall.
        assert "• mardi 2026-10-27 à 12:00" in shown
        assert "• mardi 2026-11-03 à 12:00" in shown
        assert app.services.scheduler.armed_for(ROOM) == datetime(2026, 10, 27, 15, 0, tzinfo=UTC)
        clock.set(datetime(2026, 10, 27, 15, 0, tzinfo=UTC))  # the reminder time
        await app.services.scheduler._fire(ROOM, datetime(2026, 10, 27, 16, 0, tzinfo=UTC))
        # After the change, the same wall-clock hour is one UTC hour later.
        assert app.services.scheduler.armed_for(ROOM) == datetime(2026, 11, 3, 16, 0, tzinfo=UTC)


async def test_bad_schedule_input_gets_the_usage_line(tmp_path: Path, clock: ManualClock) -> None:
    async with halte(tmp_path / "data", clock) as (_app, console):
        await setup_group(console)
        for typed, problem in [
            ("!horaire lundii 12:00", "« lundii » n'est pas un jour de la semaine"),
            ("!horaire mardi 25:00", "« 25:00 » n'est pas une heure valide"),
            ("!horaire mardi 12:00 toutes les 40 semaines", "« 40 » doit être entre 1 et 12"),
            ("!horaire mardi 12:00 chaque semaine Mars/Base", "« Mars/Base » n'est pas un fuseau"),
            ("!horaire mardi", "Il manque une information : HH:MM"),
            ("!horaire annuler 2026-02-30", "« 2026-02-30 » n'est pas une date valide"),
        ]:
            body = room_texts(await console.say(MODERATOR, typed))[0]
            assert problem in body, (typed, body)
            assert "Utilisation : !horaire" in body, (typed, body)
        refused = room_texts(await console.say(MEMBERS[0], "!horaire mardi 12:00"))[0]
        assert "réservée aux personnes qui animent" in refused


async def test_reminder_lead_and_quorum_are_per_group(tmp_path: Path, clock: ManualClock) -> None:
    clock.set(MONDAY_9H - timedelta(hours=3))  # 06:00 local
    async with halte(tmp_path / "data", clock) as (app, console):
        await setup_group(console)
        await console.say(MODERATOR, "!horaire lundi 10:00")
        start = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
        assert app.services.scheduler.armed_for(ROOM) == start - timedelta(minutes=60)
        answer = room_texts(await console.say(MODERATOR, "!groupe rappel 30"))
        assert answer == ["C'est noté : le rappel partira 30 min avant chaque rencontre."]
        assert app.services.scheduler.armed_for(ROOM) == start - timedelta(minutes=30)
        await console.say(MODERATOR, "!groupe quorum 1")
        clock.set(start - timedelta(minutes=30))
        await app.services.scheduler._fire(ROOM, start)
        await console.say(MEMBERS[0], "!present")
        await run_until(app, clock, start - timedelta(minutes=1))
        # One person confirmed, the quorum is 1: no private warning to the moderator.
        assert not [u for u, body in directs(console.sent) if "confirmé leur présence" in body]
        refused = room_texts(await console.say(MODERATOR, "!groupe rappel -5"))
        assert "Utilisation : !groupe rappel <minutes>" in refused[0]


async def test_a_reaction_from_a_non_member_is_not_attendance(
    tmp_path: Path, clock: ManualClock
) -> None:
    clock.set(MONDAY_9H - timedelta(hours=2))
    async with halte(tmp_path / "data", clock) as (app, console):
        await setup_group(console)
        await console.say(MODERATOR, "!horaire lundi 10:00")
        start = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
        clock.set(start - timedelta(hours=1))
        before = len(console.sent)
        await app.services.scheduler._fire(ROOM, start)
        reminder_key = next(o.key for o in console.sent[before:] if o.key and "reminder" in o.key)
        reminder_id = await app.services.repos.checkins.sent_event(reminder_key)
        assert reminder_id is not None
        await console.react("@intrus:console", reminder_id, "✅")
        await console.react(MEMBERS[0], reminder_id, "✅️")  # with the emoji variation selector
        record = await app.services.repos.checkins.current(ROOM)
        assert record is not None
        assert await app.services.repos.checkins.present(record.id) == [MEMBERS[0]]


async def test_a_nudge_survives_a_crash_at_its_deadline(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with halte(tmp_path / "data", clock) as (app, console):
        await setup_group(console)
        start = clock.now()
        record = await app.services.checkins.start_now(
            await app.services.repos.groups.get(ROOM)  # type: ignore[arg-type]
        )
        await app.services.repos.checkins.mark_present(record.id, MEMBERS[0], start)
        repo = app.services.repos.checkins
        real_save = repo.save
        calls = 0

        async def dies_once(*args: object, **kwargs: object) -> bool:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("killed while saving the nudge step")
            return await real_save(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(repo, "save", dies_once)
        # Round 1 has no nudge; round 2 (météo, 4 min from minute 3) nudges at minute 5.
        clock.set(start + timedelta(minutes=3))
        with pytest.raises(RuntimeError):
            await app.services.checkins.tick()
        await app.services.checkins.tick()  # restart: the round change, again
        clock.set(start + timedelta(minutes=5))
        await app.services.checkins.tick()
        assert [u for u, b in directs(console.sent) if "petit mot discret" in b.lower()] == [
            MEMBERS[0]
        ]


async def test_two_flushes_at_once_send_each_pending_post_once(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`apply()` and the wake-up loop may flush at the same moment; a post goes out once."""
    clock.set(MONDAY_9H)
    async with halte(tmp_path / "data", clock) as (app, console):
        await setup_group(console)
        engine = app.services.checkins
        real_send = console.send

        async def homeserver_away(out: Outgoing) -> str:
            raise ConnectionError("homeserver away")

        monkeypatch.setattr(console, "send", homeserver_away)
        await engine.flush()  # nothing pending yet
        await console.say(MODERATOR, "!seance debut")
        pending = await app.services.repos.checkins.pending_posts()
        assert pending, "the opening posts wait in the outbox while the homeserver is away"

        attempts: list[Outgoing] = []

        async def slow_send(out: Outgoing) -> str:
            attempts.append(out)  # what reaches the platform, before any dedupe of its own
            await asyncio.sleep(0)  # let the other flush run in between, as real I/O does
            return await real_send(out)

        monkeypatch.setattr(console, "send", slow_send)
        await asyncio.gather(engine.flush(), engine.flush())
        assert len(attempts) == len(pending)
        assert not await app.services.repos.checkins.pending_posts()
