"""The bot removed from a room (kicked or banned), and invited back: console transport, manual
clock. Issue 6: it stays out, posts nothing more there, forgets nothing it should keep, and the
check-in engine survives a room that became unreachable. The same story on a real Synapse is
`tests/integration/test_kick_on_synapse.py`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import checkin as machine
from bot.app import Halte
from bot.clock import ManualClock
from bot.config import Settings
from bot.messages import Membership, MembershipChange, Outgoing, React, Text
from bot.runtime import build_app
from bot.transports.console import BOT_ID, CONSOLE_ROOM, ConsoleTransport
from tests.conftest import MODERATOR

ROOM = CONSOLE_ROOM
TEAM_ROOM = "!equipe:console"
ALICE = "@alice:console"
TOPIC = "Le formulaire de congé"
_EVENTS = itertools.count(1)


class LeavableConsole(ConsoleTransport):
    """The console transport, with rooms the bot can be out of: a homeserver refuses posts
    there, and they leave `joined_rooms()`, as on Matrix."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.left: set[str] = set()
        self.refused: list[Outgoing] = []

    def joined_rooms(self) -> list[str]:
        return [room for room in super().joined_rooms() if room not in self.left]

    async def send(self, out: Outgoing) -> str | None:
        if isinstance(out, Text | React) and out.room_id in self.left:
            self.refused.append(out)
            raise RuntimeError("M_FORBIDDEN")
        return await super().send(out)


@asynccontextmanager
async def halte(data: Path, clock: ManualClock) -> AsyncIterator[tuple[Halte, LeavableConsole]]:
    settings = Settings(data_dir=data, moderators=[MODERATOR])
    console = LeavableConsole(moderators={MODERATOR}, clock=clock)
    async with build_app(settings, lambda _db: console, clock) as app:
        console.attach(app.handle)
        yield app, console


async def bot_membership(
    app: Halte, console: LeavableConsole, change: MembershipChange, room: str = ROOM
) -> str:
    """The bot's own membership changing, as the Matrix transport reports a kick or a join."""
    if change is MembershipChange.JOIN:
        console.left.discard(room)
    else:
        console.left.add(room)
    event_id = f"$membership{next(_EVENTS)}"
    await app.handle(
        Membership(
            event_id=event_id,
            room_id=room,
            user_id=BOT_ID,
            change=change,
            timestamp=app.services.clock.now(),
        )
    )
    return event_id


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # Monday 09:00 in Montréal


@pytest.fixture
async def running(
    tmp_path: Path, clock: ManualClock
) -> AsyncIterator[tuple[Halte, LeavableConsole]]:
    """A group with a member, a parked item, a schedule, and a check-in in its first round."""
    async with halte(tmp_path / "data", clock) as (app, console):
        await console.say(MODERATOR, "!groupe creer soutien")
        await console.say(ALICE, "!rejoindre")
        await console.say(MODERATOR, f"!stationner {TOPIC}")
        await console.say(MODERATOR, "!horaire mercredi 12:00")
        await console.say(MODERATOR, "!seance debut")
        current = await app.services.repos.checkins.current(ROOM)
        assert current is not None
        assert current.state.phase is machine.Phase.ROUND
        yield app, console


