"""The crisis safety net on a real Synapse: private resources to the person, a private alert
to the moderator, nothing in the room — within the two seconds the issue asks for."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.localserver import LocalSynapse
from tests.integration.conftest import Users, member, start_bot

pytestmark = pytest.mark.integration

CRISIS = "je vois plus de sortie, tout le monde serait mieux sans moi 4d9c"


async def test_a_crisis_message_gets_private_resources_and_a_private_alert(
    synapse: LocalSynapse, users: Users, data_dir: Path
) -> None:
    async with (
        member(synapse, users, "sophie") as sophie,
        member(synapse, users, "karim") as karim,
        start_bot(synapse, users, data_dir, allowlist=[sophie.user_id]) as bot,
    ):
        room = await sophie.create_room("Soutien", invite=[bot.user_id, karim.user_id])
        await karim.wait_for_invite()
        await karim.join(room)
        await bot.wait_joined(room)
        created = await sophie.send(room, "!groupe creer soutien")
        await sophie.reply_to(room, created, bot.user_id)

        started = time.monotonic()
        said = await karim.send(room, CRISIS)
        # The bot opens a direct room with each of them: both accept, as people would.
        dm_karim = await karim.wait_for_invite(within=5)
        await karim.join(dm_karim)
        resources = await karim.wait_for(
            lambda s: s.room_id == dm_karim and s.sender == bot.user_id, within=5
        )
        elapsed = time.monotonic() - started
        assert "1 866 APPELLE" in resources.body
        assert resources.decrypted  # the bot's direct chats are encrypted
        assert resources.formatted_body is not None
        assert "<strong>1 866 APPELLE</strong>" in resources.formatted_body
        dm_sophie = await sophie.wait_for_invite(within=5)
        await sophie.join(dm_sophie)
        alert = await sophie.wait_for(
            lambda s: s.room_id == dm_sophie and s.sender == bot.user_id, within=5
        )
        assert karim.user_id in alert.body
        assert alert.decrypted
        assert "4d9c" not in alert.body
        assert "sortie" not in alert.body
        # Measured up to the resources arriving at the person's client (DM invite and join
        # included): the issue asks for at most 2 s on a local homeserver.
        print(f"crisis resources seen after {elapsed * 1000:.0f} ms")
        assert elapsed < 2.0, elapsed
        # Nothing public: after a barrier message, the room holds no bot post after the crisis.
        barrier = await sophie.send(room, "!groupe info")
        await sophie.reply_to(room, barrier, bot.user_id)
        in_room = [s for s in sophie.seen if s.room_id == room and s.sender == bot.user_id]
        after_crisis = [s for s in in_room if s.reply_to != barrier and s.reply_to != created]
        assert after_crisis == [], [s.body for s in after_crisis]
        assert said  # the crisis message itself was delivered to the room
        counts = await bot.app.services.repos.safety.counts()
        assert (counts.total, counts.resources_sent, counts.alerts) == (1, 1, 1)
