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

    def joined_rooms(self) -> list[str]:
        """Rooms the bot is in, from synced state."""
        ...

    def room_name(self, room_id: str) -> str:
        """A room's display name, from synced state."""
        ...

    async def resolve_room(self, target: str) -> str | None:
        """A room id from an id or an alias typed by a moderator; None if unknown."""
        ...

    async def fetch_text(self, room_id: str, event_id: str) -> str | None:
        """The text of one earlier message (to park it); None if it has none."""
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
