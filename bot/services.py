"""The explicit, typed dependencies every handler can reach. Built once, in the entry point."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Settings
from bot.transports import MODERATOR_POWER_LEVEL, Transport
from stockage.database import Database
from stockage.events import ProcessedEventRepository
from stockage.groups import GroupRepository, MemberRepository


@dataclass(frozen=True)
class Repositories:
    groups: GroupRepository
    members: MemberRepository
    events: ProcessedEventRepository

    @classmethod
    def on(cls, db: Database) -> Repositories:
        return cls(
            groups=GroupRepository(db),
            members=MemberRepository(db),
            events=ProcessedEventRepository(db),
        )


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    transport: Transport
    db: Database
    repos: Repositories

    def is_moderator(self, room_id: str, user_id: str) -> bool:
        """Power level >= 50 in the room right now (from synced state), or named in config."""
        if user_id in self.settings.moderators:
            return True
        return self.transport.power_level(room_id, user_id) >= MODERATOR_POWER_LEVEL

    def moderators(self, room_id: str) -> list[str]:
        """Everyone who may run the group: the room's moderators and those named in config."""
        from_room = self.transport.users_with_power(room_id, MODERATOR_POWER_LEVEL)
        return sorted(set(from_room) | set(self.settings.moderators))
