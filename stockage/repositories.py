"""All repositories over one database, built once and passed around explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from stockage.checkins import CheckinRepository
from stockage.database import Database
from stockage.events import ProcessedEventRepository
from stockage.groups import GroupRepository, MemberRepository
from stockage.parking import MeetingScheduleRepository, ParkingRepository
from stockage.privacy import AuditRepository, PrivacyRepository
from stockage.safety import SafetyRepository
from stockage.schedules import ScheduleRepository


@dataclass(frozen=True)
class Repositories:
    groups: GroupRepository
    members: MemberRepository
    events: ProcessedEventRepository
    checkins: CheckinRepository
    schedules: ScheduleRepository
    parking: ParkingRepository
    meetings: MeetingScheduleRepository
    safety: SafetyRepository
    privacy: PrivacyRepository
    audit: AuditRepository

    @classmethod
    def on(cls, db: Database) -> Repositories:
        return cls(
            groups=GroupRepository(db),
            members=MemberRepository(db),
            events=ProcessedEventRepository(db),
            checkins=CheckinRepository(db),
            schedules=ScheduleRepository(db),
            parking=ParkingRepository(db),
            meetings=MeetingScheduleRepository(db),
            safety=SafetyRepository(db),
            privacy=PrivacyRepository(db),
            audit=AuditRepository(db),
        )
