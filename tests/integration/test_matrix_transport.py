"""The Matrix transport against a real Synapse, with real matrix-nio clients as room members.

Every wait is bounded (`asyncio.wait_for`, a few seconds): a missing event fails the test
quickly instead of hanging it, and nothing sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    MemoryDownloadResponse,
    ReactionEvent,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomMemberEvent,
    RoomMessageFile,
    RoomMessageNotice,
    RoomPreset,
    RoomSendResponse,
)

from bot.config import MatrixSettings
from bot.localserver import LocalSynapse
from bot.messages import (
    Direct,
    DirectFile,
    Incoming,
    Membership,
    MembershipChange,
    Message,
    React,
    Reaction,
    Text,
)
from bot.transports import MODERATOR_POWER_LEVEL
from bot.transports.matrix import CREDENTIALS_FILE, MatrixTransport

pytestmark = pytest.mark.integration

WAIT_S = 5.0


class MemoryStore:
    """The transport's persistent state, in memory (the app keeps it in SQLite)."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.directs: dict[str, str] = {}

    async def load_sync_token(self) -> str | None:
        return self.token

    async def save_sync_token(self, token: str) -> None:
        self.token = token

    async def direct_room(self, user_id: str) -> str | None:
        return self.directs.get(user_id)

    async def save_direct_room(self, user_id: str, room_id: str) -> None:
        self.directs[user_id] = room_id


@dataclass
class Bot:
    """A running transport and everything its handler received."""

    transport: MatrixTransport
    task: asyncio.Task[None]
    received: asyncio.Queue[Incoming] = field(default_factory=asyncio.Queue)

    async def next(self, room_id: str, kind: type | tuple[type, ...] = object) -> Any:
        """The next value of `kind` in `room_id`; values of other kinds there are skipped."""

        async def find() -> Incoming:
            while True:
                value = await self.received.get()
                if value.room_id == room_id and isinstance(value, kind):
                    return value

        return await asyncio.wait_for(find(), WAIT_S)

    async def stop(self) -> None:
        await self.transport.stop()
        await asyncio.wait_for(self.task, WAIT_S)


@dataclass
class BotAccount:
    user_id: str
    password: str


StartBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
def bot_account(users: Any) -> BotAccount:
    return BotAccount(*users.new("halte"))


@pytest.fixture
async def start_bot(
    synapse: LocalSynapse, bot_account: BotAccount, data_dir: Path
) -> AsyncIterator[StartBot]:
    """Start the transport in a background task; every bot started is stopped at teardown."""
    running: list[Bot] = []

    async def start(
        *,
        allowlist: list[str],
        store: MemoryStore | None = None,
        access_token: str | None = None,
        fail_on: str | None = None,
        encrypt_direct_rooms: bool = True,
    ) -> Bot:
        settings = MatrixSettings(
            homeserver=synapse.url,
            user_id=bot_account.user_id,
            password=None if access_token else bot_account.password,
            access_token=access_token,
            invite_allowlist=allowlist,
            encrypt_direct_rooms=encrypt_direct_rooms,
        )
        transport = MatrixTransport(settings, data_dir, store or MemoryStore())
        queue: asyncio.Queue[Incoming] = asyncio.Queue()

        async def handler(value: Incoming) -> None:
            if isinstance(value, Message) and value.body == fail_on:
                raise RuntimeError("a bug in the handler")
            await queue.put(value)

        task = asyncio.create_task(transport.run(handler))
        bot = Bot(transport, task, queue)
        running.append(bot)
        ready = asyncio.ensure_future(transport.wait_until_ready())
        done, _ = await asyncio.wait((ready, task), timeout=10, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if task in done:
            task.result()  # raises what made run() end
        assert ready in done, "the transport did not finish its first sync"
        return bot

    yield start
    for bot in running:
        if not bot.task.done():
            await bot.stop()


@pytest.fixture
async def member(
    synapse: LocalSynapse, users: Any
) -> AsyncIterator[Callable[[str], Awaitable[AsyncClient]]]:
    """Log in fresh users as plain nio clients (the people in the room)."""
    clients: list[AsyncClient] = []

    async def make(name: str) -> AsyncClient:
        user_id, password = users.new(name)
        client = AsyncClient(
            synapse.url, user_id, config=AsyncClientConfig(encryption_enabled=False)
        )
        clients.append(client)
        assert isinstance(await client.login(password), LoginResponse)
        await client.sync(timeout=0)  # start the member's own timeline from now
        return client

    yield make
    for client in clients:
        await client.close()


async def create_room(client: AsyncClient, invite: list[str]) -> str:
    response = await client.room_create(invite=invite)
    assert isinstance(response, RoomCreateResponse), response
    return str(response.room_id)


async def say(client: AsyncClient, room_id: str, body: str) -> str:
    response = await client.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": body}
    )
    assert isinstance(response, RoomSendResponse), response
    return str(response.event_id)


