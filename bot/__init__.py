"""Halte: a peer-support bot for health and social-services teams.

`bot` holds the runtime (config, wiring, transports, i18n); `commandes` the commands;
`stockage` the database. The domain modules never import a transport.
"""
