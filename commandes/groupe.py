"""`!groupe …`, `!rejoindre`, `!quitter`: set a room up as a group; opt in and out freely."""

from __future__ import annotations

from bot.context import Context
from bot.i18n import duration
from bot.messages import Direct
from commandes.arguments import Arg, Choice, Integer, TimeZone, Word
from commandes.horaire import describe
from commandes.registry import Role, Router
from stockage.groups import Group, GroupKind

router = Router()

KIND = Choice(
    {
        "soutien": "soutien",
        "support": "soutien",
        "pairs": "soutien",
        "communaute": "communaute",
        "community": "communaute",
        "cop": "communaute",
    },
    shown=("soutien", "communaute"),
)
LANGUAGE = Choice({"fr": "fr", "francais": "fr", "en": "en", "english": "en", "anglais": "en"})

DEFAULT_FORMATS = {GroupKind.SUPPORT: "soutien-30", GroupKind.COMMUNITY: "communaute-theme"}


@router.command(
    "groupe creer",
    aliases=("group create",),
    role=Role.MODERATOR,
    args=(
        Arg("type", KIND, optional=True),
        Arg("langue", LANGUAGE, optional=True),
        Arg("fuseau", TimeZone(), optional=True),
    ),
)
async def creer(ctx: Context, type: str | None, langue: str | None, fuseau: str | None) -> None:
    settings = ctx.services.settings
    kind = GroupKind(type or GroupKind.SUPPORT.value)
    group = Group(
        room_id=ctx.room_id,
        kind=kind,
        language=langue or settings.language,
        timezone=fuseau or settings.timezone,
        format=DEFAULT_FORMATS[kind],
        created_by=ctx.sender,
        created_at=ctx.services.clock.now(),
        name=ctx.services.transport.room_name(ctx.room_id),
    )
    if not await ctx.services.repos.groups.create(group):
        await ctx.reply("groupe.already")
        return
    # From now on the room speaks the group's language.
    ctx.language = group.language
    ctx.group = group
    await ctx.reply(f"groupe.created_{kind.value}", timezone=group.timezone)


@router.command("groupe info", aliases=("group info",), needs_group=True)
async def info(ctx: Context) -> None:
    assert ctx.group is not None
    group = ctx.group
    repos = ctx.services.repos
    await ctx.reply(
        "groupe.info",
        kind=ctx.render(f"groupe.kind_{group.kind.value}").body,
        language=ctx.render(f"groupe.language_{group.language}").body,
        timezone=group.timezone,
        format=group.format,
        members=await repos.members.count(group.room_id),
        moderators=", ".join(ctx.services.moderators(group.room_id)) or "—",
        schedule=describe(ctx, await repos.schedules.get(group.room_id)),
    )


@router.command("groupe regles", aliases=("group rules", "regles", "rules"))
async def regles(ctx: Context) -> None:
    await ctx.reply("groupe.rules")


@router.command(
    "groupe langue",
    aliases=("group language",),
    role=Role.MODERATOR,
    args=(Arg("langue", LANGUAGE),),
    needs_group=True,
)
async def langue(ctx: Context, langue: str) -> None:
    await ctx.services.repos.groups.set_language(ctx.room_id, langue)
    ctx.language = langue
    await ctx.reply("groupe.language_set")


@router.command("rejoindre", aliases=("join",), needs_group=True)
async def rejoindre(ctx: Context) -> None:
    members = ctx.services.repos.members
    joined = await members.join(ctx.room_id, ctx.sender, ctx.services.clock.now())
    await ctx.reply("groupe.joined" if joined else "groupe.already_member")
    if joined:
        await check_size(ctx, joined=True)


SUPPORT_MIN, SUPPORT_MAX = 4, 8


