"""What the domain receives from, and hands to, a transport.

A transport (Matrix, Discord, console) turns platform events into these `Incoming` values
and turns `Outgoing` values into platform calls. Nothing here knows about Matrix, so the
same domain runs on every transport and in unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Message:
    """A text message someone sent in a room the bot is in.

    `body` lives in memory only: it is never stored or logged (privacy by default).
    """

    event_id: str
    room_id: str
    sender: str
    body: str
    timestamp: datetime
    is_direct: bool = False


@dataclass(frozen=True, slots=True)
class Reaction:
    """An emoji reaction (`key`) someone put on an earlier event."""

    event_id: str
    room_id: str
    sender: str
    target_event_id: str
    key: str
    timestamp: datetime


class MembershipChange(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    BAN = "ban"


@dataclass(frozen=True, slots=True)
class Membership:
    """Someone joined or left a room (the bot itself included)."""

    event_id: str
    room_id: str
    user_id: str
    change: MembershipChange
    timestamp: datetime


Incoming = Message | Reaction | Membership


@dataclass(frozen=True, slots=True)
class Text:
    """A text post in a room. `html` is the formatted body; user text inside it is escaped.

    `key` is a stable idempotency key (for example `checkin:12:round:3`): a transport derives its
    transaction id from it, so a retried send after a crash is not posted twice.
    """

    room_id: str
    body: str
    html: str | None = None
    reply_to: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class React:
    """A reaction the bot puts on an event."""

    room_id: str
    event_id: str
    emoji: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Direct:
    """A private message to one person (a direct chat on Matrix, a DM on Discord)."""

    user_id: str
    body: str
    html: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class DirectFile:
    """A file sent privately to one person (an `m.file` in their direct chat on Matrix).

    A file rather than text because some content is meant to be kept or read by a program (a
    JSON export), and a file holds it whole where a message would have to be cut up. `data`
    lives in memory only, like a message body: it is left out of the repr so a log line
    showing the value never shows the content.
    """

    user_id: str
    filename: str
    mimetype: str
    data: bytes = field(repr=False)
    key: str | None = None


Outgoing = Text | React | Direct | DirectFile
