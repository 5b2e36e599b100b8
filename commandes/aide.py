"""`!aide`: the commands the sender may use, or one command's usage and help."""

from __future__ import annotations

from bot.context import Context
from bot.i18n import Rendered, join
from commandes.arguments import Arg, Rest
from commandes.registry import Command, Router

router = Router()


@router.command(
    "aide",
    aliases=("help",),
    args=(Arg("commande", Rest(max_length=80), optional=True),),
)
async def aide(ctx: Context, commande: str | None) -> None:
    if not commande:
        allowed = [c for c in ctx.registry.commands if ctx.allowed(c)]
        lines = [ctx.render("aide.title"), *(_line(ctx, c) for c in allowed)]
        lines.append(ctx.render("aide.footer"))
        await ctx.reply_rendered(join(lines))
        return
    wanted = commande.lstrip("!/")
    command = ctx.registry.find(wanted)
    if command is not None:
        shown = command.shown_name(ctx.language)
        others = [n for n in (command.name, *command.aliases) if n != shown]
        await ctx.reply(
            "aide.one",
            usage=command.usage(ctx.language),
            help=command.help(ctx.language),
            aliases=", ".join(f"!{a}" for a in others) or "—",
            role=ctx.render(f"aide.role_{command.role.name.lower()}").body,
        )
        return
    words = wanted.split()
    family = [c for c in ctx.registry.family(words[0]) if ctx.allowed(c)] if words else []
    if family:
        await ctx.reply_rendered(join([_line(ctx, c) for c in family]))
    else:
        await ctx.reply("aide.unknown", typed=wanted)


def _line(ctx: Context, command: Command) -> Rendered:
    return ctx.render(
        "aide.line", usage=command.usage(ctx.language), help=command.help(ctx.language)
    )
