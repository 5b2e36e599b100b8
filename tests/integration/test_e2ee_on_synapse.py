"""Encrypted rooms on a real Synapse: the bot decrypts, answers encrypted, survives a restart,
and tells a sender privately when it cannot read them.

The staff member is an encryption-capable nio client with its own crypto store in `tmp_path`,
written here rather than `bot.member_client.MemberClient` so a test can reach nio's crypto
internals (an unshared session, a late key). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
    ToDeviceMessage,
    ToDeviceResponse,
)
from nio.store import SqliteStore

import bot.transports.matrix as matrix_transport
from bot.localserver import LocalSynapse
from bot.transports.matrix import CRYPTO_DIR, MEGOLM_ALGORITHM
from tests.integration.conftest import Users, start_bot

pytestmark = pytest.mark.integration

WAIT_S = 10.0
ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": MEGOLM_ALGORITHM},
}


@dataclass
class Seen:
    room_id: str
    event_id: str
    sender: str
    body: str
    reply_to: str | None
    decrypted: bool


class EncryptedMember:
    """A staff member on an encryption-capable nio client: keys uploaded, queried and claimed
    between syncs (as Element does), room keys shared with every device of the room."""

    def __init__(self, homeserver: str, user_id: str, password: str, store: Path) -> None:
        store.mkdir(mode=0o700, parents=True)
        config = AsyncClientConfig(encryption_enabled=True, store=SqliteStore)
        self.client = AsyncClient(homeserver, user_id, store_path=str(store), config=config)
        self.user_id = user_id
        self.accept_invites_from = ""
        self.seen: list[Seen] = []
        self._password = password
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EncryptedMember:
        response = await self.client.login(self._password, device_name="staff")
        assert isinstance(response, LoginResponse), response
        await self._upkeep()
        first = await self.client.sync(timeout=0, full_state=True)
        assert isinstance(first, SyncResponse), first
        self._task = asyncio.create_task(self._sync_loop(first.next_batch))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    async def _upkeep(self) -> None:
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _sync_loop(self, since: str) -> None:
        while True:
            response = await self.client.sync(timeout=500, since=since)
            if not isinstance(response, SyncResponse):
                await asyncio.sleep(0.1)
                continue
            since = response.next_batch
            await self._upkeep()
            for room_id, info in response.rooms.invite.items():
                inviters = {e.sender for e in info.invite_state if isinstance(e, InviteMemberEvent)}
                if self.accept_invites_from in inviters:
                    await self.client.join(room_id)
            async with self._changed:
                for room_id, joined in response.rooms.join.items():
                    for event in joined.timeline.events:
                        if isinstance(event, RoomMessageText | RoomMessageNotice):
                            relates = event.source.get("content", {}).get("m.relates_to") or {}
                            self.seen.append(
                                Seen(
                                    room_id,
                                    event.event_id,
                                    event.sender,
                                    event.body,
                                    (relates.get("m.in_reply_to") or {}).get("event_id"),
                                    bool(getattr(event, "decrypted", False)),
                                )
                            )
                        elif isinstance(event, MegolmEvent):
                            raise AssertionError(f"the member could not decrypt {event.event_id}")
                self._changed.notify_all()

    async def wait_until(self, condition: Callable[[], bool], within: float = WAIT_S) -> None:
        async def check() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        await asyncio.wait_for(check(), within)

    async def wait_for(self, predicate: Callable[[Seen], bool], within: float = WAIT_S) -> Seen:
        found: list[Seen] = []

        def match() -> bool:
            found.extend(s for s in self.seen if predicate(s))
            return bool(found)

        await self.wait_until(match, within)
        return found[0]

    async def knows_device(self, user_id: str, device_id: str) -> None:
        """Return once this client has `device_id`'s keys (so it shares room keys with it)."""
        await self.wait_until(lambda: device_id in self.client.device_store.devices(user_id))

    async def create_encrypted_room(self, invite: list[str]) -> str:
        response = await self.client.room_create(
            name="Soutien", invite=invite, initial_state=[ENCRYPTION_STATE]
        )
        assert isinstance(response, RoomCreateResponse), response
        return str(response.room_id)

    async def send(self, room_id: str, body: str) -> str:
        response = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body},
            ignore_unverified_devices=True,
        )
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def raw_type(self, homeserver: str, room_id: str, event_id: str) -> str:
        """The event's type as the homeserver stores it (nio would show it decrypted)."""
        url = (
            f"{homeserver}/_matrix/client/v3/rooms/{quote(room_id, safe='')}"
            f"/event/{quote(event_id, safe='')}"
        )
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as got:
            return str((await got.json())["type"])


@asynccontextmanager
async def encrypted_member(
    synapse: LocalSynapse, users: Users, tmp_path: Path, name: str
) -> AsyncIterator[EncryptedMember]:
    user_id, password = users.new(name)
    async with EncryptedMember(synapse.url, user_id, password, tmp_path / f"{name}-store") as m:
        yield m


async def _ask_help(member: EncryptedMember, room: str, bot_id: str) -> tuple[Seen, float]:
    started = time.monotonic()
    asked = await member.send(room, "!aide")
    reply = await member.wait_for(
        lambda s: s.room_id == room and s.sender == bot_id and s.reply_to == asked
    )
    return reply, time.monotonic() - started


