"""The explicit list of command families the bot includes, in the order `!aide` shows them."""

from commandes import aide, groupe, horaire, seance
from commandes.registry import Registry, Router

ROUTERS: tuple[Router, ...] = (aide.router, groupe.router, seance.router, horaire.router)


def build_registry() -> Registry:
    return Registry(ROUTERS)
