"""The bot's direct chats on a real Synapse: encrypted, no power for the person, and the
`!mes-donnees` export arriving there as a real JSON file, encrypted too.

The staff member is an encryption-capable `MemberClient` (its own crypto store, keys uploaded
between syncs, as Element does). Every wait is bounded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from nio import RoomGetStateEventResponse

from bot.localserver import LocalSynapse
from bot.member_client import MemberClient, Seen
from bot.messages import Direct
from bot.transports.matrix import MEGOLM_ALGORITHM
from stockage.events import TransportStateRepository
from tests.integration.conftest import RunningBot, Users, member, start_bot

pytestmark = pytest.mark.integration

WITHIN = 10.0
PARKED = "Le formulaire de congé « férié » ne s'ouvre pas 5b1e"


async def state(client: MemberClient, room: str, event_type: str) -> dict[str, Any] | None:
    """One state event's content as the homeserver holds it; None when the room has none."""
    response = await client.client.room_get_state_event(room, event_type)
    if not isinstance(response, RoomGetStateEventResponse):
        return None
    content: dict[str, Any] = response.content
    return content


async def direct_room(client: MemberClient, bot: RunningBot) -> str:
    """The direct room the bot opened with `client` (its invite accepted at once)."""
    await client.wait_until(lambda: bool(client.direct_rooms), WITHIN)
    (room,) = client.direct_rooms
    recorded = TransportStateRepository(bot.app.services.db)
    assert await recorded.direct_room(client.user_id) == room
    return room


def from_bot_in(room: str, bot: RunningBot) -> Any:
    return lambda seen: seen.room_id == room and seen.sender == bot.user_id


async def test_a_direct_chat_is_encrypted_gives_the_person_no_power_and_reads_both_ways(
    synapse: LocalSynapse, users: Users, data_dir: Path
) -> None:
    async with (
        start_bot(synapse, users, data_dir, allowlist=[]) as bot,
        member(synapse, users, "infirmiere", accept_invites_from=bot.user_id) as alice,
    ):
        assert alice.encrypted
        sent = await bot.transport.send(Direct(user_id=alice.user_id, body="Bonjour 3c7a"))
        room = await direct_room(alice, bot)
        hello = await alice.wait_for(from_bot_in(room, bot), WITHIN)
        assert hello.event_id == sent
        assert hello.body == "Bonjour 3c7a"
        assert hello.decrypted  # it came encrypted, and the member's client opened it

        encryption = await state(alice, room, "m.room.encryption")
        assert encryption == {"algorithm": MEGOLM_ALGORITHM}
        levels = await state(alice, room, "m.room.power_levels")
        assert levels is not None
        assert levels.get("users_default", 0) == 0
        assert alice.user_id not in levels.get("users", {})
        create = await state(alice, room, "m.room.create")
        assert create is not None
        # From room version 12, `trusted_private_chat` made the invitee a creator.
        assert alice.user_id not in create.get("additional_creators", [])

        # The person writes back in the encrypted chat: the bot reads and answers there,
        # and, as the bot sees the room, they are no moderator.
        asked = await alice.send(room, "!aide")
        answer = await alice.reply_to(room, asked, bot.user_id, within=WITHIN)
        assert answer.decrypted
        assert "!rejoindre" in answer.body
        assert bot.transport.power_level(room, alice.user_id) == 0
        assert not bot.app.services.is_moderator(room, alice.user_id)


async def test_my_data_arrives_as_an_encrypted_json_file_in_the_direct_chat(
    synapse: LocalSynapse, users: Users, data_dir: Path
) -> None:
    async with (
        member(synapse, users, "sophie") as sophie,
        member(synapse, users, "karim") as karim,
        start_bot(synapse, users, data_dir, allowlist=[sophie.user_id]) as bot,
    ):
        karim.accept_invites_from = bot.user_id
        group = await sophie.create_room("Soutien", invite=[bot.user_id, karim.user_id])
        await karim.wait_for_invite(within=WITHIN)
        await karim.join(group)
        await bot.wait_joined(group)
        created = await sophie.send(group, "!groupe creer soutien")
        await sophie.reply_to(group, created, bot.user_id, within=WITHIN)
        joined = await karim.send(group, "!rejoindre")
        await karim.reply_to(group, joined, bot.user_id, within=WITHIN)
        parked = await karim.send(group, f"!stationner {PARKED}")
        await karim.reply_to(group, parked, bot.user_id, within=WITHIN)

        started = time.monotonic()
        asked = await karim.send(group, "!mes-donnees")
        note = await karim.reply_to(group, asked, bot.user_id, within=WITHIN)
        assert note.body == "Je t'ai envoyé tes données en privé. 📬"
        room = await direct_room(karim, bot)
        file = await karim.wait_for(
            lambda s: from_bot_in(room, bot)(s) and s.msgtype == "m.file", WITHIN
        )
        elapsed = time.monotonic() - started
        texts = [s for s in karim.seen if from_bot_in(room, bot)(s) and s is not file]
        assert texts
        assert all(s.msgtype == "m.notice" and s.decrypted for s in texts)
        assert f"fichier {file.body}" in texts[-1].body  # the text announces the file

        assert file.decrypted
        assert file.body.startswith("halte-mes-donnees-")
        assert file.body.endswith(".json")
        assert file.content["filename"] == file.body
        # Encrypted room: the file's key rides inside the encrypted event, no clear url.
        assert "url" not in file.content
        assert file.content["file"]["url"].startswith("mxc://")
        info = file.content["info"]
        assert info["mimetype"] == "application/json"

        data = await karim.download(file)
        assert len(data) == info["size"]
        document = json.loads(data.decode("utf-8"))
        assert document["format"] == "halte-export/1"
        assert document["user_id"] == karim.user_id
        assert [i["text"] for i in document["parked_items"]] == [PARKED]
        assert document["direct_room"] is None or document["direct_room"] == room
        # What the homeserver stores is ciphertext: the parked text is not in it.
        raw = await _raw_download(karim, file)
        assert PARKED.encode() not in raw
        assert b"halte-export" not in raw
        print(f"export text and file seen after {elapsed * 1000:.0f} ms")
        # Sophie got nothing private.
        assert not sophie.direct_rooms


async def _raw_download(client: MemberClient, file: Seen) -> bytes:
    """The stored bytes of an encrypted file, not decrypted."""
    response = await client.client.download(mxc=file.content["file"]["url"])
    return bytes(response.body)
