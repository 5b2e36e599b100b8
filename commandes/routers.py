"""The explicit list of command families the bot includes, in the order `!aide` shows them."""

from commandes import (
    aide,
    confidentialite,
    gardes,
    groupe,
    horaire,
    ordre_du_jour,
    seance,
    stationnement,
)
from commandes.registry import Registry, Router

ROUTERS: tuple[Router, ...] = (
    aide.router,
    groupe.router,
    seance.router,
    horaire.router,
    stationnement.router,
    ordre_du_jour.router,
    gardes.router,
    confidentialite.router,
)


def build_registry() -> Registry:
    return Registry(ROUTERS)
