"""Reply latency of Halte against a minimal matrix-nio bot, both on the same local Synapse.

Why: a bot that answers commands should not be noticeably slower than the network path it
cannot avoid (the command's delivery to the bot by sync, one send, the reply's delivery to the
member by sync). The issue sets the bar: Halte's reply path is compared with a minimal nio bot
answering the same homeserver, and a peer bot that fetches room state per message is 1.2x
slower than that floor. This script measures both bots side by side, so the ratio does not
depend on the machine: same server, same member, rounds interleaved (A, B, A, B...) so that
both bots see the same server conditions (SQLite caches, CPU frequency, background load).

- Bot A is the real Halte: `build_app` with the Matrix transport, SQLite in a temporary
  directory, the command registry and dispatcher, the processed-events table. It is measured on
  `!groupe regles`, which any member may run outside a group and which answers one message.
- Bot B is the floor: a nio `AsyncClient` that logs in, syncs, and answers any `m.text` that
  starts with `!` with one fixed `m.notice` replying to the command. Its fixed text is Halte's
  own rules message, so both replies weigh the same on the wire.

A round trip is timed from just before the member sends the command to the moment the member's
own sync loop (`MemberClient`) has seen the reply. Everything runs in this process, on
127.0.0.1, and is stopped at the end. Exit code: 0, or 1 if some reply never arrived.

    .venv/bin/python bench/reply_latency.py --n 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    MatrixRoom,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from pydantic import SecretStr

from bot.config import MatrixSettings, Settings
from bot.i18n import render
from bot.localserver import LocalSynapse
from bot.member_client import MemberClient
from bot.messages import Incoming, Outgoing, Text
from bot.runtime import build_app, setup_logging
from bot.transports import IncomingHandler
from bot.transports.matrix import MatrixTransport
from stockage.database import Database
from stockage.events import TransportStateRepository

COMMAND: Final = "!groupe regles"
WARMUP: Final = 10
REPLY_TIMEOUT_S: Final = 10.0
JOIN_TIMEOUT_S: Final = 15.0
STOP_TIMEOUT_S: Final = 15.0
#: A bot's long poll; a new event ends it at once, so it only bounds idle requests.
SYNC_TIMEOUT_MS: Final = 30_000
#: Rounds given up in a row before the run is abandoned (the server is gone, not slow).
MAX_CONSECUTIVE_LOSSES: Final = 5
# A proxy-free opener: HTTP(S)_PROXY must not capture calls to 127.0.0.1.
_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Marks:
    """When a bot got each command and when its reply was posted (perf_counter, by event id)."""

    received: dict[str, float] = field(default_factory=dict)
    replied: dict[str, float] = field(default_factory=dict)


@dataclass
class Series:
    """One bot's measurements, in milliseconds."""

    name: str
    total: list[float] = field(default_factory=list)
    to_bot: list[float] = field(default_factory=list)
    in_bot: list[float] = field(default_factory=list)
    to_member: list[float] = field(default_factory=list)
    lost: int = 0


