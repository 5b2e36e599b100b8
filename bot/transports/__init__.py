"""Transports: the edge where platform events become `Incoming` values and `Outgoing` values
become platform calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.messages import Incoming, Outgoing

IncomingHandler = Callable[[Incoming], Awaitable[None]]

# Power level from which a room member counts as a moderator (Matrix's "moderator" default).
MODERATOR_POWER_LEVEL = 50


class Transport(Protocol):
    """What the runtime needs from a platform."""

    @property
    def user_id(self) -> str:
        """The bot's own id on the platform."""
        ...

    def power_level(self, room_id: str, user_id: str) -> int:
        """The user's power level in the room, from the transport's synced state.

        Must not make a network request: it runs on every command.
        """
        ...

    def users_with_power(self, room_id: str, level: int) -> list[str]:
        """Room members whose power level is at least `level`, from synced state."""
        ...

    async def send(self, out: Outgoing) -> str | None:
        """Deliver one outgoing value; returns the platform's event id when there is one."""
        ...

    async def wait_until_ready(self) -> None:
        """Return once the transport can send (logged in, first sync handled)."""
        ...

    async def run(self, handler: IncomingHandler) -> None:
        """Receive events and feed them to `handler` until `stop()` is called."""
        ...

    async def stop(self) -> None:
        """Ask `run()` to return soon; safe to call twice."""
        ...
