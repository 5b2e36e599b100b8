"""The runtime driver of check-ins: feeds events to the pure machine in `bot.checkin`, stores
state and posts in one transaction, sends the outbox, and sleeps until the next deadline.

Exactly-once posting: every post has a stable key (`checkin:<id>:<step>`) written to the outbox
with the state that decided it; the transport derives the Matrix transaction id from that key,
and the entry is marked sent afterwards. A crash before the mark re-sends with the same
transaction id, which the homeserver deduplicates.

A room the bot was removed from gets nothing more: `abandon` ends its check-ins, and a post
for it is dropped (marked done without an event, logged by key) rather than retried forever —
whether the room is a group the bot knows it left, or any room a send failed for and that the
bot is no longer in (a team-meeting room, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import checkin as machine
from bot.agenda import Agenda, AgendaLine, render_agenda
from bot.clock import Clock
from bot.config import Settings
from bot.formats import Format
from bot.i18n import Rendered, duration, join, local_date, render, render_template
from bot.logs import log_failure
from bot.messages import Direct, Message, React, Reaction, Text
from bot.schedule import next_occurrence
from bot.services import room_moderators
from bot.transports import Transport
from stockage.checkins import CheckinRecord
from stockage.groups import Group
from stockage.repositories import Repositories

log = logging.getLogger(__name__)

ATTENDANCE_EMOJI = "✅"
# After a failed send, try the outbox again this soon.
RETRY_DELAY = timedelta(seconds=5)


class CheckinEngine:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        transport: Transport,
        repos: Repositories,
        formats: dict[str, Format],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.repos = repos
        self.formats = formats
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        # One flush at a time: `apply()` and the wake-up loop both flush, and two flushes
        # reading the same pending post would both send it (Matrix drops the repeat by its
        # transaction id; other platforms would show it twice).
        self._sending = asyncio.Lock()

    # -- plans and formats -------------------------------------------------------------------

    def format_for(self, name: str) -> Format:
        # A group whose custom format file was removed falls back to the default format
        # rather than failing its check-ins.
        return self.formats.get(name) or self.formats["soutien-30"]

    def plan(self, format_name: str) -> machine.Plan:
        fmt = self.format_for(format_name)
        return machine.Plan(
            rounds=tuple(machine.RoundPlan(r.key, r.duration, r.nudge) for r in fmt.rounds),
            grace=timedelta(minutes=self.settings.checkin_grace_minutes),
        )

    # -- entry points --------------------------------------------------------------------------

    async def start_now(self, group: Group) -> CheckinRecord:
        """`!seance debut`: open now, or open the scheduled one early."""
        current = await self.repos.checkins.current(group.room_id)
        if current is None:
            now = self.clock.now()
            created = await self.repos.checkins.create(
                group.room_id, None, group.format, machine.State(machine.Phase.SCHEDULED), now
            )
            assert created is not None
            current = created
        return await self.apply(current, machine.Start())

    async def command(self, room_id: str, event: machine.Event) -> CheckinRecord:
        """Apply a moderator's event to the room's current check-in."""
        current = await self.repos.checkins.current(room_id)
        if current is None:
            raise machine.Refused("checkin.none")
        return await self.apply(current, event)

    async def prepare(self, room_id: str, occurrence: datetime) -> CheckinRecord | None:
        """Create the check-in of one schedule occurrence (once) and let time act on it."""
        group = await self.repos.groups.get(room_id)
        if group is None or not group.bot_present:
            return None
        existing = await self.repos.checkins.for_occurrence(room_id, occurrence)
        if existing is not None:
            return existing
        state = machine.scheduled(occurrence, timedelta(minutes=group.reminder_minutes))
        record = await self.repos.checkins.create(
            room_id, occurrence, group.format, state, self.clock.now()
        )
        if record is None:  # created meanwhile by another path
            return await self.repos.checkins.for_occurrence(room_id, occurrence)
        log.info("check-in %s prepared for %s", record.id, room_id)
        await self.tick()
        return record

    async def apply(self, record: CheckinRecord, event: machine.Event) -> CheckinRecord:
        """One transition, stored with its posts in one transaction, then the posts sent."""
        async with self._lock:
            now = self.clock.now()
            fresh = await self.repos.checkins.get(record.id)
            assert fresh is not None
            state, effects = machine.transition(fresh.state, event, now, self.plan(fresh.format))
            if state == fresh.state:
                return fresh
            posts = await self._posts(fresh, state, effects, now)
            if not await self.repos.checkins.save(fresh, state, posts, now):
                raise machine.Refused("checkin.changed_meanwhile")
            log.info(
                "check-in %s: %s -> %s (%d posts)",
                fresh.id,
                fresh.state.phase.value,
                state.phase.value,
                len(posts),
            )
        self._wake.set()
        await self.flush()
        return CheckinRecord(fresh.id, fresh.room_id, fresh.occurrence, fresh.format, state)

    async def abandon(self, room_id: str) -> int:
        """The bot was removed from the room: end its unfinished check-ins without a word.

        Called once the group is marked as left, so the flush that follows drops whatever the
        outbox still held for the room instead of sending it. Returns how many were ended.
        """
        ended = 0
        for record in await self.repos.checkins.unfinished():
            if record.room_id != room_id:
                continue
            with contextlib.suppress(machine.Refused):
                await self.apply(record, machine.Abandon())
                ended += 1
        await self.flush()
        return ended

    async def tick(self) -> int:
        """Feed a `Tick` to every check-in whose deadline has come."""
        now = self.clock.now()
        acted = 0
        for record in await self.repos.checkins.unfinished():
            deadline = record.state.deadline
            if deadline is not None and deadline <= now:
                try:
                    await self.apply(record, machine.Tick())
                    acted += 1
                except machine.Refused:
                    continue
        return acted

    # -- members' messages and reactions -------------------------------------------------------

    async def count_message(self, message: Message) -> None:
        """Count (never store) a member's message in the running round."""
        record = await self.repos.checkins.current(message.room_id)
        if record is None or record.state.phase is not machine.Phase.ROUND:
            return
        if not await self.repos.members.is_member(message.room_id, message.sender):
            return
        key = self.plan(record.format).rounds[record.state.round_index].key
        await self.repos.checkins.count_message(record.id, message.sender, key)

    async def pass_round(self, room_id: str, user_id: str) -> bool:
        """`!passer`: always fine; no nudge for this round afterwards."""
        record = await self.repos.checkins.current(room_id)
        if record is None or record.state.phase is not machine.Phase.ROUND:
            return False
        key = self.plan(record.format).rounds[record.state.round_index].key
        await self.repos.checkins.mark_passed(record.id, user_id, key)
        return True

    async def mark_present(self, room_id: str, user_id: str) -> bool | None:
        """`!present` or ✅ on the reminder; None when there is no check-in to attend."""
        record = await self.repos.checkins.current(room_id)
        if record is None:
            return None
        return await self.repos.checkins.mark_present(record.id, user_id, self.clock.now())

    async def on_reaction(self, reaction: Reaction) -> bool:
        """A ✅ on a reminder counts as attendance for that check-in."""
        if reaction.key.rstrip("\ufe0f") != ATTENDANCE_EMOJI:
            return False
        key = await self.repos.checkins.post_for_event(reaction.target_event_id)
        if key is None or not key.endswith(":reminder"):
            return False
        # Like `!present`: only members who opted in count towards the quorum.
        if not await self.repos.members.is_member(reaction.room_id, reaction.sender):
            return False
        checkin_id = int(key.split(":")[1])
        await self.repos.checkins.mark_present(checkin_id, reaction.sender, self.clock.now())
        return True

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Sleep until the earliest deadline, tick, send; until `stop()`."""
        while not self._stopping.is_set():
            delay: float | None = None
            try:
                await self.tick()
                failed = await self.flush()
                delay = await self._delay_to_next_deadline()
                if failed:
                    retry = RETRY_DELAY.total_seconds()
                    delay = retry if delay is None else min(delay, retry)
            except Exception:
                log_failure(log, "check-in loop failed; retrying")
                delay = RETRY_DELAY.total_seconds()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def wake(self) -> None:
        """Re-read the deadlines now (a check-in was created or changed elsewhere)."""
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _delay_to_next_deadline(self) -> float | None:
        deadlines = [
            r.state.deadline
            for r in await self.repos.checkins.unfinished()
            if r.state.deadline is not None
        ]
        if not deadlines:
            return None
        return max(0.0, (min(deadlines) - self.clock.now()).total_seconds())

    # -- effects into posts ------------------------------------------------------------------

    async def _posts(
        self,
        record: CheckinRecord,
        state: machine.State,
        effects: list[machine.Effect],
        now: datetime,
    ) -> list[tuple[str, dict[str, Any]]]:
        """Turn the machine's effects into keyed, renderable posts (no member's words)."""
        room = record.room_id
        prefix = f"checkin:{record.id}"
        posts: list[tuple[str, dict[str, Any]]] = []
        for effect in effects:
            if isinstance(effect, machine.PostReminder):
                starts = state.starts_at or now
                posts.append((f"{prefix}:reminder", _room(room, "reminder", starts=_iso(starts))))
            elif isinstance(effect, machine.CheckQuorum):
                posts += await self._quorum_posts(record, prefix)
            elif isinstance(effect, machine.PostOpening):
                posts.append((f"{prefix}:opening", _room(room, "opening", late=effect.late)))
            elif isinstance(effect, machine.PostPrompt):
                posts.append(
                    (
                        f"{prefix}:round:{effect.round_index}",
                        _room(
                            room,
                            "prompt",
                            round=effect.round_index,
                            ends=_iso(effect.ends_at),
                            resumed=effect.resumed,
                        ),
                    )
                )
            elif isinstance(effect, machine.NudgeQuiet):
                posts += await self._nudge_posts(record, effect.round_index, prefix)
            elif isinstance(effect, machine.PostSummary):
                participants = await self.repos.checkins.participants(record.id)
                parked = await self.repos.parking.count_for_checkin(record.id)
                upcoming = await self._next_date(room, now)
                posts.append(
                    (
                        f"{prefix}:summary",
                        _room(
                            room,
                            "summary",
                            participants=participants,
                            parked=parked,
                            next=None if upcoming is None else _iso(upcoming),
                            missed_end=effect.missed_end,
                        ),
                    )
                )
            elif isinstance(effect, machine.NotifyMissed):
                for moderator in self._moderators(room):
                    posts.append(
                        (
                            f"{prefix}:missed:{moderator}",
                            _direct(room, moderator, "missed", starts=_iso(record.occurrence)),
                        )
                    )
        return posts

    async def _quorum_posts(
        self, record: CheckinRecord, prefix: str
    ) -> list[tuple[str, dict[str, Any]]]:
        group = await self.repos.groups.get(record.room_id)
        present = len(await self.repos.checkins.present(record.id))
        if group is None or present >= group.quorum:
            return []
        return [
            (
                f"{prefix}:quorum:{moderator}",
                _direct(record.room_id, moderator, "quorum", present=present, quorum=group.quorum),
            )
            for moderator in self._moderators(record.room_id)
        ]

    async def _nudge_posts(
        self, record: CheckinRecord, round_index: int, prefix: str
    ) -> list[tuple[str, dict[str, Any]]]:
        round_key = self.plan(record.format).rounds[round_index].key
        members = set(await self.repos.members.list(record.room_id))
        present = set(await self.repos.checkins.present(record.id))
        done = await self.repos.checkins.spoke_or_passed(record.id, round_key)
        quiet = sorted((members & present) - done)
        posts = []
        # No "nudged" flag is written here: the outbox key (round, person) is what makes the
        # nudge once-only, and it is stored in the same transaction as the state.
        for user in quiet:
            posts.append(
                (f"{prefix}:nudge:{round_index}:{user}", _direct(record.room_id, user, "nudge"))
            )
        return posts

    def _moderators(self, room_id: str) -> list[str]:
        return room_moderators(self.transport, self.settings, room_id)

    async def _next_date(self, room_id: str, now: datetime) -> datetime | None:
        schedule = await self.repos.schedules.get(room_id)
        if schedule is None:
            return None
        return next_occurrence(schedule, now)

    # -- sending -----------------------------------------------------------------------------

    async def flush(self) -> int:
        """Send every pending post; returns how many failed (they stay pending).

        A post for a room the bot is no longer in is dropped, not failed: marked done without
        an event id (as a post with nothing left to say is), so it is never retried.
        """
        async with self._sending:
            return await self._flush_pending()

    async def _flush_pending(self) -> int:
        failed = 0
        for entry in await self.repos.checkins.pending_posts():
            left = await self._left_room(entry.post)
            if left is not None:
                log.info("post %s dropped: the bot was removed from room %s", entry.key, left)
                await self.repos.checkins.mark_sent(entry.key, None, self.clock.now())
                continue
            try:
                out = await self._render(entry.key, entry.post)
                event_id = None if out is None else await self.transport.send(out)
            except Exception as exc:
                room = _destination(entry.post)
                if room is not None and room not in self.transport.joined_rooms():
                    log.warning(
                        "post %s dropped: the bot is not in room %s (%s)",
                        entry.key,
                        room,
                        type(exc).__name__,
                    )
                    await self.repos.checkins.mark_sent(entry.key, None, self.clock.now())
                    continue
                log_failure(log, "sending post %s failed; kept for retry", entry.key)
                failed += 1
                continue
            await self.repos.checkins.mark_sent(entry.key, event_id, self.clock.now())
        return failed

    async def _left_room(self, post: dict[str, Any]) -> str | None:
        """The group room the post belongs to, if the bot was removed from it; else None.

        An agenda belongs to the team-meeting room it is posted in: a group the bot left still
        has its items put on the team's agenda (they are the moderators', not the room's).
        Private posts belong to their group's room: a nudge or a note about a check-in that
        ended with the bot's departure has nothing left to say.
        """
        room = post["target"] if post.get("kind") == "agenda" else post["room"]
        group = await self.repos.groups.get(room)
        return room if group is not None and not group.bot_present else None

    async def _render(self, key: str, post: dict[str, Any]) -> Text | Direct | React | None:
        room_id = post["room"]
        if post["kind"] == "react":
            return React(room_id=room_id, event_id=post["event"], emoji=post["emoji"], key=key)
        group = await self.repos.groups.get(room_id)
        if group is None:  # the group was removed; nothing to say any more
            return None
        if post["kind"] == "agenda":
            rendered = await self._agenda(group, post)
            # Posted in the team-meeting room, not in the group's.
            return Text(room_id=post["target"], body=rendered.body, html=rendered.html, key=key)
        rendered = self._rendered(group, post)
        if post["to"] == "user":
            return Direct(user_id=post["user"], body=rendered.body, html=rendered.html, key=key)
        return Text(room_id=room_id, body=rendered.body, html=rendered.html, key=key)

    async def _agenda(self, group: Group, post: dict[str, Any]) -> Rendered:
        rows = await self.repos.parking.agenda_items(int(post["agenda"]))
        meeting = post.get("meeting")
        agenda = Agenda(
            group=group.name or self.transport.room_name(group.room_id),
            meeting=None if meeting is None else datetime.fromisoformat(meeting),
            timezone=group.timezone,
            lines=tuple(
                AgendaLine(item.number, item.text, item.shown_author, carried, item.created_at)
                for item, carried in rows
            ),
        )
        return render_agenda(agenda, group.language)

    def _rendered(self, group: Group, post: dict[str, Any]) -> Rendered:
        lang = group.language
        zone = ZoneInfo(group.timezone)
        kind = post["kind"]
        fmt = self.format_for(group.format)

        def local(value: str | None) -> str:
            if value is None:
                return "—"
            return datetime.fromisoformat(value).astimezone(zone).strftime("%H:%M")

        def day(value: str | None) -> str:
            if value is None:
                return render(lang, "checkin.no_next_date").body
            return local_date(lang, datetime.fromisoformat(value), group.timezone)

        if kind == "reminder":
            return render(
                lang, "checkin.reminder", time=local(post["starts"]), title=fmt.title(lang)
            )
        if kind == "opening":
            parts = [
                render(lang, "checkin.opening", title=fmt.title(lang)),
                render(lang, "groupe.rules"),
            ]
            if post.get("late"):
                parts.insert(0, render(lang, "checkin.opening_late"))
            return join(parts, "\n\n")
        if kind == "prompt":
            index = int(post["round"])
            round_ = fmt.rounds[index] if index < len(fmt.rounds) else None
            if round_ is None:
                return render(lang, "checkin.round_unknown")
            texts = round_.text(lang)
            key = "checkin.prompt_resumed" if post.get("resumed") else "checkin.prompt"
            header = render(
                lang,
                key,
                number=index + 1,
                total=len(fmt.rounds),
                title=texts.title,
                duration=duration(round_.duration),
                ends=local(post["ends"]),
            )
            # The format's prompt is operator-written markup, not a member's words.
            prompt = render_template(texts.prompt.replace("{", "{{").replace("}", "}}"), {})
            return join([header, prompt])
        if kind == "summary":
            parts = []
            if post.get("missed_end"):
                parts.append(render(lang, "checkin.closed_while_away"))
            parts.append(
                render(
                    lang,
                    "checkin.summary",
                    participants=post["participants"],
                    parked=post.get("parked", 0),
                    next=day(post.get("next")),
                )
            )
            return join(parts, "\n")
        if kind == "nudge":
            return render(lang, "checkin.nudge")
        if kind == "quorum":
            return render(
                lang, "checkin.quorum_low", present=post["present"], quorum=post["quorum"]
            )
        if kind == "missed":
            return render(lang, "checkin.missed", when=day(post.get("starts")))
        raise ValueError(f"unknown post kind {kind!r}")


def _destination(post: dict[str, Any]) -> str | None:
    """The room a post goes into; None for a private post (the transport finds its room)."""
    if post.get("kind") == "agenda":
        return str(post["target"])
    return None if post.get("to") == "user" else str(post["room"])


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _room(room_id: str, kind: str, **params: Any) -> dict[str, Any]:
    return {"to": "room", "room": room_id, "kind": kind, **params}


def _direct(room_id: str, user_id: str, kind: str, **params: Any) -> dict[str, Any]:
    return {"to": "user", "room": room_id, "user": user_id, "kind": kind, **params}
