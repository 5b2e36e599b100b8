"""Parking an item, the one path shared by `!stationner` and the 🅿️ reaction."""

from __future__ import annotations

from bot import checkin as machine
from bot.services import Services
from stockage.groups import Group
from stockage.parking import ParkedItem

PARKING_EMOJI = "🅿"  # compared without the emoji variation selector (U+FE0F)
PARKED_ACK = "✅"


def is_parking_reaction(key: str) -> bool:
    return key.replace("\ufe0f", "") == PARKING_EMOJI


async def park(
    services: Services, group: Group, text: str, author: str, source_event: str
) -> tuple[ParkedItem, bool]:
    """Park `text` for the team meeting; (item, created). Committed before anyone is told.

    The source event (the command, or the message reacted to) makes it idempotent: a replay
    after a crash, or a second 🅿️ on the same message, finds the same item.
    """
    current = await services.repos.checkins.current(group.room_id)
    during = current.id if current and current.state.phase is machine.Phase.ROUND else None
    return await services.repos.parking.park(
        group.room_id,
        text,
        author,
        anonymous=group.parking_anonymous,
        source_event=source_event,
        checkin_id=during,
        now=services.clock.now(),
    )
