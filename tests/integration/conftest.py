"""One real Synapse per test session; fresh users and rooms per test (Synapse is CPU-bound)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import Halte
from bot.clock import Clock
from bot.config import MatrixSettings, Settings
from bot.localserver import LocalSynapse
from bot.member_client import MemberClient
from bot.runtime import _run_time, build_app
from bot.transports.matrix import MatrixTransport
from stockage.database import Database
from stockage.events import TransportStateRepository

_counter = itertools.count()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    with LocalSynapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


class Users:
    """Registers unique users on the session's server, so tests never share state."""

    def __init__(self, server: LocalSynapse) -> None:
        self.server = server
        self.tag = secrets.token_hex(3)

    def new(self, name: str) -> tuple[str, str]:
        """Register `name` (made unique) and return (user id, password)."""
        username = f"{name}{self.tag}{next(_counter)}"
        password = secrets.token_urlsafe(12)
        return self.server.register(username, password), password


@pytest.fixture
def users(synapse: LocalSynapse) -> Users:
    return Users(synapse)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


@dataclass
class RunningBot:
    app: Halte
    transport: MatrixTransport
    user_id: str
    # The bot's password, so a test can restart it on the same account (`account=`).
    password: str = ""

    async def wait_joined(self, room_id: str) -> None:
        await asyncio.wait_for(self.transport.wait_for_room(room_id), 10)


@asynccontextmanager
async def start_bot(
    synapse: LocalSynapse,
    users: Users,
    data_dir: Path,
    allowlist: list[str],
    *,
    run_time: bool = False,
    account: tuple[str, str] | None = None,
    clock: Clock | None = None,
    **settings: Any,
) -> AsyncIterator[RunningBot]:
    """The real bot (Matrix transport, SQLite, registry) on the session's Synapse.

    `run_time=True` also runs time beside the transport, as production does: APScheduler
    (schedules and agendas rebuilt from the database) and the check-in engine's deadlines and
    outbox. `account=(user id, password)` reuses a bot account, e.g. `(bot.user_id,
    bot.password)` to restart the same bot on the same `data_dir`; by default a new one.
    `clock` (a `ManualClock`) puts the bot's time in the test's hands; Synapse keeps its own.
    """
    bot_id, password = account or users.new("halte")
    config = Settings(
        data_dir=data_dir,
        matrix=MatrixSettings(
            homeserver=synapse.url,
            user_id=bot_id,
            password=SecretStr(password),
            invite_allowlist=allowlist,
        ),
        **settings,
    )
    assert config.matrix is not None
    matrix = config.matrix

    def transport(db: Database) -> MatrixTransport:
        return MatrixTransport(matrix, data_dir, TransportStateRepository(db))

    async with build_app(config, transport, clock) as app:
        matrix_transport = app.services.transport
        assert isinstance(matrix_transport, MatrixTransport)
        task = asyncio.create_task(matrix_transport.run(app.handle))
        time_task = asyncio.create_task(_run_time(app)) if run_time else None
        try:
            yield RunningBot(app, matrix_transport, bot_id, password)
        finally:
            if time_task is not None:
                await app.services.checkins.stop()
                time_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await time_task
            await matrix_transport.stop()
            await asyncio.wait_for(task, 15)


@asynccontextmanager
async def member(
    synapse: LocalSynapse,
    users: Users,
    name: str,
    *,
    encrypted: bool = True,
    accept_invites_from: str = "",
) -> AsyncIterator[MemberClient]:
    """A fresh staff member. Encryption-capable by default, as Element is: the bot's direct
    chats are encrypted. Its crypto store lives in a temporary directory of its own."""
    user_id, password = users.new(name)
    with tempfile.TemporaryDirectory(prefix="halte-member-") as scratch:
        async with MemberClient(
            synapse.url,
            user_id,
            password,
            accept_invites_from=accept_invites_from,
            store_dir=Path(scratch) / "keys" if encrypted else None,
        ) as client:
            yield client