async def join(client: AsyncClient, room_id: str) -> None:
    response = await client.join(room_id)
    assert getattr(response, "room_id", None) == room_id, response


async def seen_by(
    client: AsyncClient, predicate: Callable[[str, Any], bool], *, section: str = "join"
) -> tuple[str, Any]:
    """Sync `client` until an event in `section` (join, leave or invite) matches; bounded."""

    async def find() -> tuple[str, Any]:
        while True:
            response = await client.sync(timeout=1000)
            rooms = getattr(response.rooms, section)
            for room_id, info in rooms.items():
                events = info.invite_state if section == "invite" else info.timeline.events
                for event in events:
                    if predicate(room_id, event):
                        return room_id, event

    return await asyncio.wait_for(find(), WAIT_S)


def is_member_event(
    user_id: str, membership: str, room: str | None = None
) -> Callable[[str, Any], bool]:
    def check(room_id: str, event: Any) -> bool:
        return (
            isinstance(event, RoomMemberEvent)
            and event.state_key == user_id
            and event.membership == membership
            and (room is None or room_id == room)
        )

    return check


async def test_joins_allowlisted_inviter_room_and_rejects_others(
    start_bot: StartBot, member: Any, bot_account: BotAccount
) -> None:
    alice = await member("alice")
    mallory = await member("mallory")
    bot_id = bot_account.user_id
    # Invited before the bot ever ran: a pending invite, handled by the first sync. The room's
    # history from before the bot joined must not reach the handler.
    room = await create_room(alice, [bot_id])
    await say(alice, room, "said before the bot joined")

    bot = await start_bot(allowlist=[alice.user_id])

    joined = await bot.next(room, Membership)
    assert (joined.user_id, joined.change) == (bot_id, MembershipChange.JOIN)
    await say(alice, room, "after")
    assert (await bot.next(room, Message)).body == "after"

    # Same server as alice, but only alice's full id is allowlisted.
    other = await create_room(mallory, [bot_id])
    await seen_by(mallory, is_member_event(bot_id, "leave", other))
    assert bot.transport.power_level(other, mallory.user_id) == 0
    await say(alice, room, "marker")
    assert (await bot.next(room, Message)).body == "marker"
    assert bot.received.empty()  # nothing came from the rejected room


async def test_member_text_and_reaction_reach_the_handler(
    start_bot: StartBot, member: Any, bot_account: BotAccount
) -> None:
    alice = await member("alice")
    bob = await member("bob")
    bot = await start_bot(allowlist=[alice.user_id])
    room = await create_room(alice, [bot_account.user_id, bob.user_id])
    await join(bob, room)
    await bot.next(room, Membership)  # the bot's own join comes first

    before = datetime.now(UTC)
    event_id = await say(alice, room, "!checkin")
    message = await bot.next(room, Message)
    assert (message.event_id, message.sender, message.body) == (event_id, alice.user_id, "!checkin")
    assert not message.is_direct  # three members
    assert message.timestamp.tzinfo is UTC
    assert abs(message.timestamp - before) < timedelta(seconds=10)

    response = await alice.room_send(
        room,
        "m.reaction",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": "👍"}},
    )
    reaction = await bot.next(room, Reaction)
    assert reaction == Reaction(
        event_id=response.event_id,
        room_id=room,
        sender=alice.user_id,
        target_event_id=event_id,
        key="👍",
        timestamp=reaction.timestamp,
    )

    # Room version 12: the creator outranks every power level without being listed in them.
    assert bot.transport.power_level(room, alice.user_id) >= MODERATOR_POWER_LEVEL
    assert bot.transport.power_level(room, bob.user_id) == 0
    assert bot.transport.power_level("!unknown:localhost", alice.user_id) == 0


