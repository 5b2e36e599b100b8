"""A whole scheduled check-in on a real Synapse, seen the way the members see it.

The format (`tests/data/formats-fast/eclair.toml`) has three rounds of a few seconds, so the
reminder, the attendance call, the rounds, the one nudge and the summary all happen in about
twelve seconds of real time, through real matrix-nio clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot import checkin as machine
from bot.localserver import LocalSynapse
from bot.member_client import MemberClient, Seen
from bot.runtime import _run_time
from tests.integration.conftest import Users, member, start_bot

pytestmark = pytest.mark.integration

FAST_FORMATS = Path(__file__).parent.parent / "data" / "formats-fast"
PROMPT_TITLES = ("Accueil éclair", "Météo éclair", "Clôture éclair")


def _kind(body: str) -> str:
    """Which of the check-in's posts a bot message is, from its French text."""
    if "Rappel : notre rencontre commence" in body:
        return "reminder"
    if "Bienvenue à notre rencontre" in body:
        return "opening"
    for number, title in enumerate(PROMPT_TITLES, start=1):
        if f"Tour {number} sur 3 — {title}" in body:
            return f"prompt {number}"
    if "Merci pour cette rencontre" in body:
        return "summary"
    return "other"


def _files_containing(directory: Path, needle: bytes) -> list[str]:
    """Every file under `directory` (the database, its WAL, the credentials) holding `needle`."""
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert {directory / "halte.db", directory / "halte.db-wal"} <= set(files)
    return [p.name for p in files if needle in p.read_bytes()]


async def _direct_room_message(client: MemberClient, bot_id: str, within: float) -> Seen:
    """Accept the bot's direct-room invite and return the first thing it says there."""
    room = await client.wait_for_invite(within)
    await client.join(room)
    return await client.wait_for(lambda s: s.room_id == room and s.sender == bot_id, within)


