"""`!stationner`, `!stationnement …`: park an issue for the team meeting, and manage the lot.

A peer group is not the place for procedures, software, forms or schedules: those are parked,
kept with who parked them (or anonymously), and put on the next team meeting's agenda. Nothing
parked is ever lost: removing or merging only changes an item's status.
"""

from __future__ import annotations

from bot.context import Context
from bot.i18n import Rendered, join, shorten
from bot.parkinglot import park
from commandes.arguments import Arg, Choice, Integer, Rest
from commandes.registry import Role, Router
from stockage.parking import MAX_TEXT, PENDING, ItemStatus, ParkedItem

router = Router()

NUMBER = Integer(1, 1_000_000)
# Lists stay well under a Matrix event's 64 KiB: the latest items, each shortened.
LIST_ITEMS = 25
LIST_ITEM_CHARS = 200


@router.command(
    "stationner",
    aliases=("park",),
    args=(Arg("texte", Rest(max_length=MAX_TEXT), optional=True),),
    needs_group=True,
)
async def stationner(ctx: Context, texte: str | None) -> None:
    assert ctx.group is not None
    if not texte:
        await ctx.reply("parking.empty_text", limit=MAX_TEXT)
        return
    item, created = await park(ctx.services, ctx.group, texte, ctx.sender, ctx.message.event_id)
    await ctx.reply("parking.parked" if created else "parking.already", number=item.number)


def _line(ctx: Context, item: ParkedItem) -> Rendered:
    status = ctx.render(f"parking.status_{item.status.value}").body
    author = item.shown_author
    key = "parking.item_author" if author else "parking.item"
    return ctx.render(
        key,
        number=item.number,
        text=shorten(item.text, LIST_ITEM_CHARS),
        author=author or "",
        status=status,
    )


async def _list(ctx: Context, everything: bool) -> None:
    items = await ctx.services.repos.parking.items(ctx.room_id, None if everything else PENDING)
    if not items:
        await ctx.reply("parking.empty_all" if everything else "parking.empty")
        return
    title = ctx.render("parking.title_all" if everything else "parking.title", count=len(items))
    # Newest last; a very long lot shows its latest items (a Matrix event holds 64 KiB).
    shown = items[-LIST_ITEMS:]
    lines = [title, *(_line(ctx, item) for item in shown)]
    if len(items) > len(shown):
        lines.insert(1, ctx.render("parking.more_before", count=len(items) - len(shown)))
    await ctx.reply_rendered(join(lines))


@router.command(
    "stationnement",
    aliases=("parking",),
    args=(
        Arg(
            "vue",
            Choice({"liste": "liste", "list": "liste", "tout": "tout", "all": "tout"}),
            optional=True,
        ),
    ),
    needs_group=True,
)
async def stationnement(ctx: Context, vue: str | None) -> None:
    await _list(ctx, everything=vue == "tout")


async def _item(ctx: Context, number: int) -> ParkedItem | None:
    item = await ctx.services.repos.parking.get(ctx.room_id, number)
    if item is None:
        await ctx.reply("parking.unknown", number=number)
    return item


def _item_numbers(*numbers: int) -> str:
    """What an audited action on parked items names: their numbers (`#3 #5`), never text."""
    return " ".join(f"#{number}" for number in numbers)


async def _own_item(ctx: Context, number: int) -> ParkedItem | None:
    """The item, if it exists and the sender parked it or is a moderator (else says why)."""
    item = await _item(ctx, number)
    if item is not None and item.author != ctx.sender and not ctx.is_moderator:
        await ctx.reply("parking.not_yours", number=number)
        return None
    return item


def _audit_if_not_theirs(ctx: Context, item: ParkedItem) -> None:
    """Call just before changing `item`: a moderator acting on an item someone else parked
    (or whose author was erased) uses moderator power, which the audit trail records; a
    person acting on their own item does not."""
    if item.author != ctx.sender:
        ctx.acting_as_moderator(_item_numbers(item.number))