async def test_bot_sends_notices_with_html_and_never_hears_itself(
    start_bot: StartBot, member: Any, bot_account: BotAccount
) -> None:
    alice = await member("alice")
    bot = await start_bot(allowlist=[alice.user_id])
    room = await create_room(alice, [bot_account.user_id])
    await bot.next(room, Membership)
    question = await say(alice, room, "!help")
    await bot.next(room, Message)

    html = "<b>Aide</b> / <i>help</i> &lt;script&gt;"
    sent = await bot.transport.send(
        Text(room_id=room, body="Aide / help", html=html, reply_to=question)
    )
    _, notice = await seen_by(alice, lambda r, e: isinstance(e, RoomMessageNotice))
    assert notice.event_id == sent
    assert notice.sender == bot_account.user_id
    assert (notice.body, notice.format, notice.formatted_body) == (
        "Aide / help",
        "org.matrix.custom.html",
        html,
    )
    assert notice.source["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": question}}

    reacted = await bot.transport.send(React(room_id=room, event_id=question, emoji="✅"))
    _, reaction = await seen_by(alice, lambda r, e: isinstance(e, ReactionEvent))
    assert (reaction.event_id, reaction.reacts_to, reaction.key) == (reacted, question, "✅")

    # The same key twice is one message: the transaction id comes from the key.
    keyed = Text(room_id=room, body="Round 1", key="checkin:1:round:1")
    assert await bot.transport.send(keyed) == await bot.transport.send(keyed)

    # None of the bot's own events came back: the next thing the handler sees is alice's.
    await say(alice, room, "marker")
    assert (await bot.next(room)).body == "marker"


async def test_direct_opens_a_direct_room_and_reuses_it(
    start_bot: StartBot, member: Any, bot_account: BotAccount
) -> None:
    """With `encrypt_direct_rooms` off (a server that forbids encryption), a plain client
    reads the bot's direct chat; the person still gets no power there."""
    alice = await member("alice")
    store = MemoryStore()
    bot = await start_bot(allowlist=[alice.user_id], store=store, encrypt_direct_rooms=False)

    first = await bot.transport.send(Direct(user_id=alice.user_id, body="Bonjour / Hello"))
    room = store.directs[alice.user_id]
    _, invite = await seen_by(
        alice,
        lambda r, e: isinstance(e, InviteMemberEvent) and e.state_key == alice.user_id,
        section="invite",
    )
    assert invite.content.get("is_direct") is True
    assert invite.sender == bot_account.user_id
    await join(alice, room)
    _, notice = await seen_by(alice, lambda r, e: isinstance(e, RoomMessageNotice) and r == room)
    assert (notice.event_id, notice.body) == (first, "Bonjour / Hello")

    await say(alice, room, "merci")
    reply = await bot.next(room, Message)
    assert (reply.body, reply.is_direct) == ("merci", True)

    second = await bot.transport.send(Direct(user_id=alice.user_id, body="Encore / Again"))
    _, notice = await seen_by(alice, lambda r, e: isinstance(e, RoomMessageNotice))
    assert notice.event_id == second
    assert store.directs == {alice.user_id: room}
    encryption = await alice.room_get_state_event(room, "m.room.encryption")
    assert not isinstance(encryption, RoomGetStateEventResponse), encryption
    assert bot.transport.power_level(room, alice.user_id) == 0

    # A file in a room that is not encrypted: uploaded as is, its address in clear.
    data = '{"texte": "données"}'.encode()
    posted = await bot.transport.send(
        DirectFile(alice.user_id, "donnees.json", "application/json", data, key="file:1")
    )
    _, file = await seen_by(alice, lambda r, e: isinstance(e, RoomMessageFile) and r == room)
    assert (file.event_id, file.body) == (posted, "donnees.json")
    content = file.source["content"]
    assert content["info"] == {"mimetype": "application/json", "size": len(data)}
    assert "file" not in content
    downloaded = await alice.download(mxc=file.url)
    assert isinstance(downloaded, MemoryDownloadResponse), downloaded
    assert downloaded.body == data


async def test_a_direct_room_recorded_before_keeps_being_used(
    start_bot: StartBot, member: Any, bot_account: BotAccount
) -> None:
    """A direct room opened by an earlier version (`trusted_private_chat`, not encrypted) and
    recorded in the database is still where the bot writes: nothing is re-created or moved."""
    alice = await member("alice")
    store = MemoryStore()
    bot = await start_bot(allowlist=[alice.user_id], store=store)
    created = await bot.transport._client.room_create(
        is_direct=True, invite=[alice.user_id], preset=RoomPreset.trusted_private_chat
    )
    assert isinstance(created, RoomCreateResponse), created
    legacy = str(created.room_id)
    store.directs[alice.user_id] = legacy
    await join(alice, legacy)

    sent = await bot.transport.send(Direct(user_id=alice.user_id, body="Toujours là / Still here"))
    _, notice = await seen_by(alice, lambda r, e: isinstance(e, RoomMessageNotice) and r == legacy)
    assert (notice.event_id, notice.body) == (sent, "Toujours là / Still here")
    assert store.directs == {alice.user_id: legacy}


