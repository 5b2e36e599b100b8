"""`!recentrer` and the guards' settings: nudges on or off, 🅿️ on technical talk, thresholds,
the crisis net's sensitivity.

The crisis safety net has no switch: it is always on, in every room the bot is in. A group may
make it more sensitive (it then writes more often for nothing), never less.
"""

from __future__ import annotations

from bot.context import Context
from bot.guarding import DEFAULT_THRESHOLDS, refocus
from commandes.arguments import Arg, Choice, Word
from commandes.registry import Role, Router

router = Router()

ON_OFF = Choice({"oui": "oui", "yes": "oui", "on": "oui", "non": "non", "no": "non", "off": "non"})
TECHNICAL = Choice(
    {
        "seance": "seance",
        "checkin": "seance",
        "toujours": "toujours",
        "always": "toujours",
        "non": "non",
        "never": "non",
        "off": "non",
    },
    shown=("seance", "toujours", "non"),
)
THRESHOLD = Choice({name.replace("_", "-"): name for name in DEFAULT_THRESHOLDS})
SENSITIVITY = Choice(
    {"standard": "standard", "normale": "standard", "elevee": "elevee", "high": "elevee"},
    shown=("standard", "elevee"),
)


@router.command("recentrer", aliases=("refocus",), role=Role.MODERATOR, needs_group=True)
async def recentrer(ctx: Context) -> None:
    assert ctx.group is not None
    if not await refocus(ctx.services, ctx.group):
        await ctx.reply("checkin.not_running")


@router.command(
    "groupe relances",
    aliases=("group nudges",),
    role=Role.MODERATOR,
    args=(Arg("choix", ON_OFF),),
    needs_group=True,
)
async def relances(ctx: Context, choix: str) -> None:
    await ctx.services.repos.groups.set_guards(ctx.room_id, nudges=choix == "oui")
    await ctx.reply("guards.nudges_on" if choix == "oui" else "guards.nudges_off")


@router.command(
    "groupe technique",
    aliases=("group technical",),
    role=Role.MODERATOR,
    args=(Arg("quand", TECHNICAL),),
    needs_group=True,
)
async def technique(ctx: Context, quand: str) -> None:
    await ctx.services.repos.groups.set_guards(ctx.room_id, technical_mode=quand)
    await ctx.reply(f"guards.technical_{quand}")


@router.command(
    "groupe seuil",
    aliases=("group threshold",),
    role=Role.MODERATOR,
    args=(Arg("seuil", THRESHOLD), Arg("valeur", Word(max_length=12))),
    needs_group=True,
)
async def seuil(ctx: Context, seuil: str, valeur: str) -> None:
    """Tune one venting threshold for this group (`defaut` puts it back)."""
    assert ctx.group is not None
    thresholds = dict(ctx.group.guard_thresholds)
    if valeur.lower() in ("defaut", "défaut", "default"):
        thresholds.pop(seuil, None)
    else:
        try:
            number = float(valeur.replace(",", "."))
        except ValueError:
            number = -1.0
        if not 0 < number <= 100_000:
            await ctx.reply("guards.threshold_bad", value=valeur)
            return
        thresholds[seuil] = number
    await ctx.services.repos.groups.set_guards(ctx.room_id, thresholds=thresholds)
    shown = {**DEFAULT_THRESHOLDS, **thresholds}
    await ctx.reply("guards.threshold_set", name=seuil.replace("_", "-"), value=f"{shown[seuil]:g}")


@router.command(
    "groupe crise",
    aliases=("group crisis",),
    role=Role.MODERATOR,
    args=(Arg("sensibilite", SENSITIVITY),),
    needs_group=True,
)
async def crise(ctx: Context, sensibilite: str) -> None:
    """How sensitive the crisis net is in this group (see bot/guards/model.py)."""
    await ctx.services.repos.groups.set_guards(ctx.room_id, crisis_sensitivity=sensibilite)
    await ctx.reply(f"guards.crisis_{sensibilite}")
