"""The explicit, typed dependencies every handler can reach. Built once, in the entry point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.config import Settings
from bot.transports import MODERATOR_POWER_LEVEL, Transport
from stockage.database import Database
from stockage.repositories import Repositories

if TYPE_CHECKING:
    from bot.agendas import AgendaService
    from bot.checkins import CheckinEngine
    from bot.scheduler import ScheduleRunner


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    transport: Transport
    db: Database
    repos: Repositories
    checkins: CheckinEngine
    agendas: AgendaService
    scheduler: ScheduleRunner

    def is_moderator(self, room_id: str, user_id: str) -> bool:
        """Power level >= 50 in the room right now (from synced state), or named in config."""
        if user_id in self.settings.moderators:
            return True
        return self.transport.power_level(room_id, user_id) >= MODERATOR_POWER_LEVEL

    def moderators(self, room_id: str) -> list[str]:
        return room_moderators(self.transport, self.settings, room_id)


def room_moderators(transport: Transport, settings: Settings, room_id: str) -> list[str]:
    """Everyone who may run the group: the room's moderators and those named in config.

    The bot itself is left out: it may hold a high power level but is nobody's moderator.
    """
    from_room = transport.users_with_power(room_id, MODERATOR_POWER_LEVEL)
    return sorted((set(from_room) | set(settings.moderators)) - {transport.user_id})
