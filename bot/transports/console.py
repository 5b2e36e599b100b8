"""The console transport: the whole bot in a terminal, one room, no homeserver.

You type as a member; `/en-tant-que NOM` switches who is speaking. It is also the fast path for
unit tests: `say()` feeds one message through the real dispatcher and returns what the bot sent.

A file the bot sends privately (the `!mes-donnees` export) is shown by name and size; with
`files_dir` it is also written there, owner-only, so the person at the terminal can open it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.i18n import text
from bot.messages import Direct, DirectFile, Message, Outgoing, React, Reaction, Text
from bot.transports import IncomingHandler

CONSOLE_ROOM = "!salle:console"
CONSOLE_SERVER = "console"
BOT_ID = "@halte:console"
SWITCH_SPEAKER = ("/en-tant-que", "/as")
REACT = ("/reagir", "/react")
QUIT = ("/quitter-console", "/quit-console")


def console_user(name: str) -> str:
    """`marie` → `@marie:console`; a full id is kept as is."""
    name = name.strip()
    return name if name.startswith("@") else f"@{name.lower()}:{CONSOLE_SERVER}"


class ConsoleTransport:
    def __init__(
        self,
        *,
        moderators: set[str] | None = None,
        clock: Clock | None = None,
        speaker: str = "@marie:console",
        write: Callable[[str], None] | None = None,
        language: str = "fr",
        files_dir: Path | None = None,
    ) -> None:
        self.language = language
        self.files_dir = files_dir
        self.room_id = CONSOLE_ROOM
        self.moderators = set(moderators or ())
        self.speaker = speaker
        self.sent: list[Outgoing] = []
        self._keyed: dict[str, str] = {}
        self.other_rooms: set[str] = set()
        self.last_event_id: str | None = None
        # What was said, in memory only, so that a 🅿️ reaction can park a message's text
        # as the Matrix transport fetches it from the homeserver.
        self._recent: dict[str, str] = {}
        self._clock = clock or SystemClock()
        self._write = write
        self._ids = itertools.count(1)
        self._handler: IncomingHandler | None = None
        self._stopping = asyncio.Event()

    @property
    def user_id(self) -> str:
        return BOT_ID

    def power_level(self, room_id: str, user_id: str) -> int:
        return 100 if user_id in self.moderators else 0

    def users_with_power(self, room_id: str, level: int) -> list[str]:
        return sorted(self.moderators) if level <= 100 else []

    async def send(self, out: Outgoing) -> str | None:
        # Like a homeserver with transaction ids: a keyed post sent again is not shown again.
        if out.key is not None and out.key in self._keyed:
            return self._keyed[out.key]
        self.sent.append(out)
        saved = self._save(out) if isinstance(out, DirectFile) else None
        if self._write is not None:
            self._write(self.show(out, saved))
        event_id = f"$out{next(self._ids)}"
        if out.key is not None:
            self._keyed[out.key] = event_id
        return event_id

    def _save(self, out: DirectFile) -> Path | None:
        """Write a private file into `files_dir`, if set; where it went.

        It holds one person's data: the directory and the file are owner-only, and only the
        last part of the name is used, so a name can never point elsewhere.
        """
        if self.files_dir is None:
            return None
        self.files_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.files_dir / Path(out.filename).name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(out.data)
        return path

    def show(self, out: Outgoing, saved: Path | None = None) -> str:
        """How a person at the terminal sees one outgoing value (`saved`: where a file went)."""
        if isinstance(out, Text):
            if out.room_id != self.room_id:
                return text(self.language, "console.said_in", room=out.room_id, body=out.body)
            return text(self.language, "console.said", body=out.body)
        if isinstance(out, React):
            return text(self.language, "console.reacted", emoji=out.emoji)
        if isinstance(out, DirectFile):
            shown = text(
                self.language,
                "console.private_file",
                user=out.user_id,
                filename=out.filename,
                size=len(out.data),
                mimetype=out.mimetype,
            )
            if saved is None:
                return shown
            return shown + "\n" + text(self.language, "console.file_saved", path=str(saved))
        assert isinstance(out, Direct)
        return text(self.language, "console.private", user=out.user_id, body=out.body)

    def joined_rooms(self) -> list[str]:
        return [self.room_id, *sorted(self.other_rooms)]

    def room_name(self, room_id: str) -> str:
        return text(self.language, "console.room_name") if room_id == self.room_id else room_id

    async def resolve_room(self, target: str) -> str | None:
        """Any `!id` or `#alias` names a console room; the bot is in all of them."""
        if target[:1] in ("!", "#") and len(target) > 1:
            self.other_rooms.add(target)
            return target
        return None

    async def fetch_text(self, room_id: str, event_id: str) -> str | None:
        return self._recent.get(event_id)

    async def wait_until_ready(self) -> None:
        """The terminal is always ready."""

    def attach(self, handler: IncomingHandler) -> None:
        self._handler = handler

    async def say(self, sender: str, body: str, at: datetime | None = None) -> list[Outgoing]:
        """Feed one message as `sender` (typed `at`, default now); returns the bot's answer."""
        event = Message(
            event_id=f"$console{next(self._ids)}",
            room_id=self.room_id,
            sender=console_user(sender),
            body=body,
            timestamp=at or self._clock.now(),
        )
        self._recent[event.event_id] = body
        self.last_event_id = event.event_id
        return await self._feed(event)

    async def react(self, sender: str, target_event_id: str, key: str) -> list[Outgoing]:
        event = Reaction(
            event_id=f"$console{next(self._ids)}",
            room_id=self.room_id,
            sender=console_user(sender),
            target_event_id=target_event_id,
            key=key,
            timestamp=self._clock.now(),
        )
        return await self._feed(event)

    async def _feed(self, event: Message | Reaction) -> list[Outgoing]:
        if self._handler is None:
            raise RuntimeError("no handler attached: call attach() or run() first")
        before = len(self.sent)
        await self._handler(event)
        return self.sent[before:]

    async def run(self, handler: IncomingHandler) -> None:
        """Read lines from the terminal until end of input, `/quitter-console` or `stop()`."""
        self.attach(handler)
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            reader = loop.run_in_executor(None, sys.stdin.readline)
            stop = asyncio.ensure_future(self._stopping.wait())
            done, _ = await asyncio.wait({reader, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if reader not in done:
                break
            line = reader.result()
            if not line:
                break
            line = line.rstrip("\n")
            if not line.strip():
                continue
            command, _, rest = line.strip().partition(" ")
            if command in QUIT:
                break
            if command in REACT and rest.strip() and self.last_event_id is not None:
                await self.react(self.speaker, self.last_event_id, rest.strip())
                continue
            if command in SWITCH_SPEAKER and rest.strip():
                self.speaker = console_user(rest)
                if self._write is not None:
                    self._write(text(self.language, "console.speaker", speaker=self.speaker))
                continue
            await self.say(self.speaker, line)

    async def stop(self) -> None:
        self._stopping.set()
