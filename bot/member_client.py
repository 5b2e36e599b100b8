"""A real matrix-nio client playing a staff member, for `halte demo` and integration tests.

It syncs in the background and keeps what it saw, so a script can send a message and wait for
the bot's answer the way a person would: by watching the room.

With a `store_dir` it is encryption-capable, as Element is: its keys are uploaded, queried and
claimed between syncs, encrypted messages are decrypted, and a file sent encrypted is
decrypted on download. The bot's direct chats are encrypted, so a person reading them needs
that; without it, the client is plain (and cannot read them).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MemoryDownloadResponse,
    ReactionEvent,
    RoomCreateError,
    RoomCreateResponse,
    RoomEncryptedFile,
    RoomMessageFile,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from nio.crypto import decrypt_attachment
from nio.store import SqliteStore

# What the member keeps of each message event: texts, notices, and files.
_SHOWN = (RoomMessageText, RoomMessageNotice, RoomMessageFile, RoomEncryptedFile)


@dataclass
class Seen:
    """One message as the member saw it (a file's `body` is its name, per the spec)."""

    room_id: str
    event_id: str
    sender: str
    body: str
    formatted_body: str | None
    msgtype: str
    reply_to: str | None
    content: dict[str, Any] = field(default_factory=dict)
    # Whether it came encrypted and the member's client decrypted it.
    decrypted: bool = False


class MemberClient:
    def __init__(
        self,
        homeserver: str,
        user_id: str,
        password: str,
        *,
        accept_invites_from: str = "",
        store_dir: Path | None = None,
    ) -> None:
        self.user_id = user_id
        # Invites from this user (the bot's direct chats) are accepted at once, as a person
        # would; others wait in `invites` for the script.
        self.accept_invites_from = accept_invites_from
        self._password = password
        if store_dir is None:
            # No store path: nio loads no crypto store, so the client is plain.
            self.client = AsyncClient(homeserver, user_id)
        else:
            store_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            config = AsyncClientConfig(encryption_enabled=True, store=SqliteStore)
            self.client = AsyncClient(homeserver, user_id, store_path=str(store_dir), config=config)
        self.seen: list[Seen] = []
        # Reactions seen: (room, sender, reacted event, key).
        self.reactions: list[tuple[str, str, str, str]] = []
        self.invites: list[str] = []
        self.direct_rooms: set[str] = set()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MemberClient:
        response = await self.client.login(self._password, device_name="demo")
        if not isinstance(response, LoginResponse):
            raise RuntimeError(f"login failed for {self.user_id}: {response}")
        # Keys up before anything else, so the bot can share room keys with this device.
        await self._crypto_upkeep()
        first = await self.client.sync(timeout=0, full_state=True)
        if not isinstance(first, SyncResponse):
            raise RuntimeError(f"first sync failed for {self.user_id}: {first}")
        self._task = asyncio.create_task(self._sync_loop(first.next_batch))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    async def _sync_loop(self, since: str) -> None:
        while True:
            response = await self.client.sync(timeout=1000, since=since)
            if not isinstance(response, SyncResponse):
                await asyncio.sleep(0.2)
                continue
            since = response.next_batch
            await self._crypto_upkeep()
            async with self._changed:
                for room_id, room in response.rooms.join.items():
                    for event in room.timeline.events:
                        if isinstance(event, _SHOWN):
                            self.seen.append(_seen(room_id, event))
                        elif isinstance(event, ReactionEvent):
                            self.reactions.append(
                                (room_id, event.sender, event.reacts_to, event.key)
                            )
                for room_id, invited in response.rooms.invite.items():
                    senders = {
                        e.sender for e in invited.invite_state if isinstance(e, InviteMemberEvent)
                    }
                    if self.accept_invites_from and self.accept_invites_from in senders:
                        self.direct_rooms.add(room_id)
                        await self.client.join(room_id)
                    elif senders:
                        self.invites.append(room_id)
                self._changed.notify_all()

    @property
    def encrypted(self) -> bool:
        """Whether this client can decrypt (it was given a crypto store)."""
        return self.client.olm is not None

    async def _crypto_upkeep(self) -> None:
        """What Element does between syncs: upload keys, learn others' devices, open Olm
        sessions, send queued to-device messages. Nothing for a plain client."""
        client = self.client
        if client.olm is None:
            return
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def download(self, seen: Seen) -> bytes:
        """The content of a file message, decrypted if it was sent encrypted."""
        content = seen.content
        encrypted = content.get("file")
        url = encrypted["url"] if isinstance(encrypted, dict) else content.get("url")
        if not isinstance(url, str):
            raise RuntimeError(f"{seen.event_id} carries no file")
        response = await self.client.download(mxc=url)
        if not isinstance(response, MemoryDownloadResponse):
            raise RuntimeError(f"download failed: {response}")
        if not isinstance(encrypted, dict):
            return bytes(response.body)
        return bytes(
            decrypt_attachment(
                response.body,
                encrypted["key"]["k"],
                encrypted["hashes"]["sha256"],
                encrypted["iv"],
            )
        )

    async def wait_until(self, condition: Any, within: float = 10.0) -> None:
        """Return once `condition()` holds, checked after every sync."""

        async def check() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        await asyncio.wait_for(check(), within)

    async def wait_for(self, predicate: Any, within: float = 10.0) -> Seen:
        """The first message seen (past or future) for which `predicate(seen)` is true."""

        async def find() -> Seen:
            async with self._changed:
                while True:
                    for seen in self.seen:
                        if predicate(seen):
                            return seen
                    await self._changed.wait()

        return await asyncio.wait_for(find(), within)

    async def wait_for_invite(self, within: float = 10.0) -> str:
        async def find() -> str:
            async with self._changed:
                while not self.invites:
                    await self._changed.wait()
                return self.invites.pop(0)

        return await asyncio.wait_for(find(), within)

    async def create_room(self, name: str, invite: list[str]) -> str:
        response = await self.client.room_create(name=name, invite=invite)
        if isinstance(response, RoomCreateError) or not isinstance(response, RoomCreateResponse):
            raise RuntimeError(f"room creation failed: {response}")
        return str(response.room_id)

    async def join(self, room_id: str) -> None:
        response = await self.client.join(room_id)
        if isinstance(response, JoinError):
            raise RuntimeError(f"join failed: {response}")

    async def send(self, room_id: str, body: str) -> str:
        # nio must know the room (from a sync) to tell whether to encrypt: right after a join
        # it may not yet, and it then refuses to send at all.
        await self.wait_until(lambda: room_id in self.client.rooms)
        # In an encrypted room, every member device gets the key, as Element does by default.
        response = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body},
            ignore_unverified_devices=True,
        )
        if not isinstance(response, RoomSendResponse):
            raise RuntimeError(f"send failed: {response}")
        return str(response.event_id)

    async def edit(self, room_id: str, event_id: str, body: str) -> str:
        """Correct one's own message, as clients do: an `m.replace` with the new text.

        The `* ` fallback body is what clients without edit support show.
        """
        content = {
            "msgtype": "m.text",
            "body": f"* {body}",
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }
        response = await self.client.room_send(room_id, "m.room.message", content)
        if not isinstance(response, RoomSendResponse):
            raise RuntimeError(f"edit failed: {response}")
        return str(response.event_id)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        response = await self.client.room_send(room_id, "m.reaction", content)
        if not isinstance(response, RoomSendResponse):
            raise RuntimeError(f"reaction failed: {response}")
        return str(response.event_id)

    async def reply_to(
        self, room_id: str, event_id: str, sender: str, within: float = 10.0
    ) -> Seen:
        """The message `sender` posted in reply to `event_id`."""
        return await self.wait_for(
            lambda s: s.room_id == room_id and s.sender == sender and s.reply_to == event_id,
            within,
        )


def _seen(room_id: str, event: Any) -> Seen:
    # For a decrypted event nio's `source` is the decrypted payload: its content is readable.
    content = event.source.get("content", {})
    relates = content.get("m.relates_to") or {}
    reply = (relates.get("m.in_reply_to") or {}).get("event_id")
    return Seen(
        room_id=room_id,
        event_id=event.event_id,
        sender=event.sender,
        body=event.body,
        formatted_body=getattr(event, "formatted_body", None),
        msgtype=content.get("msgtype", ""),
        reply_to=reply,
        content=content,
        decrypted=bool(getattr(event, "decrypted", False)),
    )