async def test_encrypted_group_help_is_decrypted_answered_encrypted_and_survives_a_restart(
    synapse: LocalSynapse, users: Users, data_dir: Path, tmp_path: Path
) -> None:
    async with encrypted_member(synapse, users, tmp_path, "infirmiere") as alice:
        async with start_bot(synapse, users, data_dir, allowlist=[alice.user_id]) as bot:
            room = await alice.create_encrypted_room(invite=[bot.user_id])
            await bot.wait_joined(room)
            device = bot.transport.device_id
            assert device is not None
            await alice.knows_device(bot.user_id, device)

            reply, first_s = await _ask_help(alice, room, bot.user_id)
            assert "!rejoindre" in reply.body
            assert reply.decrypted
            assert await alice.raw_type(synapse.url, room, reply.event_id) == "m.room.encrypted"
            account = (bot.user_id, bot.password)

        crypto = data_dir / CRYPTO_DIR
        assert stat.S_IMODE(crypto.stat().st_mode) == 0o700
        files = [path for path in crypto.iterdir() if path.is_file()]
        assert any(path.name.endswith(f"_{device}.db") for path in files)
        assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)

        async with start_bot(
            synapse, users, data_dir, allowlist=[alice.user_id], account=account
        ) as restarted:
            await asyncio.wait_for(restarted.transport.wait_until_ready(), WAIT_S)
            assert restarted.transport.device_id == device
            reply, after_restart_s = await _ask_help(alice, room, bot.user_id)
            assert "!rejoindre" in reply.body
            assert reply.decrypted
            assert await alice.raw_type(synapse.url, room, reply.event_id) == "m.room.encrypted"
    # Key exchange included; the floor for an unencrypted round trip here is about 0.12 s.
    assert first_s < 5
    assert after_restart_s < 5


def _unshared_session(member: EncryptedMember, room: str) -> dict[str, Any]:
    """Give `member` a fresh room key marked as shared but sent to nobody: what a client that
    skipped the bot's device does. Returns the key, to hand over later if wanted."""
    olm = member.client.olm
    member.client.invalidate_outbound_session(room)
    olm.create_outbound_group_session(room)
    session = olm.outbound_group_sessions[room]
    session.shared = True
    return {
        "algorithm": MEGOLM_ALGORITHM,
        "room_id": room,
        "session_id": session.id,
        "session_key": session.session_key,
    }


async def test_unreadable_message_is_logged_and_its_sender_told_privately(
    synapse: LocalSynapse,
    users: Users,
    data_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(matrix_transport, "DECRYPT_GRACE_S", 0.2)
    caplog.set_level(logging.INFO, logger="bot")
    async with (
        encrypted_member(synapse, users, tmp_path, "preposee") as alice,
        start_bot(synapse, users, data_dir, allowlist=[alice.user_id]) as bot,
    ):
        alice.accept_invites_from = bot.user_id
        room = await alice.create_encrypted_room(invite=[bot.user_id])
        await bot.wait_joined(room)
        device = bot.transport.device_id
        assert device is not None
        await alice.knows_device(bot.user_id, device)

        _unshared_session(alice, room)
        secret = f"!aide {secrets.token_hex(6)}"
        unreadable = await alice.send(room, secret)
        notice = await alice.wait_for(
            lambda s: s.sender == bot.user_id and s.room_id != room and "clé" in s.body
        )
        assert "I couldn't read your message" in notice.body
        assert "Soutien" in notice.body  # the room, by name

        logged = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
        assert any(
            unreadable in line and room in line and "could not be decrypted" in line
            for line in logged
        )
        assert not any(secret in line for line in caplog.text.splitlines())

        # What the notice advises — sending again once keys are shared — works.
        alice.client.invalidate_outbound_session(room)
        reply, _ = await _ask_help(alice, room, bot.user_id)
        assert reply.decrypted


class _LogWatch(logging.Handler):
    """Sets `seen` when a log line containing `text` is emitted (on the event loop's thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.lines: list[str] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if self.text in line:
            self.lines.append(line)
            self.seen.set()


async def test_a_room_key_arriving_late_still_gets_the_message_answered(
    synapse: LocalSynapse,
    users: Users,
    data_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    async with (
        encrypted_member(synapse, users, tmp_path, "medecin") as alice,
        start_bot(synapse, users, data_dir, allowlist=[alice.user_id]) as bot,
    ):
        room = await alice.create_encrypted_room(invite=[bot.user_id])
        await bot.wait_joined(room)
        device = bot.transport.device_id
        assert device is not None
        await alice.knows_device(bot.user_id, device)

        key = _unshared_session(alice, room)
        unreadable = _LogWatch("could not be decrypted")
        logging.getLogger("bot.transports.matrix").addHandler(unreadable)
        try:
            asked = await alice.send(room, "!aide")
            await asyncio.wait_for(unreadable.seen.wait(), WAIT_S)
        finally:
            logging.getLogger("bot.transports.matrix").removeHandler(unreadable)
        assert asked in unreadable.lines[0]

        # The key comes late (as over federation): encrypted to the bot's device over Olm.
        client = alice.client
        missing = client.get_missing_sessions(room)
        if missing:
            await client.keys_claim(missing)
        bot_device = client.device_store[bot.user_id][device]
        olm_session = client.olm.session_store.get(bot_device.curve25519)
        payload = client.olm._olm_encrypt(olm_session, bot_device, "m.room_key", key)
        sent = await client.to_device(
            ToDeviceMessage("m.room.encrypted", bot.user_id, device, payload)
        )
        assert isinstance(sent, ToDeviceResponse), sent

        reply = await alice.wait_for(
            lambda s: s.room_id == room and s.sender == bot.user_id and s.reply_to == asked
        )
        assert "!rejoindre" in reply.body
        assert any("decrypted once its key came" in r.getMessage() for r in caplog.records)