async def test_a_kick_ends_the_check_in_and_nothing_more_is_posted_there(
    running: tuple[Halte, LeavableConsole], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    app, console = running
    services = app.services
    record = await services.repos.checkins.current(ROOM)
    assert record is not None
    before = len(console.sent)
    await bot_membership(app, console, MembershipChange.LEAVE)
    ended = await services.repos.checkins.get(record.id)
    assert ended is not None
    assert ended.state.phase is machine.Phase.CANCELLED
    assert ended.state.deadline is None
    # Every deadline the check-in had passes: no tick acts, nothing is sent or attempted.
    clock.advance(timedelta(hours=2))
    assert await services.checkins.tick() == 0
    assert await services.checkins.flush() == 0
    assert console.sent[before:] == []
    assert console.refused == []
    assert services.scheduler.armed_for(ROOM) is None
    assert "ERROR" not in [r.levelname for r in caplog.records if r.name.startswith("bot")]


async def test_a_kick_forgets_nothing_the_group_holds(
    running: tuple[Halte, LeavableConsole],
) -> None:
    app, console = running
    repos = app.services.repos
    await bot_membership(app, console, MembershipChange.BAN)  # a ban is a removal too
    group = await repos.groups.get(ROOM)
    assert group is not None
    assert group.bot_left_at == app.services.clock.now()
    assert await repos.members.list(ROOM) == [ALICE]
    assert await repos.schedules.get(ROOM) is not None
    items = await repos.parking.items(ROOM)
    assert [(item.number, item.text, item.author) for item in items] == [(1, TOPIC, MODERATOR)]


async def test_posts_queued_for_the_room_are_dropped_never_sent_nor_retried(
    running: tuple[Halte, LeavableConsole], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    app, console = running
    services = app.services
    caplog.set_level(logging.INFO, logger="bot.checkins")
    # Still queued when the departure is handled: a ✅, and a nudge about the check-in.
    now = clock.now()
    react = {"to": "room", "room": ROOM, "kind": "react", "event": "$x", "emoji": "✅"}
    nudge = {"to": "user", "room": ROOM, "user": ALICE, "kind": "nudge"}
    await services.repos.checkins.queue_post("test:react", react, now)
    await services.repos.checkins.queue_post("test:nudge", nudge, now)
    before = len(console.sent)
    await bot_membership(app, console, MembershipChange.LEAVE)
    assert await services.repos.checkins.pending_posts() == []
    assert console.sent[before:] == []
    assert console.refused == []  # not even attempted
    for key in ("test:react", "test:nudge"):
        assert f"post {key} dropped: the bot was removed from room {ROOM}" in caplog.text
    assert await services.checkins.flush() == 0


async def test_a_post_that_fails_because_the_bot_is_out_is_dropped_by_its_key(
    running: tuple[Halte, LeavableConsole], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The kick happened and its event is not handled yet (or the room is no group): the
    failed post is logged by key and dropped, not retried every few seconds forever."""
    app, console = running
    services = app.services
    react = {"to": "room", "room": ROOM, "kind": "react", "event": "$x", "emoji": "✅"}
    await services.repos.checkins.queue_post("test:react", react, clock.now())
    console.left.add(ROOM)
    assert await services.checkins.flush() == 0
    assert [o.key for o in console.refused] == ["test:react"]
    assert await services.repos.checkins.pending_posts() == []
    (line,) = [r for r in caplog.records if "test:react" in r.getMessage()]
    assert line.levelno == logging.WARNING
    assert line.getMessage() == (
        f"post test:react dropped: the bot is not in room {ROOM} (RuntimeError)"
    )
    assert await services.checkins.flush() == 0
    assert len(console.refused) == 1


async def test_a_post_to_a_room_the_bot_is_still_in_is_kept_for_retry(
    running: tuple[Halte, LeavableConsole], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drop is for rooms the bot is out of: a homeserver hiccup keeps the post."""
    app, console = running
    services = app.services

    async def failing(out: Outgoing) -> str | None:
        raise TimeoutError

    monkeypatch.setattr(console, "send", failing)
    react = {"to": "room", "room": ROOM, "kind": "react", "event": "$x", "emoji": "✅"}
    await services.repos.checkins.queue_post("test:react", react, clock.now())
    assert await services.checkins.flush() == 1
    assert [p.key for p in await services.repos.checkins.pending_posts()] == ["test:react"]


async def test_an_agenda_for_a_team_room_the_bot_left_is_dropped_and_the_group_goes_on(
    running: tuple[Halte, LeavableConsole], caplog: pytest.LogCaptureFixture
) -> None:
    """The team-meeting room is no group: the bot learns it is out only when a post fails."""
    app, console = running
    services = app.services
    await console.say(MODERATOR, f"!ordre-du-jour salle {TEAM_ROOM}")
    await bot_membership(app, console, MembershipChange.LEAVE, room=TEAM_ROOM)
    group = await services.repos.groups.get(ROOM)
    assert group is not None
    assert group.bot_present  # only the team room was left
    await console.say(MODERATOR, "!ordre-du-jour publier")
    assert await services.repos.checkins.pending_posts() == []
    assert "the bot is not in room !equipe:console" in caplog.text
    assert "ERROR" not in [r.levelname for r in caplog.records if r.name.startswith("bot")]


async def test_a_group_the_bot_left_gets_no_check_in_even_after_a_restart(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with halte(tmp_path / "data", clock) as (app, console):
        await console.say(MODERATOR, "!groupe creer soutien")
        await console.say(MODERATOR, "!horaire lundi 10:00")  # in one hour: its reminder is due
        await bot_membership(app, console, MembershipChange.LEAVE)
        assert await app.services.checkins.prepare(ROOM, clock.now() + timedelta(hours=1)) is None
    async with halte(tmp_path / "data", clock) as (app, console):
        await app.services.scheduler.start(paused=True)
        assert app.services.scheduler.armed_for(ROOM) is None
        assert await app.services.repos.checkins.unfinished() == []
        app.services.scheduler.shutdown()


async def test_invited_back_the_bot_finds_its_group_and_schedule_again(
    running: tuple[Halte, LeavableConsole], clock: ManualClock
) -> None:
    app, console = running
    services = app.services
    await bot_membership(app, console, MembershipChange.LEAVE)
    clock.advance(timedelta(days=1))
    await bot_membership(app, console, MembershipChange.JOIN)
    group = await services.repos.groups.get(ROOM)
    assert group is not None
    assert group.bot_present
    assert services.scheduler.armed_for(ROOM) is not None
    listed = await console.say(MODERATOR, "!stationnement")
    assert TOPIC in listed[0].body  # type: ignore[union-attr]
    # The check-in ended by the kick stays ended; a new one can start.
    state = await console.say(MODERATOR, "!seance etat")
    assert "pas de rencontre en cours" in state[0].body  # type: ignore[union-attr]
    await console.say(MODERATOR, "!seance debut")
    current = await services.repos.checkins.current(ROOM)
    assert current is not None
    assert current.state.phase is machine.Phase.ROUND


async def test_joining_or_leaving_a_room_that_is_no_group_changes_nothing(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with halte(tmp_path / "data", clock) as (app, console):
        await bot_membership(app, console, MembershipChange.JOIN, room="!ailleurs:console")
        await bot_membership(app, console, MembershipChange.LEAVE, room="!ailleurs:console")
        assert await app.services.repos.groups.all() == []
        assert console.sent == []
