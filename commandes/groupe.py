"""`!groupe …`, `!rejoindre`, `!quitter`: set a room up as a group; opt in and out freely."""

from __future__ import annotations

from bot.context import Context
from commandes.arguments import Arg, Choice, TimeZone
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
        moderators=len(ctx.services.moderators(group.room_id)),
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
    joined = await ctx.services.repos.members.join(
        ctx.room_id, ctx.sender, ctx.services.clock.now()
    )
    await ctx.reply("groupe.joined" if joined else "groupe.already_member")


@router.command("quitter", aliases=("leave",), needs_group=True)
async def quitter(ctx: Context) -> None:
    left = await ctx.services.repos.members.leave(ctx.room_id, ctx.sender)
    await ctx.reply("groupe.left" if left else "groupe.not_member")
