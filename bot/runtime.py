"""Wiring: build the services once, own their resources, run a transport until asked to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress

from bot.agendas import AgendaService
from bot.app import Halte
from bot.checkins import CheckinEngine
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.formats import load_formats
from bot.guards import warm_up as warm_up_guards
from bot.guards.model import compiled as sums_compiled
from bot.guards.normalise import compiled as text_compiled
from bot.privacy import arm_retention, run_retention
from bot.scheduler import ScheduleRunner
from bot.services import Services
from bot.transports import Transport
from commandes.routers import build_registry
from stockage.database import Database, open_database
from stockage.repositories import Repositories

log = logging.getLogger(__name__)

DATABASE_FILE = "halte.db"
TransportFactory = Callable[[Database], Transport]

# Loggers of libraries that may print event contents: whatever the operator's log level, they
# stay quiet, so that no message body ever reaches a log. nio logs a whole invalid event (body
# included) at WARNING, so only its errors get through.
QUIET_LOGGERS = {
    "nio": logging.ERROR,
    "aiohttp": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "apscheduler": logging.WARNING,
    "peewee": logging.WARNING,
}


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet)


@asynccontextmanager
async def build_app(
    settings: Settings, transport_factory: TransportFactory, clock: Clock | None = None
) -> AsyncIterator[Halte]:
    """Open the database and build the services and the dispatcher around one transport."""
    async with AsyncExitStack() as stack:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = await stack.enter_async_context(open_database(settings.data_dir / DATABASE_FILE))
        clock = clock or SystemClock()
        transport = transport_factory(db)
        repos = Repositories.on(db)
        engine = CheckinEngine(
            settings=settings,
            clock=clock,
            transport=transport,
            repos=repos,
            formats=load_formats(settings.formats_dir),
        )
        agendas = AgendaService(clock=clock, transport=transport, repos=repos, engine=engine)
        runner = ScheduleRunner(engine, agendas, repos, clock)
        stack.callback(runner.shutdown)
        services = Services(
            settings=settings,
            clock=clock,
            transport=transport,
            db=db,
            repos=repos,
            checkins=engine,
            agendas=agendas,
            scheduler=runner,
        )
        # Compile the guards' word lists now, not on the first message: the safety net must
        # answer a person in crisis within two seconds, also right after a start.
        warm_up_guards()
        # For whoever deployed us: where no C++ compiler was found at install, the guards work
        # the same but read fewer messages per second (see setup.py).
        log.info(
            "guards ready; crisis model sums: %s; text normalisation: %s",
            "compiled" if sums_compiled() else "Python",
            "compiled" if text_compiled() else "Python",
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
    background = asyncio.create_task(_run_time(app))
    try:
        await transport.run(app.handle)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await app.services.checkins.stop()
        background.cancel()
        with suppress(asyncio.CancelledError):
            await background


async def _run_time(app: Halte) -> None:
    """Once the transport is ready: rebuild the schedules and run the check-ins' deadlines.

    Check-ins left open by a previous run are picked up by the engine's first tick, which is
    what makes a restart resume at the right round. The retention purge runs every night and
    once now, so days the bot was down are purged too.
    """
    await app.services.transport.wait_until_ready()
    await app.services.scheduler.start()
    arm_retention(app.services)
    await run_retention(app.services)
    await app.services.checkins.run()
