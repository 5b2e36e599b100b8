"""Kicked from a group's room, the bot stays out, keeps what it must, and comes back when invited.

Issue 6: « the bot leaves when kicked and forgets nothing it should keep (parked items stay for
moderators) ». One story on a real Synapse: a moderator parks an item, sets a schedule and
starts a check-in, then kicks the bot. The bot's time is a `ManualClock`, so every later
deadline of that check-in can be made to come at once, without waiting for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from nio import RoomInviteResponse, RoomKickResponse

from bot import checkin as machine
from bot.clock import ManualClock
from bot.localserver import LocalSynapse
from bot.member_client import MemberClient, Seen
from bot.messages import Direct, Outgoing
from tests.integration.conftest import RunningBot, Users, member, start_bot

pytestmark = pytest.mark.integration

WITHIN = 10.0
ROOT = Path(__file__).resolve().parents[2]
FRENCH_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
TOPIC = "Le logiciel de garde plante le vendredi soir"


async def ask(client: MemberClient, room: str, text: str, bot: RunningBot) -> Seen:
    sent = await client.send(room, text)
    return await client.reply_to(room, sent, bot.user_id, within=WITHIN)


async def until(condition: Callable[[], Awaitable[bool]], within: float = WITHIN) -> None:
    """Return once `condition()` holds; the bot acts on its own sync, so this polls (bounded)."""

    async def poll() -> None:
        while not await condition():  # noqa: ASYNC110 - a database row, not an event to await
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), within)


async def export_agenda(data_dir: Path, room: str) -> dict[str, object]:
    """`halte export-agenda --format json`, as an operator runs it while the bot runs."""
    config = data_dir.parent / "export.toml"
    config.write_text(f'data_dir = "{data_dir}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALTE_")}
    env["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "export-agenda",
        "-c",
        str(config),
        "--group",
        room,
        "--format",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    exported: dict[str, object] = json.loads(out)
    return exported


async def test_a_kicked_bot_stays_out_keeps_the_group_and_comes_back_when_invited(
    synapse: LocalSynapse,
    users: Users,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO)
    clock = ManualClock(datetime.now(UTC))
    async with (
        member(synapse, users, "anim") as anim,
        member(synapse, users, "lea") as lea,
        start_bot(
            synapse, users, data_dir, allowlist=[anim.user_id], run_time=True, clock=clock
        ) as bot,
    ):
        services = bot.app.services
        repos = services.repos
        engine = services.checkins
        room = await anim.create_room("Soutien", invite=[bot.user_id, lea.user_id])
        await lea.wait_for_invite(WITHIN)
        await lea.join(room)
        await bot.wait_joined(room)
        created = await ask(anim, room, "!groupe creer soutien", bot)
        assert "groupe de soutien est créé" in created.body
        assert "Bienvenue" in (await ask(lea, room, "!rejoindre", bot)).body
        assert "#1" in (await ask(anim, room, f"!stationner {TOPIC}", bot)).body
        # Two days ahead: far from the reminder's lead time, whatever day the test runs.
        local = clock.now().astimezone(ZoneInfo("America/Montreal"))
        day = FRENCH_DAYS[(local.weekday() + 2) % 7]
        await ask(anim, room, f"!horaire {day} 12:00", bot)
        assert services.scheduler.armed_for(room) is not None
        await anim.send(room, "!seance debut")
        await anim.wait_for(
            lambda s: s.sender == bot.user_id and "Tour 1 sur" in s.body, within=WITHIN
        )
        running = await repos.checkins.current(room)
        assert running is not None
        assert running.state.phase is machine.Phase.ROUND

        # From here on, every post the bot attempts is seen.
        attempts: list[Outgoing] = []
        send = bot.transport.send

        async def recording(out: Outgoing) -> str | None:
            attempts.append(out)
            return await send(out)

        monkeypatch.setattr(bot.transport, "send", recording)

        # -- the kick ----------------------------------------------------------------------
        kicked = await anim.client.room_kick(room, bot.user_id, reason="fin du groupe")
        assert isinstance(kicked, RoomKickResponse), kicked

        async def check_in_ended() -> bool:
            return await repos.checkins.current(room) is None

        await until(check_in_ended)
        assert room not in bot.transport.joined_rooms()
        ended = await repos.checkins.get(running.id)
        assert ended is not None
        assert ended.state.phase is machine.Phase.CANCELLED
        assert services.scheduler.armed_for(room) is None

        # Every deadline the check-in had passes: nothing is posted, nothing stays queued,
        # and the engine's loop is still alive.
        clock.advance(timedelta(hours=2))
        engine.wake()
        assert await engine.tick() == 0
        assert await engine.flush() == 0
        # A post queued for the room after all (a race with the kick) is dropped, unsent.
        await repos.checkins.queue_post(
            "test:after-kick",
            {"to": "room", "room": room, "kind": "react", "event": "$x", "emoji": "✅"},
            clock.now(),
        )
        assert await engine.flush() == 0
        assert [o for o in attempts if not isinstance(o, Direct)] == []
        unsent = await services.db.fetch_all("SELECT key FROM outbox WHERE sent_at IS NULL")
        assert [row["key"] for row in unsent] == []
        assert "post test:after-kick dropped: the bot was removed from room" in caplog.text

        # Kept: the group, its member, its schedule and the parked item, which the
        # operator's export still shows.
        group = await repos.groups.get(room)
        assert group is not None
        assert group.bot_left_at is not None
        assert await repos.members.is_member(room, lea.user_id)
        assert await repos.schedules.get(room) is not None
        items = await repos.parking.items(room)
        assert [(item.number, item.text) for item in items] == [(1, TOPIC)]
        exported = await export_agenda(data_dir, room)
        assert [item["text"] for item in exported["items"]] == [TOPIC]  # type: ignore[attr-defined,index]

        # The bot did not try to come back on its own.
        state = await anim.client.room_get_state_event(room, "m.room.member", bot.user_id)
        assert state.content["membership"] == "leave"
        errors = [
            r.getMessage()
            for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith("bot")
        ]
        assert errors == []

        # -- invited back by an allowed inviter ---------------------------------------------
        invited = await anim.client.room_invite(room, bot.user_id)
        assert isinstance(invited, RoomInviteResponse), invited
        await bot.wait_joined(room)
        listed = await ask(anim, room, "!stationnement", bot)
        assert TOPIC in listed.body
        assert "#1" in listed.body
        assert services.scheduler.armed_for(room) is not None
        back = await repos.groups.get(room)
        assert back is not None
        assert back.bot_left_at is None
        status = await ask(lea, room, "!seance etat", bot)
        assert "pas de rencontre en cours" in status.body
