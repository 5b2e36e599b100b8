"""`!horaire …`: each group chooses when it meets, in its own time zone.

Daylight-saving changes keep the wall-clock time; skipped dates, pause and resume are explicit.
The schedule is stored first, then its job is re-armed, so a crash in between loses nothing:
jobs are rebuilt from the database at every start.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot import checkin as machine
from bot.context import Context
from bot.i18n import local_date
from bot.schedule import Cadence, Schedule, Weekday, first_anchor, is_on_cadence, occurrences
from commandes.arguments import Arg, Day, TimeOfDay
from commandes.registry import Role, Router

router = Router()

SHOWN_DATES = 3


def _when(ctx: Context, moment: datetime, zone: ZoneInfo) -> str:
    return local_date(ctx.language, moment, zone.key)


def typed_schedule(
    ctx: Context, jour: int, heure: time, cadence: tuple[int, str | None] | None
) -> Schedule:
    """The schedule a moderator typed (`<jour> <HH:MM> [cadence] [fuseau]`), from now on; the
    group's time zone unless another is named. Shared by `!horaire` and `!ordre-du-jour`."""
    assert ctx.group is not None
    every, zone_name = cadence or (1, None)
    timezone = zone_name or ctx.group.timezone
    return Schedule(
        room_id=ctx.room_id,
        weekday=jour,
        start=heure,
        every_weeks=every,
        timezone=timezone,
        anchor=first_anchor(jour, heure, timezone, ctx.services.clock.now()),
    )


def _cadence(ctx: Context, every: int) -> str:
    if every == 1:
        return ctx.render("horaire.weekly").body
    return ctx.render("horaire.every_n", every=every).body


def describe(ctx: Context, schedule: Schedule | None) -> str:
    """One line for `!groupe info`: when the group meets, or that it has no schedule."""
    if schedule is None:
        return ctx.render("horaire.summary_none").body
    if schedule.paused:
        return ctx.render("horaire.summary_paused").body
    return ctx.render(
        "horaire.summary",
        weekday=ctx.render(f"days.d{schedule.weekday}").body,
        time=schedule.start.strftime("%H:%M"),
        every=_cadence(ctx, schedule.every_weeks),
    ).body


async def _show(ctx: Context) -> None:
    schedule = await ctx.services.repos.schedules.get(ctx.room_id)
    if schedule is None:
        await ctx.reply("horaire.none")
        return
    zone = ZoneInfo(schedule.timezone)
    if schedule.paused:
        await ctx.reply("horaire.paused_state")
        return
    upcoming = occurrences(schedule, ctx.services.clock.now(), SHOWN_DATES)
    dates = "\n".join(f"• {_when(ctx, moment, zone)}" for moment in upcoming)
    await ctx.reply(
        "horaire.show",
        weekday=ctx.render(f"days.d{schedule.weekday}").body,
        time=schedule.start.strftime("%H:%M"),
        every=_cadence(ctx, schedule.every_weeks),
        timezone=schedule.timezone,
        dates=dates or "—",
    )


@router.command(
    "horaire",
    aliases=("schedule",),
    args=(
        Arg("jour", Weekday(), optional=True),
        Arg("heure", TimeOfDay(), optional=True),
        Arg("cadence", Cadence(), optional=True),
    ),
    needs_group=True,
)
async def horaire(
    ctx: Context,
    jour: int | None,
    heure: time | None,
    cadence: tuple[int, str | None] | None,
) -> None:
    """Without arguments, anyone sees the next dates; with them, a moderator sets the schedule."""
    if jour is None and heure is None and cadence is None:
        await _show(ctx)
        return
    command = ctx.registry.find("horaire")
    assert command is not None
    assert ctx.group is not None
    if not ctx.is_moderator:
        await ctx.reply("errors.moderators_only", command=command.shown_name(ctx.language))
        return
    if jour is None or heure is None:
        missing = command.args[0 if jour is None else 1]
        problem = ctx.render("errors.missing", arg=missing.label(ctx.language)).body
        await ctx.reply("errors.usage", problem=problem, usage=command.usage(ctx.language))
        return
    # Anyone may read the schedule; setting it is a moderator's act, audited like one.
    ctx.acting_as_moderator()
    now = ctx.services.clock.now()
    schedule = typed_schedule(ctx, jour, heure, cadence)
    every, timezone = schedule.every_weeks, schedule.timezone
    await ctx.services.repos.schedules.save(schedule, now)
    stored = await ctx.services.repos.schedules.get(ctx.room_id)
    assert stored is not None
    upcoming = await ctx.services.scheduler.arm(stored)
    await ctx.reply(
        "horaire.set",
        weekday=ctx.render(f"days.d{jour}").body,
        time=heure.strftime("%H:%M"),
        every=_cadence(ctx, every),
        timezone=timezone,
        first=_when(ctx, upcoming, ZoneInfo(timezone)) if upcoming else "—",
    )


@router.command(
    "horaire annuler",
    aliases=("schedule skip",),
    role=Role.MODERATOR,
    args=(Arg("date", Day()),),
    needs_group=True,
)
async def annuler(ctx: Context, date: date) -> None:
    repos = ctx.services.repos
    schedule = await repos.schedules.get(ctx.room_id)
    if schedule is None:
        await ctx.reply("horaire.none")
        return
    if not is_on_cadence(schedule, date):
        await ctx.reply("horaire.not_a_date", date=date.isoformat())
        return
    if not await repos.schedules.skip(ctx.room_id, date):
        await ctx.reply("horaire.already_skipped", date=date.isoformat())
        return
    # A check-in already prepared for that date (reminder sent) is cancelled too.
    current = await repos.checkins.current(ctx.room_id)
    zone = ZoneInfo(schedule.timezone)
    if (
        current is not None
        and current.occurrence is not None
        and current.occurrence.astimezone(zone).date() == date
    ):
        # Already running: skipping the date does not stop a check-in under way.
        with contextlib.suppress(machine.Refused):
            await ctx.services.checkins.apply(current, machine.Cancel())
    stored = await repos.schedules.get(ctx.room_id)
    assert stored is not None
    await ctx.services.scheduler.arm(stored)
    await ctx.reply("horaire.skipped", date=date.isoformat())


@router.command("horaire pause", aliases=("schedule pause",), role=Role.MODERATOR, needs_group=True)
async def pause(ctx: Context) -> None:
    if not await ctx.services.repos.schedules.set_paused(ctx.room_id, True):
        await ctx.reply("horaire.none")
        return
    ctx.services.scheduler.disarm(ctx.room_id)
    await ctx.reply("horaire.paused")


@router.command(
    "horaire reprise", aliases=("schedule resume",), role=Role.MODERATOR, needs_group=True
)
async def reprise(ctx: Context) -> None:
    repos = ctx.services.repos
    if not await repos.schedules.set_paused(ctx.room_id, False):
        await ctx.reply("horaire.none")
        return
    stored = await repos.schedules.get(ctx.room_id)
    assert stored is not None
    await ctx.services.scheduler.arm(stored)
    await ctx.reply("horaire.resumed")


@router.command(
    "horaire supprimer", aliases=("schedule delete",), role=Role.MODERATOR, needs_group=True
)
async def supprimer(ctx: Context) -> None:
    if not await ctx.services.repos.schedules.delete(ctx.room_id):
        await ctx.reply("horaire.none")
        return
    ctx.services.scheduler.disarm(ctx.room_id)
    await ctx.reply("horaire.deleted")
