"""Command families, one module each; `commandes.routers.ROUTERS` is the explicit list the bot
includes. Kept empty so that importing `commandes.registry` never pulls in a family."""
