"""Command families, one module each; `ROUTERS` is the explicit list the bot includes."""

from commandes import aide, groupe
from commandes.registry import Registry, Router

ROUTERS: tuple[Router, ...] = (aide.router, groupe.router)


def build_registry() -> Registry:
    return Registry(ROUTERS)