async def test_restart_keeps_the_device_and_does_not_replay(
    start_bot: StartBot, member: Any, bot_account: BotAccount, data_dir: Path
) -> None:
    alice = await member("alice")
    store = MemoryStore()
    bot = await start_bot(allowlist=[alice.user_id], store=store)
    room = await create_room(alice, [bot_account.user_id])
    await bot.next(room, Membership)
    await say(alice, room, "one")
    assert (await bot.next(room, Message)).body == "one"
    device = bot.transport.device_id
    started = time.monotonic()
    await bot.stop()  # interrupts the 30 s long poll
    assert time.monotonic() - started < 2

    credentials = data_dir / CREDENTIALS_FILE
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    saved = json.loads(credentials.read_text())
    assert (saved["user_id"], saved["device_id"]) == (bot_account.user_id, device)

    await say(alice, room, "two, while the bot was down")
    restarted = await start_bot(allowlist=[alice.user_id], store=store)
    assert restarted.transport.device_id == device
    await say(alice, room, "three")
    bodies = [(await restarted.next(room, Message)).body for _ in range(2)]
    assert bodies == ["two, while the bot was down", "three"]
    # Power levels are known right after a restart: the first sync asks for the full state.
    assert restarted.transport.power_level(room, alice.user_id) >= MODERATOR_POWER_LEVEL


async def test_backlog_before_the_first_sync_is_ignored(
    start_bot: StartBot, member: Any, bot_account: BotAccount
) -> None:
    alice = await member("alice")
    bot = await start_bot(allowlist=[alice.user_id])
    room = await create_room(alice, [bot_account.user_id])
    await bot.next(room, Membership)
    await bot.stop()

    await say(alice, room, "!old command, typed while no bot was listening")
    # A fresh database (no sync token), same account and room.
    fresh = await start_bot(allowlist=[alice.user_id], store=MemoryStore())
    await say(alice, room, "new")
    got = await fresh.next(room)
    assert got.body == "new"


async def test_kicked_bot_reports_leaving(
    start_bot: StartBot, member: Any, bot_account: BotAccount
) -> None:
    alice = await member("alice")
    bot = await start_bot(allowlist=[alice.user_id])
    room = await create_room(alice, [bot_account.user_id])
    await bot.next(room, Membership)
    await alice.room_kick(room, bot_account.user_id)
    left = await bot.next(room, Membership)
    assert (left.user_id, left.change) == (bot_account.user_id, MembershipChange.LEAVE)
    assert bot.transport.power_level(room, alice.user_id) == 0


async def test_access_token_login_learns_the_device(
    start_bot: StartBot, synapse: LocalSynapse, bot_account: BotAccount, data_dir: Path
) -> None:
    localpart = bot_account.user_id[1:].split(":", 1)[0]
    token, device = synapse.login(localpart, bot_account.password)
    bot = await start_bot(allowlist=[], access_token=token)
    assert bot.transport.device_id == device
    # Only a password login writes credentials: a configured token stays in the configuration.
    assert not (data_dir / CREDENTIALS_FILE).exists()


async def test_handler_failure_is_logged_by_event_id_and_the_loop_goes_on(
    start_bot: StartBot,
    member: Any,
    bot_account: BotAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = await member("alice")
    bot = await start_bot(allowlist=[alice.user_id], fail_on="private words")
    room = await create_room(alice, [bot_account.user_id])
    await bot.next(room, Membership)
    failing = await say(alice, room, "private words")
    await say(alice, room, "next")
    assert (await bot.next(room, Message)).body == "next"
    failures = [r for r in caplog.records if r.name == "bot.transports.matrix" and r.levelno >= 40]
    assert [r.getMessage().split(" — ")[0] for r in failures] == [
        f"handler failed on event {failing} in room {room}"
    ]
    assert "RuntimeError" in failures[0].getMessage()
    assert "private words" not in caplog.text


async def test_power_levels_in_a_room_version_without_privileged_creators(
    start_bot: StartBot, member: Any, bot_account: BotAccount
) -> None:
    alice = await member("alice")
    bot = await start_bot(allowlist=[alice.user_id])
    response = await alice.room_create(invite=[bot_account.user_id], room_version="10")
    assert isinstance(response, RoomCreateResponse), response
    room = response.room_id
    await bot.next(room, Membership)
    assert bot.transport.power_level(room, alice.user_id) == 100
    assert bot.transport.power_level(room, bot_account.user_id) == 0