async def check_size(ctx: Context, *, joined: bool) -> None:
    """The method wants 4 to 8 peers: tell moderators privately (never blocking) when a join
    takes the group above 8 or a departure below 4 — not at every join while it forms."""
    assert ctx.group is not None
    if ctx.group.kind is not GroupKind.SUPPORT:
        return
    count = await ctx.services.repos.members.count(ctx.room_id)
    if (joined and count > SUPPORT_MAX) or (not joined and count < SUPPORT_MIN):
        await warn_moderators(
            ctx, "groupe.warn_size", count=count, minimum=SUPPORT_MIN, maximum=SUPPORT_MAX
        )


async def warn_moderators(ctx: Context, key: str, /, **params: object) -> None:
    """A private note to each moderator of the group, in the group's language."""
    rendered = ctx.render(key, **params)
    for moderator in ctx.services.moderators(ctx.room_id):
        await ctx.services.transport.send(
            Direct(user_id=moderator, body=rendered.body, html=rendered.html)
        )


@router.command("quitter", aliases=("leave",), needs_group=True)
async def quitter(ctx: Context) -> None:
    left = await ctx.services.repos.members.leave(ctx.room_id, ctx.sender)
    await ctx.reply("groupe.left" if left else "groupe.not_member")
    if left:
        await check_size(ctx, joined=False)


@router.command(
    "groupe format",
    aliases=("group format",),
    role=Role.MODERATOR,
    args=(Arg("format", Word(max_length=64)),),
    needs_group=True,
)
async def format_(ctx: Context, format: str) -> None:
    formats = ctx.services.checkins.formats
    chosen = formats.get(format.lower())
    if chosen is None:
        await ctx.reply("groupe.unknown_format", typed=format, formats=", ".join(sorted(formats)))
        return
    await ctx.services.repos.groups.set_format(ctx.room_id, chosen.name)
    await ctx.reply(
        "groupe.format_set",
        title=chosen.title(ctx.language),
        rounds=len(chosen.rounds),
        length=duration(chosen.duration),
    )


ROLE = Choice(
    {
        "gestionnaire": "gestionnaire",
        "manager": "gestionnaire",
        "cadre": "gestionnaire",
        "aucun": "aucun",
        "none": "aucun",
        "pair": "aucun",
        "peer": "aucun",
    },
    shown=("gestionnaire", "aucun"),
)


@router.command("role", aliases=("peer-role",), args=(Arg("role", ROLE),), needs_group=True)
async def role(ctx: Context, role: str) -> None:
    """A member says they manage others here: the method wants peers with no hierarchy."""
    repos = ctx.services.repos
    if not await repos.members.is_member(ctx.room_id, ctx.sender):
        await ctx.reply("groupe.not_member")
        return
    await repos.members.set_role(ctx.room_id, ctx.sender, None if role == "aucun" else role)
    await ctx.reply("groupe.role_set" if role != "aucun" else "groupe.role_cleared")
    if role == "gestionnaire":
        await warn_moderators(ctx, "groupe.warn_manager")


@router.command(
    "groupe rappel",
    aliases=("group reminder",),
    role=Role.MODERATOR,
    args=(Arg("minutes", Integer(0, 24 * 60)),),
    needs_group=True,
)
async def rappel(ctx: Context, minutes: int) -> None:
    """How long before each scheduled check-in the reminder and attendance call go out."""
    await ctx.services.repos.groups.set_settings(ctx.room_id, reminder_minutes=minutes)
    await _rearm(ctx)
    await ctx.reply("groupe.reminder_set" if minutes else "groupe.reminder_off", minutes=minutes)


@router.command(
    "groupe quorum",
    aliases=("group quorum",),
    role=Role.MODERATOR,
    args=(Arg("personnes", Integer(0, 50)),),
    needs_group=True,
)
async def quorum(ctx: Context, personnes: int) -> None:
    """Below this many « present » answers, moderators hear it privately before the check-in."""
    await ctx.services.repos.groups.set_settings(ctx.room_id, quorum=personnes)
    await ctx.reply("groupe.quorum_set", quorum=personnes)


async def _rearm(ctx: Context) -> None:
    schedule = await ctx.services.repos.schedules.get(ctx.room_id)
    if schedule is not None:
        await ctx.services.scheduler.arm(schedule)
