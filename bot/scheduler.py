"""The calendar side of check-ins: one APScheduler job per active schedule.

The job fires at the reminder time of the next occurrence and asks the check-in engine to
prepare that occurrence; from then on the engine's own deadlines run it (reminder, quorum,
start, rounds). Jobs live in memory and are rebuilt from the database at start, so the
database is the only truth about schedules.

`misfire_grace_time` and `coalesce` are set explicitly: APScheduler's default drops a job that
runs more than one second late, a known cause of missed reminders in other Matrix bots. Here a
late job still prepares its occurrence and the check-in machine decides: start late with a note
within the grace period, or skip and tell the moderators.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.agendas import AgendaService
from bot.checkins import CheckinEngine
from bot.clock import Clock
from bot.schedule import Schedule, occurrences
from stockage.repositories import Repositories

log = logging.getLogger(__name__)

# How far back a restart looks for occurrences it missed entirely (to tell the moderators).
LOOK_BACK = timedelta(days=7)


def job_id(room_id: str) -> str:
    return f"schedule:{room_id}"


def agenda_job_id(room_id: str) -> str:
    return f"agenda:{room_id}"


class ScheduleRunner:
    def __init__(
        self,
        engine: CheckinEngine,
        agendas: AgendaService,
        repos: Repositories,
        clock: Clock,
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        self.engine = engine
        self.agendas = agendas
        self.repos = repos
        self.clock = clock
        self.scheduler = scheduler or AsyncIOScheduler(timezone=UTC)

    async def start(self, *, paused: bool = False) -> None:
        """Start APScheduler and rebuild every job from the database."""
        self.scheduler.start(paused=paused)
        await self.rebuild()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def rebuild(self) -> None:
        for schedule in await self.repos.schedules.all_active():
            await self.arm(schedule, catch_up=True)
        for meeting in await self.repos.meetings.all():
            await self.arm_agenda(meeting.room_id)

    async def arm(self, schedule: Schedule, *, catch_up: bool = False) -> datetime | None:
        """(Re)arm the schedule's job; returns the first occurrence still ahead, if any.

        With `catch_up`, occurrences whose reminder time already passed (the bot was down, or
        the schedule was set less than the reminder lead before it) are prepared at once.
        """
        self.disarm(schedule.room_id)
        if schedule.paused:
            return None
        group = await self.repos.groups.get(schedule.room_id)
        if group is None or not group.bot_present:
            # A group whose room the bot was removed from keeps its schedule, unarmed: it is
            # armed again when the bot is invited back (`Halte._bot_returned`).
            return None
        now = self.clock.now()
        lead = timedelta(minutes=group.reminder_minutes)
        zone = ZoneInfo(schedule.timezone)
        since = now - max(LOOK_BACK, lead + self.engine.plan(group.format).grace)
        upcoming = None
        first_ahead = None
        for occurrence in occurrences(schedule, since, 64):
            if occurrence.astimezone(zone).date() < schedule.anchor:
                continue  # before the schedule existed: nothing was missed
            if occurrence > now and first_ahead is None:
                first_ahead = occurrence
            if occurrence - lead > now:
                upcoming = occurrence
                break
            if catch_up or occurrence > now:
                await self.engine.prepare(schedule.room_id, occurrence)
        if upcoming is None:
            return first_ahead
        grace = lead + self.engine.plan(group.format).grace
        self.scheduler.add_job(
            self._fire,
            DateTrigger(run_date=upcoming - lead, timezone=UTC),
            args=(schedule.room_id, upcoming),
            id=job_id(schedule.room_id),
            replace_existing=True,
            misfire_grace_time=int(grace.total_seconds()),
            coalesce=True,
            max_instances=1,
        )
        log.info("schedule for %s armed: reminder at %s", schedule.room_id, upcoming - lead)
        return first_ahead

    def disarm(self, room_id: str) -> None:
        self._remove(job_id(room_id))

    def armed_for(self, room_id: str) -> datetime | None:
        """When the room's check-in job will fire next (for `!horaire` and tests)."""
        return self._run_time(job_id(room_id))

    async def arm_agenda(self, room_id: str) -> datetime | None:
        """(Re)arm the job posting the agenda a lead time before the next team meeting.

        If the lead time has already come (set late, or the bot was down) and that meeting's
        agenda was not posted, it is posted now. Returns the meeting the job prepares.
        """
        self._remove(agenda_job_id(room_id))
        group = await self.repos.groups.get(room_id)
        meeting_schedule = await self.repos.meetings.get(room_id)
        if group is None or meeting_schedule is None or group.meeting_room is None:
            return None
        now = self.clock.now()
        lead = timedelta(hours=group.agenda_lead_hours)
        for meeting in occurrences(meeting_schedule, now, 8):
            if meeting - lead > now:
                self.scheduler.add_job(
                    self._fire_agenda,
                    DateTrigger(run_date=meeting - lead, timezone=UTC),
                    args=(room_id, meeting),
                    id=agenda_job_id(room_id),
                    replace_existing=True,
                    misfire_grace_time=int(lead.total_seconds()),
                    coalesce=True,
                    max_instances=1,
                )
                return meeting
            if await self.repos.parking.agenda_for_meeting(room_id, meeting) is None:
                await self.agendas.publish(group, meeting)
        return None

    def armed_agenda_for(self, room_id: str) -> datetime | None:
        return self._run_time(agenda_job_id(room_id))

    async def _fire_agenda(self, room_id: str, meeting: datetime) -> None:
        group = await self.repos.groups.get(room_id)
        if group is not None and group.meeting_room is not None:
            await self.agendas.publish(group, meeting)
        await self.arm_agenda(room_id)

    def arm_daily(
        self, name: str, job: Callable[[], Awaitable[None]], at: time, zone: ZoneInfo
    ) -> None:
        """Run `job` every day at `at`, wall-clock time in `zone` (housekeeping such as the
        retention purge). Jobs live in memory: days the bot was down are the caller's to
        cover, for example by running the job once at start."""
        self.scheduler.add_job(
            job,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=zone),
            id=name,
            replace_existing=True,
            misfire_grace_time=int(timedelta(hours=12).total_seconds()),
            coalesce=True,
            max_instances=1,
        )

    def next_daily(self, name: str) -> datetime | None:
        """When the daily job `name` runs next, after the clock's now (for tests)."""
        job = self.scheduler.get_job(name)
        if job is None:
            return None
        run: datetime | None = job.trigger.get_next_fire_time(None, self.clock.now())
        return run

    def _remove(self, job: str) -> None:
        if self.scheduler.get_job(job) is not None:
            self.scheduler.remove_job(job)

    def _run_time(self, job_name: str) -> datetime | None:
        job = self.scheduler.get_job(job_name)
        if job is None:
            return None
        # Before the scheduler starts, a job has no next_run_time yet; its trigger knows.
        run: datetime | None = getattr(job, "next_run_time", None) or job.trigger.run_date
        return run

    async def _fire(self, room_id: str, occurrence: datetime) -> None:
        """The job: prepare this occurrence, then arm the next one."""
        await self.engine.prepare(room_id, occurrence)
        schedule = await self.repos.schedules.get(room_id)
        if schedule is not None:
            await self.arm(schedule)