@router.command(
    "stationnement traite",
    aliases=("parking done",),
    role=Role.MODERATOR,
    args=(Arg("numero", NUMBER), Arg("note", Rest(max_length=500), optional=True)),
    needs_group=True,
)
async def traite(ctx: Context, numero: int, note: str | None) -> None:
    item = await _item(ctx, numero)
    if item is None:
        return
    if not item.status.pending:
        await ctx.reply("parking.not_pending", number=numero)
        return
    ctx.acting_as_moderator(_item_numbers(numero))
    await ctx.services.repos.parking.set_status(
        ctx.room_id, numero, ItemStatus.DONE, ctx.services.clock.now(), note=note or None
    )
    await ctx.reply("parking.done", number=numero)


@router.command(
    "stationnement rouvrir",
    aliases=("parking reopen",),
    role=Role.MODERATOR,
    args=(Arg("numero", NUMBER),),
    needs_group=True,
)
async def rouvrir(ctx: Context, numero: int) -> None:
    item = await _item(ctx, numero)
    if item is None:
        return
    if item.status is ItemStatus.MERGED:
        await ctx.reply("parking.merged_cannot_reopen", number=numero)
        return
    ctx.acting_as_moderator(_item_numbers(numero))
    await ctx.services.repos.parking.set_status(
        ctx.room_id, numero, ItemStatus.OPEN, ctx.services.clock.now()
    )
    await ctx.reply("parking.reopened", number=numero)


@router.command(
    "stationnement fusionner",
    aliases=("parking merge",),
    role=Role.MODERATOR,
    args=(Arg("numero", NUMBER), Arg("autre", NUMBER)),
    needs_group=True,
)
async def fusionner(ctx: Context, numero: int, autre: int) -> None:
    if numero == autre:
        await ctx.reply("parking.merge_same")
        return
    for number in (numero, autre):
        item = await _item(ctx, number)
        if item is None:
            return
        if not item.status.pending:
            await ctx.reply("parking.not_pending", number=number)
            return
    ctx.acting_as_moderator(_item_numbers(numero, autre))
    separator = "\n" + ctx.render("parking.merge_separator", number=autre).body + " "
    await ctx.services.repos.parking.merge(
        ctx.room_id, numero, autre, separator, ctx.services.clock.now()
    )
    await ctx.reply("parking.merged", number=numero, other=autre)


@router.command(
    "stationnement retirer",
    aliases=("parking remove",),
    args=(Arg("numero", NUMBER),),
    needs_group=True,
)
async def retirer(ctx: Context, numero: int) -> None:
    """Its author or a moderator takes an item off the lot (kept, marked removed)."""
    item = await _own_item(ctx, numero)
    if item is None:
        return
    if item.status is ItemStatus.REMOVED:
        await ctx.reply("parking.already_removed", number=numero)
        return
    _audit_if_not_theirs(ctx, item)
    await ctx.services.repos.parking.set_status(
        ctx.room_id, numero, ItemStatus.REMOVED, ctx.services.clock.now()
    )
    await ctx.reply("parking.removed", number=numero)


@router.command(
    "stationnement anonymiser",
    aliases=("parking anonymise", "parking anonymize"),
    args=(Arg("numero", NUMBER),),
    needs_group=True,
)
async def anonymiser(ctx: Context, numero: int) -> None:
    """Its author or a moderator hides who parked one item."""
    item = await _own_item(ctx, numero)
    if item is None:
        return
    _audit_if_not_theirs(ctx, item)
    await ctx.services.repos.parking.anonymise(ctx.room_id, numero, ctx.services.clock.now())
    await ctx.reply("parking.anonymised", number=numero)


@router.command(
    "groupe stationnement",
    aliases=("group parking",),
    role=Role.MODERATOR,
    args=(
        Arg(
            "mode",
            Choice(
                {
                    "auteur": "auteur",
                    "author": "auteur",
                    "nominatif": "auteur",
                    "anonyme": "anonyme",
                    "anonymous": "anonyme",
                }
            ),
        ),
    ),
    needs_group=True,
)
async def groupe_stationnement(ctx: Context, mode: str) -> None:
    anonymous = mode == "anonyme"
    await ctx.services.repos.groups.set_parking(ctx.room_id, anonymous=anonymous)
    await ctx.reply("parking.mode_anonymous" if anonymous else "parking.mode_author")
