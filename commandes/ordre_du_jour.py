"""`!ordre-du-jour …`: the agenda for the next team meeting, built from the parking lot."""

from __future__ import annotations

from datetime import time

from bot.agendas import NoMeetingRoom
from bot.context import Context
from bot.i18n import local_date
from bot.schedule import Cadence, Weekday, next_occurrence
from commandes.arguments import Arg, Integer, TimeOfDay, Word
from commandes.horaire import typed_schedule
from commandes.registry import Role, Router

router = Router()


@router.command("ordre-du-jour", aliases=("agenda",), role=Role.MODERATOR, needs_group=True)
async def apercu(ctx: Context) -> None:
    """Preview in the group what the next agenda will hold (nothing changes)."""
    assert ctx.group is not None
    preview = await ctx.services.agendas.preview(ctx.group)
    intro = ctx.render("agenda.preview_intro")
    await ctx.reply_rendered(
        type(preview)(f"{intro.body}\n{preview.body}", f"{intro.html}<br>\n{preview.html}")
    )


@router.command(
    "ordre-du-jour publier",
    aliases=("agenda publish",),
    role=Role.MODERATOR,
    needs_group=True,
)
async def publier(ctx: Context) -> None:
    assert ctx.group is not None
    try:
        agenda_id = await ctx.services.agendas.publish(ctx.group, None)
    except NoMeetingRoom:
        await ctx.reply("agenda.no_room")
        return
    if agenda_id is None:
        await ctx.reply("agenda.already_published")
        return
    items = await ctx.services.repos.parking.agenda_items(agenda_id)
    await ctx.reply("agenda.published", count=len(items), room=ctx.group.meeting_room or "")


@router.command(
    "ordre-du-jour salle",
    aliases=("agenda room",),
    role=Role.MODERATOR,
    args=(Arg("salle", Word(max_length=255)),),
    needs_group=True,
)
async def salle(ctx: Context, salle: str) -> None:
    transport = ctx.services.transport
    room_id = await transport.resolve_room(salle)
    if room_id is None:
        await ctx.reply("agenda.room_unknown", room=salle)
        return
    await ctx.services.repos.groups.set_parking(ctx.room_id, meeting_room=room_id)
    joined = room_id in transport.joined_rooms()
    shown = transport.room_name(room_id) if joined else salle
    await ctx.reply("agenda.room_set" if joined else "agenda.room_set_invite", room=shown)
    await ctx.services.scheduler.arm_agenda(ctx.room_id)


@router.command(
    "ordre-du-jour horaire",
    aliases=("agenda schedule",),
    role=Role.MODERATOR,
    args=(
        Arg("jour", Weekday()),
        Arg("heure", TimeOfDay()),
        Arg("cadence", Cadence(), optional=True),
    ),
    needs_group=True,
)
async def horaire(
    ctx: Context, jour: int, heure: time, cadence: tuple[int, str | None] | None
) -> None:
    """When the team meets; the agenda is posted the lead time before."""
    now = ctx.services.clock.now()
    schedule = typed_schedule(ctx, jour, heure, cadence)
    timezone = schedule.timezone
    await ctx.services.repos.meetings.save(schedule, now)
    await ctx.services.scheduler.arm_agenda(ctx.room_id)
    group = await ctx.services.repos.groups.get(ctx.room_id)
    assert group is not None
    if group.meeting_room is None:
        await ctx.reply("agenda.schedule_set_no_room")
        return
    # The next meeting, not the one the job is armed for: when its lead time has already
    # come, arm_agenda posts its agenda now and arms the following week's.
    meeting = next_occurrence(schedule, now)
    assert meeting is not None  # a schedule just made is never paused
    posted = await ctx.services.repos.parking.agenda_for_meeting(ctx.room_id, meeting)
    await ctx.reply(
        "agenda.schedule_set_posted_now" if posted else "agenda.schedule_set",
        meeting=local_date(ctx.language, meeting, timezone),
        hours=group.agenda_lead_hours,
    )


@router.command(
    "ordre-du-jour delai",
    aliases=("agenda lead",),
    role=Role.MODERATOR,
    args=(Arg("heures", Integer(1, 24 * 14)),),
    needs_group=True,
)
async def delai(ctx: Context, heures: int) -> None:
    await ctx.services.repos.groups.set_parking(ctx.room_id, agenda_lead_hours=heures)
    await ctx.services.scheduler.arm_agenda(ctx.room_id)
    await ctx.reply("agenda.lead_set", hours=heures)