async def test_scheduled_checkin_runs_from_reminder_to_summary(
    synapse: LocalSynapse, users: Users, data_dir: Path
) -> None:
    async with (
        member(synapse, users, "anim") as anim,
        member(synapse, users, "alice") as alice,
        member(synapse, users, "bruno") as bruno,
        start_bot(
            synapse, users, data_dir, allowlist=[anim.user_id], formats_dir=FAST_FORMATS
        ) as bot,
    ):
        app = bot.app
        engine = app.services.checkins
        repos = app.services.repos
        # `start_bot` runs the transport only; production also runs time (scheduler and the
        # check-in engine's deadlines) beside it, as `run_until_stopped` does.
        time_task = asyncio.create_task(_run_time(app))
        try:
            room = await anim.create_room(
                "Soutien", invite=[bot.user_id, alice.user_id, bruno.user_id]
            )
            for peer in (alice, bruno):
                await peer.wait_for_invite()
                await peer.join(room)
            await bot.wait_joined(room)

            def from_bot_in_room(seen: Seen) -> bool:
                return seen.room_id == room and seen.sender == bot.user_id

            async def command(client: MemberClient, text: str) -> Seen:
                sent = await client.send(room, text)
                return await client.reply_to(room, sent, bot.user_id, within=5)

            assert (
                "groupe de soutien est créé" in (await command(anim, "!groupe creer soutien")).body
            )
            assert "Rencontre éclair" in (await command(anim, "!groupe format eclair")).body
            for peer in (alice, bruno):
                assert "Bienvenue dans le groupe" in (await command(peer, "!rejoindre")).body

            group = await repos.groups.get(room)
            assert group is not None
            assert group.format == "eclair"
            now = app.services.clock.now()
            starts_at = now + timedelta(seconds=4)
            record = await repos.checkins.create(
                room,
                starts_at,
                group.format,
                machine.scheduled(starts_at, remind_before=timedelta(seconds=3)),
                now,
            )
            assert record is not None
            engine.wake()

            # The reminder, and both ways of saying « I'll be there ».
            reminder = await alice.wait_for(
                lambda s: from_bot_in_room(s) and _kind(s.body) == "reminder", within=4
            )
            assert "Rencontre éclair" in reminder.body
            await alice.react(room, reminder.event_id, "✅")
            # The reaction is earlier in the room's timeline than Bruno's command, and the bot
            # handles a timeline in order: once Bruno has his answer, both are counted.
            assert "C'est noté" in (await command(bruno, "!present")).body
            assert await repos.checkins.present(record.id) == sorted([alice.user_id, bruno.user_id])

            # The opening with the rules, then the three prompts in order.
            opening = await alice.wait_for(
                lambda s: from_bot_in_room(s) and _kind(s.body) == "opening", within=6
            )
            assert "Nos règles" in opening.body
            assert opening.formatted_body is not None

            prompts = []
            secret = f"Je me sens orange aujourd'hui {secrets.token_hex(8)}"
            for number, title in enumerate(PROMPT_TITLES, start=1):
                prompt = await alice.wait_for(
                    lambda s, n=number: from_bot_in_room(s) and _kind(s.body) == f"prompt {n}",
                    within=5,
                )
                assert title in prompt.body
                assert prompt.formatted_body is not None
                assert "<strong>" in prompt.formatted_body
                prompts.append(prompt)
                if number == 2:
                    # Alice takes part in round 2; Bruno stays quiet.
                    await alice.send(room, secret)
            order = [s.event_id for s in alice.seen]
            indexes = [order.index(s.event_id) for s in (reminder, opening, *prompts)]
            assert indexes == sorted(indexes)

            # Bruno, present and quiet in the nudging round, gets one private word.
            nudge = await _direct_room_message(bruno, bot.user_id, within=5)
            assert "Un petit mot discret" in nudge.body

            summary = await alice.wait_for(
                lambda s: from_bot_in_room(s) and _kind(s.body) == "summary", within=6
            )
            assert "Personnes qui ont pris la parole : 1" in summary.body

            # A barrier: the bot answers after everything it posted before, and its answer
            # also says the check-in is over.
            state = await command(anim, "!seance etat")
            assert "Il n'y a pas de rencontre en cours" in state.body

            # Two present (quorum 3): the moderator was told privately, once.
            quorum = await _direct_room_message(anim, bot.user_id, within=5)
            assert "2 personne(s) ont confirmé" in quorum.body

            kinds = Counter(_kind(s.body) for s in alice.seen if from_bot_in_room(s))
            assert kinds == {
                "reminder": 1,
                "opening": 1,
                "prompt 1": 1,
                "prompt 2": 1,
                "prompt 3": 1,
                "summary": 1,
                # Answers to !groupe creer, !groupe format, two !rejoindre, !present, !seance etat.
                "other": 6,
            }, [s.body for s in alice.seen if from_bot_in_room(s)]
            bruno_direct = [s for s in bruno.seen if s.sender == bot.user_id and s.room_id != room]
            assert [s.event_id for s in bruno_direct] == [nudge.event_id]
            anim_direct = [s for s in anim.seen if s.sender == bot.user_id and s.room_id != room]
            assert [s.event_id for s in anim_direct] == [quorum.event_id]
            assert alice.invites == []
            assert not [s for s in alice.seen if s.sender == bot.user_id and s.room_id != room]

            nudges = await app.services.db.fetch_all(
                "SELECT key FROM outbox WHERE key LIKE ?", (f"checkin:{record.id}:nudge:%",)
            )
            assert [row["key"] for row in nudges] == [
                f"checkin:{record.id}:nudge:1:{bruno.user_id}"
            ]
            unsent = await app.services.db.fetch_all("SELECT key FROM outbox WHERE sent_at IS NULL")
            assert [row["key"] for row in unsent] == []

            closed = await repos.checkins.get(record.id)
            assert closed is not None
            assert closed.state.phase is machine.Phase.CLOSED
            row = await app.services.db.fetch_one(
                "SELECT phase FROM checkins WHERE id = ?", (record.id,)
            )
            assert row is not None
            assert row["phase"] == "closed"
            assert await repos.checkins.participants(record.id) == 1

            # Counted, never stored: Alice's words are in no file the bot keeps, though her
            # user id (attendance, counts) is, which shows the search reads what was written.
            assert _files_containing(data_dir, secret.split()[-1].encode()) == []
            assert _files_containing(data_dir, alice.user_id.encode()) != []
        finally:
            await engine.stop()
            time_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await time_task
