"""Wiring: build the services once, own their resources, run a transport until asked to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress

from bot.app import Halte
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.services import Repositories, Services
from bot.transports import Transport
from commandes.routers import build_registry
from stockage.database import Database, open_database

log = logging.getLogger(__name__)

DATABASE_FILE = "halte.db"
TransportFactory = Callable[[Database], Transport]

# Loggers of libraries that may print event contents at DEBUG: they stay at WARNING whatever
# the operator's log level, so that no message body ever reaches a log.
QUIET_LOGGERS = ("nio", "aiohttp", "aiosqlite", "apscheduler", "peewee")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@asynccontextmanager
async def build_app(
    settings: Settings, transport_factory: TransportFactory, clock: Clock | None = None
) -> AsyncIterator[Halte]:
    """Open the database and build the services and the dispatcher around one transport."""
    async with AsyncExitStack() as stack:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = await stack.enter_async_context(open_database(settings.data_dir / DATABASE_FILE))
        services = Services(
            settings=settings,
            clock=clock or SystemClock(),
            transport=transport_factory(db),
            db=db,
            repos=Repositories.on(db),
        )
        yield Halte(services, build_registry())


async def run_until_stopped(app: Halte) -> None:
    """Run the transport; SIGINT/SIGTERM ask it to stop cleanly (sync token saved, db closed)."""
    transport = app.services.transport
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()

    def request_stop(signum: int) -> None:
        log.info("signal %s received, stopping", signal.Signals(signum).name)
        task = loop.create_task(transport.stop())
        stopping.add(task)
        task.add_done_callback(stopping.discard)

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, request_stop, signum)
            installed.append(signum)
    try:
        await transport.run(app.handle)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
