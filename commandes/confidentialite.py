"""`!confidentialite`, `!mes-donnees`, `!oublier`, `!journal`: the person's rights, and the
audit trail of moderator actions (Québec's Law 25).

Everyone may see what Halte keeps about them and erase it, in a group room or in a direct
chat; what is sent back is private, and the room only hears that it was sent.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.context import Context
from bot.i18n import join
from bot.messages import Direct
from bot.privacy import (
    ERASURE_CONFIRMATION,
    NotConfirmed,
    ask_erasure,
    confirm_erasure,
    send_export,
)
from commandes.arguments import Arg, Choice, Integer
from commandes.registry import Role, Router

router = Router()

CONFIRM = Choice({"confirmer": "confirmer", "confirm": "confirmer"})
JOURNAL_DEFAULT = 20
JOURNAL_MAX = 100


@router.command("confidentialite", aliases=("privacy",))
async def confidentialite(ctx: Context) -> None:
    """What is stored, for how long, who sees it, and how to see and erase one's own."""
    privacy = ctx.services.settings.privacy
    await ctx.reply(
        "privacy.notice",
        dealt_days=privacy.dealt_items_days,
        counts_days=privacy.counts_days,
        journal_days=privacy.journal_days,
    )


@router.command("mes-donnees", aliases=("my-data",))
async def mes_donnees(ctx: Context) -> None:
    """Everything stored about the sender, by direct message."""
    await send_export(
        ctx.services, ctx.sender, ctx.language, f"privacy:{ctx.message.event_id}:export"
    )
    if not ctx.message.is_direct:
        await ctx.reply("privacy.export_sent")


@router.command("oublier", aliases=("forget",), args=(Arg("confirmation", CONFIRM, optional=True),))
async def oublier(ctx: Context, confirmation: str | None) -> None:
    """Erase what is stored about the sender, once they confirm within ten minutes."""
    minutes = int(ERASURE_CONFIRMATION.total_seconds() // 60)
    if confirmation is None:
        await ask_erasure(ctx.services, ctx.sender)
        await ctx.reply("privacy.forget_ask", minutes=minutes)
        return
    try:
        erased = await confirm_erasure(ctx.services, ctx.sender)
    except NotConfirmed as exc:
        await ctx.reply(exc.key, minutes=minutes)
        return
    # The counts say whether safety signals were recorded: the report goes privately.
    report = join(
        [
            ctx.render(
                "privacy.forget_done",
                memberships=erased.memberships,
                roles=erased.roles,
                attendance=erased.attendance,
                participation=erased.participation,
                items_deleted=erased.items_deleted,
                items_anonymised=erased.items_anonymised,
                safety=erased.safety_signals,
                posts=erased.private_posts,
                groups=erased.groups_created,
            ),
            ctx.render("privacy.forget_kept", days=ctx.services.settings.privacy.journal_days),
        ]
    )
    await ctx.services.transport.send(
        Direct(
            user_id=ctx.sender,
            body=report.body,
            html=report.html,
            key=f"privacy:{ctx.message.event_id}:forget",
        )
    )
    if not ctx.message.is_direct:
        await ctx.reply("privacy.forget_done_room")


@router.command(
    "journal",
    aliases=("log", "audit"),
    role=Role.MODERATOR,
    args=(Arg("nombre", Integer(1, JOURNAL_MAX), optional=True),),
)
async def journal(ctx: Context, nombre: int | None) -> None:
    """The room's last moderator actions: who ran which command, on which item, when (never
    what was typed)."""
    entries = await ctx.services.repos.audit.recent(ctx.room_id, nombre or JOURNAL_DEFAULT)
    days = ctx.services.settings.privacy.journal_days
    if not entries:
        await ctx.reply("journal.empty", days=days)
        return
    zone = ZoneInfo(ctx.group.timezone) if ctx.group else ctx.services.settings.zone
    lines = [ctx.render("journal.title", count=len(entries), days=days)]
    for entry in entries:
        command = ctx.registry.find(entry.command)
        key = "journal.line" if entry.target is None else "journal.line_target"
        lines.append(
            ctx.render(
                key if entry.completed else f"{key}_failed",
                date=entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                who=entry.actor,
                command=command.shown_name(ctx.language) if command else entry.command,
                target=entry.target or "",
            )
        )
    await ctx.reply_rendered(join(lines))