class MinimalBot:
    """The floor: login, a sync loop, a fixed notice in reply to any `!` command. Nothing else.

    No storage, no state look-up, no dedupe: what remains is the Matrix round trip itself.
    """

    def __init__(self, homeserver: str, user_id: str, password: str, reply: str) -> None:
        config = AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
        self.client = AsyncClient(homeserver, user_id, config=config)
        self.user_id = user_id
        self.marks = Marks()
        self._password = password
        self._reply = reply
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Condition()

    async def start(self) -> None:
        response = await self.client.login(self._password, device_name="minimal")
        if not isinstance(response, LoginResponse):
            raise RuntimeError(f"login failed for {self.user_id}: {response}")
        # The first sync only sets the token: older messages are not answered.
        first = await self.client.sync(timeout=0, full_state=True)
        if not isinstance(first, SyncResponse):
            raise RuntimeError(f"first sync failed for {self.user_id}: {first}")
        self.client.add_event_callback(self._on_message, RoomMessageText)
        self.client.add_event_callback(self._on_invite, InviteMemberEvent)
        self._task = asyncio.create_task(self._sync_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    async def wait_joined(self, room_id: str) -> None:
        async with self._synced:
            await self._synced.wait_for(lambda: room_id in self.client.rooms)

    async def _sync_loop(self) -> None:
        while True:
            # nio runs the event callbacks while it handles the response, before returning.
            response = await self.client.sync(timeout=SYNC_TIMEOUT_MS)
            if not isinstance(response, SyncResponse):
                await asyncio.sleep(0.5)
                continue
            async with self._synced:
                self._synced.notify_all()

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == self.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == self.user_id or not event.body.startswith("!"):
            return
        self.marks.received[event.event_id] = time.perf_counter()
        content = {
            "msgtype": "m.notice",
            "body": self._reply,
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
        }
        response = await self.client.room_send(room.room_id, "m.room.message", content)
        if isinstance(response, RoomSendResponse):
            self.marks.replied[event.event_id] = time.perf_counter()


class TimedMatrixTransport(MatrixTransport):
    """Halte's own transport; only notes when each reply to a command was posted."""

    def __init__(self, *args: Any, marks: Marks, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marks = marks

    async def send(self, out: Outgoing) -> str:
        event_id = await super().send(out)
        if isinstance(out, Text) and out.reply_to is not None:
            self.marks.replied[out.reply_to] = time.perf_counter()
        return event_id


def timed_handler(handle: IncomingHandler, marks: Marks) -> IncomingHandler:
    """Halte's dispatcher, noting when each event reached it."""

    async def handler(event: Incoming) -> None:
        marks.received[event.event_id] = time.perf_counter()
        await handle(event)

    return handler


@dataclass
class Target:
    """One bot under test, as the member sees it."""

    series: Series
    room_id: str
    bot_id: str
    marks: Marks


async def round_trip(member: MemberClient, target: Target, record: bool) -> bool:
    """One command and its reply; False if the reply did not come within the timeout."""
    start = time.perf_counter()
    event_id = await member.send(target.room_id, COMMAND)
    try:
        await member.reply_to(target.room_id, event_id, target.bot_id, within=REPLY_TIMEOUT_S)
    except TimeoutError:
        if record:
            target.series.lost += 1
        return False
    end = time.perf_counter()
    if record:
        series, marks = target.series, target.marks
        series.total.append((end - start) * 1000)
        received = marks.received.get(event_id)
        replied = marks.replied.get(event_id)
        if received is not None and replied is not None:
            series.to_bot.append((received - start) * 1000)
            series.in_bot.append((replied - received) * 1000)
            series.to_member.append((end - replied) * 1000)
    return True


async def measure(member: MemberClient, targets: Sequence[Target], n: int, gap: float) -> None:
    """Warm-up rounds, then `n` recorded rounds per bot, interleaved A, B, A, B..."""
    losses = 0
    for index in range(WARMUP + n):
        record = index >= WARMUP
        for target in targets:
            ok = await round_trip(member, target, record)
            losses = 0 if ok else losses + 1
            if losses >= MAX_CONSECUTIVE_LOSSES:
                raise RuntimeError(f"{losses} replies lost in a row; giving up")
            # Let both bots finish the aftermath (their own echo, Halte's sync token write)
            # so that one round does not run on the other bot's leftovers.
            await asyncio.sleep(gap)


def percentiles(values: Sequence[float]) -> tuple[float, float, float, float]:
    """p50, p90, p99 and mean, in the input's unit (NaN for an empty series)."""
    if len(values) < 2:
        value = values[0] if values else float("nan")
        return value, value, value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[89], cuts[98], statistics.fmean(values)


def synapse_version(server: LocalSynapse) -> str:
    try:
        with _OPENER.open(f"{server.url}/_synapse/admin/v1/server_version", timeout=5) as answer:
            return str(json.loads(answer.read())["server_version"])
    except (OSError, ValueError, KeyError):
        try:
            return version("matrix-synapse")
        except PackageNotFoundError:
            return "unknown"


def report(series: Sequence[Series], n: int, server_version: str) -> str:
    halte, floor = series
    lines = [
        f"Reply latency, {COMMAND!r}, {n} round trips per bot after {WARMUP} warm-up, interleaved",
        f"Synapse {server_version} (SQLite, 127.0.0.1) | Python {platform.python_version()} | "
        f"matrix-nio {version('matrix-nio')}",
        "",
        f"{'bot':<10} {'n':>5} {'p50':>8} {'p90':>8} {'p99':>8} {'mean':>8}  (ms)  lost",
    ]
    for one in series:
        p50, p90, p99, mean = percentiles(one.total)
        lines.append(
            f"{one.name:<10} {len(one.total):>5} {p50:>8.1f} {p90:>8.1f} {p99:>8.1f} "
            f"{mean:>8.1f}        {one.lost:>4}"
        )
    h50, _, h99, _ = percentiles(halte.total)
    f50, _, f99, _ = percentiles(floor.total)
    lines += [
        "",
        f"ratio Halte/minimal: p50 {h50 / f50:.2f}x, p99 {h99 / f99:.2f}x "
        "(the issue's bar: a bot fetching room state per message is 1.2x)",
        "",
        "where the time goes, p50 (ms): member's send until the bot has the command | "
        "bot until its reply is posted | until the member's sync has it",
    ]
    for one in series:
        parts = [percentiles(values)[0] for values in (one.to_bot, one.in_bot, one.to_member)]
        lines.append(
            f"{one.name:<10} {parts[0]:>8.1f} {parts[1]:>8.1f} {parts[2]:>8.1f}"
            f"   ({len(one.in_bot)} rounds with all marks)"
        )
    return "\n".join(lines)


async def run(server: LocalSynapse, workdir: Path, n: int, gap: float) -> int:
    passwords = {name: secrets.token_urlsafe(12) for name in ("halte", "minimal", "member")}
    ids = {name: server.register(name, pw) for name, pw in passwords.items()}
    settings = Settings(
        data_dir=workdir / "halte",
        matrix=MatrixSettings(
            homeserver=server.url,
            user_id=ids["halte"],
            password=SecretStr(passwords["halte"]),
            invite_allowlist=[ids["member"]],
        ),
    )
    assert settings.matrix is not None
    matrix = settings.matrix
    halte_marks = Marks()

    def transport(db: Database) -> MatrixTransport:
        return TimedMatrixTransport(
            matrix, settings.data_dir, TransportStateRepository(db), marks=halte_marks
        )

    rules = render(settings.language, "groupe.rules").body
    minimal = MinimalBot(server.url, ids["minimal"], passwords["minimal"], rules)
    async with (
        build_app(settings, transport) as app,
        MemberClient(server.url, ids["member"], passwords["member"]) as member,
    ):
        halte = app.services.transport
        assert isinstance(halte, MatrixTransport)
        halte_task = asyncio.create_task(halte.run(timed_handler(app.handle, halte_marks)))
        try:
            await minimal.start()
            room_a = await member.create_room("bench Halte", invite=[ids["halte"]])
            room_b = await member.create_room("bench minimal", invite=[ids["minimal"]])
            await asyncio.wait_for(halte.wait_for_room(room_a), JOIN_TIMEOUT_S)
            await asyncio.wait_for(minimal.wait_joined(room_b), JOIN_TIMEOUT_S)
            targets = (
                Target(Series("Halte"), room_a, ids["halte"], halte_marks),
                Target(Series("minimal"), room_b, ids["minimal"], minimal.marks),
            )
            await measure(member, targets, n, gap)
        finally:
            await halte.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(halte_task, STOP_TIMEOUT_S)
            await minimal.stop()
    print(report([t.series for t in targets], n, synapse_version(server)))
    return 0 if all(t.series.lost == 0 for t in targets) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200, help="recorded round trips per bot")
    parser.add_argument(
        "--gap", type=float, default=0.05, help="pause between rounds, in seconds (0.05)"
    )
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    setup_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="halte-bench-") as scratch:
        workdir = Path(scratch)
        print("starting a local Synapse...", file=sys.stderr, flush=True)
        with LocalSynapse(workdir / "synapse") as server:
            print(f"Synapse on {server.url}; measuring...", file=sys.stderr, flush=True)
            return asyncio.run(run(server, workdir, args.n, args.gap))


if __name__ == "__main__":
    sys.exit(main())
