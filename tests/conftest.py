"""Shared fixtures: a whole bot on the console transport, with a manual clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

from bot.app import Halte
from bot.clock import ManualClock
from bot.config import Settings
from bot.messages import Outgoing, Text
from bot.runtime import build_app
from bot.transports.console import ConsoleTransport

# In CI, property tests draw the same examples on every run (reproducible, never flaky); on a
# developer's machine they keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

MODERATOR = "@anim:console"


@dataclass
class ConsoleBot:
    app: Halte
    console: ConsoleTransport
    clock: ManualClock

    async def say(self, sender: str, body: str) -> list[Outgoing]:
        return await self.console.say(sender, body)

    async def reply(self, sender: str, body: str) -> str:
        """The one text the bot answered (fails the test if it sent anything else)."""
        sent = await self.say(sender, body)
        assert len(sent) == 1, sent
        assert isinstance(sent[0], Text)
        return sent[0].body


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))


@pytest.fixture
async def bot(tmp_path: Path, clock: ManualClock) -> AsyncIterator[ConsoleBot]:
    settings = Settings(data_dir=tmp_path / "data", moderators=[MODERATOR])
    console = ConsoleTransport(moderators=set(settings.moderators), clock=clock)
    async with build_app(settings, lambda _db: console, clock) as app:
        console.attach(app.handle)
        yield ConsoleBot(app, console, clock)
