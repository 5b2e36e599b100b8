"""The team-meeting agenda at run time: preview, publish now, publish at the lead time.

Publishing records the agenda, moves its items to « à l'ordre du jour » and queues the post in
one transaction (see `ParkingRepository.record_agenda`); the check-in engine's outbox sends it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.agenda import Agenda, render_agenda
from bot.checkins import CheckinEngine
from bot.clock import Clock
from bot.i18n import Rendered
from bot.schedule import next_occurrence
from bot.transports import Transport
from stockage.groups import Group
from stockage.parking import PENDING
from stockage.repositories import Repositories

log = logging.getLogger(__name__)


class NoMeetingRoom(Exception):
    """The group has not named its team-meeting room yet."""


class AgendaService:
    def __init__(
        self, *, clock: Clock, transport: Transport, repos: Repositories, engine: CheckinEngine
    ) -> None:
        self.clock = clock
        self.transport = transport
        self.repos = repos
        self.engine = engine

    async def next_meeting(self, group: Group) -> datetime | None:
        schedule = await self.repos.meetings.get(group.room_id)
        return None if schedule is None else next_occurrence(schedule, self.clock.now())

    async def build(self, group: Group, meeting: datetime | None) -> Agenda:
        """The agenda as it would be posted now: every item still to deal with."""
        items = await self.repos.parking.items(group.room_id, PENDING)
        name = group.name or self.transport.room_name(group.room_id)
        return Agenda.of(name, meeting, group.timezone, items)

    async def preview(self, group: Group) -> Rendered:
        agenda = await self.build(group, await self.next_meeting(group))
        return render_agenda(agenda, group.language)

    async def publish(self, group: Group, meeting: datetime | None) -> int | None:
        """Post the agenda into the team-meeting room; None if that meeting's was posted.

        Posted by hand (`meeting` None), it is the agenda of the next meeting on the calendar
        when there is one: the scheduled job then finds it posted and does not post a second
        one with every item flagged as carried over.
        """
        if meeting is None:
            meeting = await self.next_meeting(group)
        if group.meeting_room is None:
            raise NoMeetingRoom(group.room_id)
        # Keep the name the agenda shows in step with the room's. A room the bot is no longer
        # in has no name it can see (the transport answers its id): the stored one stays.
        name = self.transport.room_name(group.room_id)
        if name and name != group.room_id and name != group.name:
            await self.repos.groups.set_name(group.room_id, name)
        items = await self.repos.parking.items(group.room_id, PENDING)
        agenda_id = await self.repos.parking.record_agenda(
            group.room_id,
            meeting,
            items,
            self.clock.now(),
            target_room=group.meeting_room,
        )
        if agenda_id is None:
            log.info("agenda for %s at %s already posted", group.room_id, meeting)
            return None
        log.info("agenda %s for %s: %d items", agenda_id, group.room_id, len(items))
        await self.engine.flush()
        return agenda_id
