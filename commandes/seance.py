"""`!seance …`, `!present`, `!passer`: run a check-in by hand, say you will attend, pass.

Moderators never need these for a scheduled check-in (time runs it); members never need a
command to take part — writing in the round is taking part.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot import checkin as machine
from bot.context import Context
from bot.i18n import duration, local_date
from commandes.arguments import Arg, Word
from commandes.registry import Role, Router

router = Router()


async def _refused(ctx: Context, exc: machine.Refused, **params: object) -> None:
    await ctx.reply(exc.reason, **params)


@router.command("seance debut", aliases=("checkin start",), role=Role.MODERATOR, needs_group=True)
async def debut(ctx: Context) -> None:
    assert ctx.group is not None
    try:
        await ctx.services.checkins.start_now(ctx.group)
    except machine.Refused as exc:
        await _refused(ctx, exc)


@router.command("seance suivant", aliases=("checkin next",), role=Role.MODERATOR, needs_group=True)
async def suivant(ctx: Context) -> None:
    try:
        await ctx.services.checkins.command(ctx.room_id, machine.Advance(ctx.message.timestamp))
    except machine.Refused as exc:
        await _refused(ctx, exc)


@router.command(
    "seance sauter",
    aliases=("checkin skip",),
    role=Role.MODERATOR,
    args=(Arg("tour", Word(max_length=40)),),
    needs_group=True,
)
async def sauter(ctx: Context, tour: str) -> None:
    assert ctx.group is not None
    engine = ctx.services.checkins
    fmt = engine.format_for(ctx.group.format)
    wanted = tour.lower()
    # A round is named by its key (`meteo`) or its number in the format (`2`).
    if wanted.isdigit() and 1 <= int(wanted) <= len(fmt.rounds):
        wanted = fmt.rounds[int(wanted) - 1].key
    index = fmt.round_index(wanted)
    if index is None:
        keys = ", ".join(r.key for r in fmt.rounds)
        await ctx.reply("checkin.unknown_round", typed=tour, rounds=keys)
        return
    try:
        await engine.command(ctx.room_id, machine.Skip(wanted))
    except machine.Refused as exc:
        await _refused(ctx, exc)
        return
    await ctx.reply("checkin.skipped", title=fmt.rounds[index].text(ctx.language).title)


@router.command("seance fin", aliases=("checkin end",), role=Role.MODERATOR, needs_group=True)
async def fin(ctx: Context) -> None:
    try:
        await ctx.services.checkins.command(ctx.room_id, machine.Finish())
    except machine.Refused as exc:
        await _refused(ctx, exc)


@router.command(
    "seance annuler", aliases=("checkin cancel",), role=Role.MODERATOR, needs_group=True
)
async def annuler(ctx: Context) -> None:
    try:
        await ctx.services.checkins.command(ctx.room_id, machine.Cancel())
    except machine.Refused as exc:
        await _refused(ctx, exc)
        return
    await ctx.reply("checkin.cancelled")


@router.command("seance etat", aliases=("checkin status",), needs_group=True)
async def etat(ctx: Context) -> None:
    assert ctx.group is not None
    engine = ctx.services.checkins
    record = await engine.repos.checkins.current(ctx.room_id)
    if record is None:
        await ctx.reply("checkin.none")
        return
    zone = ZoneInfo(ctx.group.timezone)
    state = record.state
    fmt = engine.format_for(record.format)
    if state.phase is machine.Phase.ROUND and state.round_ends is not None:
        left = duration(state.round_ends - ctx.services.clock.now())
        await ctx.reply(
            "checkin.state_round",
            number=state.round_index + 1,
            total=len(fmt.rounds),
            title=fmt.rounds[state.round_index].text(ctx.language).title,
            left=left,
            ends=state.round_ends.astimezone(zone).strftime("%H:%M"),
        )
        return
    starts = state.starts_at
    when = (
        local_date(ctx.language, starts, ctx.group.timezone)
        if starts is not None
        else ctx.render("checkin.no_next_date").body
    )
    present = len(await engine.repos.checkins.present(record.id))
    await ctx.reply("checkin.state_scheduled", when=when, present=present)


@router.command("present", aliases=("here",), needs_group=True)
async def present(ctx: Context) -> None:
    engine = ctx.services.checkins
    if not await engine.repos.members.is_member(ctx.room_id, ctx.sender):
        await ctx.reply("checkin.present_join_first")
        return
    marked = await engine.mark_present(ctx.room_id, ctx.sender)
    if marked is None:
        await ctx.reply("checkin.present_nothing")
    else:
        await ctx.reply("checkin.present_ok" if marked else "checkin.present_again")


@router.command("passer", aliases=("pass",), needs_group=True)
async def passer(ctx: Context) -> None:
    passed = await ctx.services.checkins.pass_round(ctx.room_id, ctx.sender)
    await ctx.reply("checkin.passed" if passed else "checkin.nothing_to_pass")
