"""What a command handler sees: who, where, in which language, and how to answer.

Handlers never get a nio or discord object, so every command runs the same on all transports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.i18n import Rendered, render
from bot.messages import Direct, Message, React, Text
from bot.services import Services
from commandes.registry import Role
from stockage.groups import Group

if TYPE_CHECKING:
    from commandes.registry import Command, Registry


@dataclass(frozen=True, slots=True)
class ModeratorAction:
    """A member command used with a moderator's power; `target` names what it acted on (item
    numbers such as `#3`), never any text."""

    target: str | None = None


@dataclass
class Context:
    services: Services
    registry: Registry
    message: Message
    language: str
    group: Group | None
    is_moderator: bool
    # Set by `acting_as_moderator`; the dispatcher writes it to the audit trail.
    moderator_action: ModeratorAction | None = field(default=None, init=False)

    @property
    def sender(self) -> str:
        return self.message.sender

    @property
    def room_id(self) -> str:
        return self.message.room_id

    def allowed(self, command: Command) -> bool:
        """Whether the sender may run `command` (lists show only those)."""
        return command.role is Role.MEMBER or self.is_moderator

    def acting_as_moderator(self, target: str | None = None) -> None:
        """Say, before changing anything, that this command uses a moderator's power.

        Moderator-only commands are audited by their role; a member command that a moderator
        uses on what is not theirs (another person's parked item, the group's schedule) calls
        this, so the dispatcher audits it the same way — completed or not. A member acting on
        their own item does not call it: that is no moderator action. `target` names what is
        acted on (`#3`), never text someone wrote.
        """
        self.moderator_action = ModeratorAction(target)

    def render(self, key: str, /, **params: Any) -> Rendered:
        return render(self.language, key, **params)

    async def reply(self, key: str, /, **params: Any) -> None:
        """Answer in the room, as a reply to the command."""
        await self.reply_rendered(self.render(key, **params))

    async def reply_rendered(self, rendered: Rendered) -> None:
        await self.services.transport.send(
            Text(
                room_id=self.room_id,
                body=rendered.body,
                html=rendered.html,
                reply_to=self.message.event_id,
            )
        )

    async def direct(self, key: str, /, **params: Any) -> None:
        """Answer the sender privately."""
        rendered = self.render(key, **params)
        await self.services.transport.send(
            Direct(user_id=self.sender, body=rendered.body, html=rendered.html)
        )

    async def react(self, emoji: str) -> None:
        await self.services.transport.send(
            React(room_id=self.room_id, event_id=self.message.event_id, emoji=emoji)
        )
