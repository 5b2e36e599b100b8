"""A real matrix-nio client playing a staff member, for `halte demo` and integration tests.

It syncs in the background and keeps what it saw, so a script can send a message and wait for
the bot's answer the way a person would: by watching the room.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    ReactionEvent,
    RoomCreateError,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)


@dataclass
class Seen:
    """One message as the member saw it."""

    room_id: str
    event_id: str
    sender: str
    body: str
    formatted_body: str | None
    msgtype: str
    reply_to: str | None
    content: dict[str, Any] = field(default_factory=dict)


class MemberClient:
    def __init__(
        self, homeserver: str, user_id: str, password: str, *, accept_invites_from: str = ""
    ) -> None:
        self.user_id = user_id
        # Invites from this user (the bot's direct chats) are accepted at once, as a person
        # would; others wait in `invites` for the script.
        self._accept_from = accept_invites_from
        self._password = password
        self.client = AsyncClient(homeserver, user_id)
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
            async with self._changed:
                for room_id, room in response.rooms.join.items():
                    for event in room.timeline.events:
                        if isinstance(event, RoomMessageText | RoomMessageNotice):
                            self.seen.append(_seen(room_id, event))
                        elif isinstance(event, ReactionEvent):
                            self.reactions.append(
                                (room_id, event.sender, event.reacts_to, event.key)
                            )
                for room_id, invited in response.rooms.invite.items():
                    senders = {
                        e.sender for e in invited.invite_state if isinstance(e, InviteMemberEvent)
                    }
                    if self._accept_from and self._accept_from in senders:
                        self.direct_rooms.add(room_id)
                        await self.client.join(room_id)
                    elif senders:
                        self.invites.append(room_id)
                self._changed.notify_all()

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
        response = await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body}
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


def _seen(room_id: str, event: RoomMessageText | RoomMessageNotice) -> Seen:
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
    )
