"""The whole bot against a real Synapse: invites, help, permissions, usage lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.localserver import LocalSynapse
from tests.integration.conftest import Users, member, start_bot

pytestmark = pytest.mark.integration


async def test_allowlisted_invite_help_refusal_and_usage(
    synapse: LocalSynapse, users: Users, data_dir: Path
) -> None:
    async with (
        member(synapse, users, "sophie") as sophie,
        member(synapse, users, "karim") as karim,
        start_bot(synapse, users, data_dir, allowlist=[sophie.user_id]) as bot,
    ):
        room = await sophie.create_room("Équipe", invite=[bot.user_id, karim.user_id])
        await karim.wait_for_invite()
        await karim.join(room)
        await bot.wait_joined(room)

        asked = await karim.send(room, "!aide")
        help_text = await karim.reply_to(room, asked, bot.user_id)
        assert "!rejoindre" in help_text.body
        assert "!groupe creer" not in help_text.body  # a member sees member commands only
        assert help_text.msgtype == "m.notice"
        assert help_text.formatted_body is not None
        assert "<code>!rejoindre</code>" in help_text.formatted_body

        refused = await karim.send(room, "!groupe creer soutien")
        answer = await karim.reply_to(room, refused, bot.user_id)
        assert "réservée aux personnes qui animent" in answer.body

        created = await sophie.send(room, "!groupe creer soutien")
        answer = await sophie.reply_to(room, created, bot.user_id)
        assert "groupe de soutien est créé" in answer.body

        bad = await sophie.send(room, "!groupe langue klingon")
        answer = await sophie.reply_to(room, bad, bot.user_id)
        assert "« klingon »" in answer.body
        assert "Utilisation : !groupe langue <fr|en>" in answer.body

        joined = await karim.send(room, "!rejoindre")
        answer = await karim.reply_to(room, joined, bot.user_id)
        assert "Bienvenue" in answer.body
        assert await bot.app.services.repos.members.is_member(room, karim.user_id)


async def test_invite_from_outside_the_allowlist_is_refused(
    synapse: LocalSynapse, users: Users, data_dir: Path
) -> None:
    async with (
        member(synapse, users, "sophie") as sophie,
        member(synapse, users, "intrus") as intrus,
        start_bot(synapse, users, data_dir, allowlist=[sophie.user_id]) as bot,
    ):
        room = await intrus.create_room("Ailleurs", invite=[bot.user_id])
        ok_room = await sophie.create_room("Équipe", invite=[bot.user_id])
        await bot.wait_joined(ok_room)

        async def refused() -> None:
            while True:
                state = await intrus.client.room_get_state_event(room, "m.room.member", bot.user_id)
                if getattr(state, "content", {}).get("membership") == "leave":
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(refused(), 10)
        assert room not in bot.transport.joined_rooms()
