"""The Matrix transport: matrix-nio's sync loop turned into `Incoming` values, and back.

Everything Matrix-specific lives here, so the domain never sees a nio object. Three decisions
shape the module:

- The sync token is saved only after the handler has seen every event of a sync response. A
  crash therefore replays the last batch rather than losing it; the app dedupes by event id.
- A first run (no stored token) skips the room history: a bot that joins, or restarts with a
  fresh database, must not answer commands typed hours earlier.
- The homeserver going away is normal (upgrades, restarts): the loop waits with exponential
  backoff and resumes from the saved token instead of exiting.
- Encrypted rooms never fail silently. The crypto store lives in `data_dir/crypto/`, keyed by
  the bot's user and device (kept across restarts by `credentials.json`); keys are uploaded,
  queried and claimed after login and after every sync, as nio's `sync_forever` would. A
  message nio could not decrypt is logged by event id, retried when its key arrives, and its
  sender is told privately what to do. Before the bot posts in an encrypted room, the room
  key is shared with members' devices according to `MatrixSettings.trust` (`plan_trust`).
  Reactions (`m.reaction`) stay unencrypted: nio does not encrypt them.
- Direct rooms the bot opens (crisis resources, alerts, exports) are encrypted from their first
  event (`MatrixSettings.encrypt_direct_rooms`) and give the person no power: a direct chat
  must not make anyone a moderator. A file sent there is uploaded encrypted, its key inside
  the encrypted event.

matrix-nio ships no type hints, so its objects are `Any` here; they are converted at once into
`bot.messages` values and never leave the module.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Coroutine, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self, TypeVar

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    BadEvent,
    EncryptionError,
    ErrorResponse,
    Event,
    GroupEncryptionError,
    InviteMemberEvent,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    OlmUnverifiedDeviceError,
    ReactionEvent,
    RoomCreateEvent,
    RoomMemberEvent,
    RoomMessageText,
    RoomPreset,
    UnknownBadEvent,
    UnknownEvent,
    UploadResponse,
)
from nio.store import SqliteStore

from bot.config import MatrixSettings, TrustPolicy
from bot.i18n import Rendered, join, render
from bot.logs import log_failure
from bot.messages import (
    Direct,
    DirectFile,
    Incoming,
    Membership,
    MembershipChange,
    Message,
    Outgoing,
    React,
    Reaction,
    Text,
)
from bot.transports import IncomingHandler

__all__ = [
    "CREATOR_POWER_LEVEL",
    "Backoff",
    "DeviceTrust",
    "KnownDevice",
    "MatrixLoginError",
    "MatrixStateStore",
    "MatrixTransport",
    "NoticePacer",
    "SendError",
    "TrustPlan",
    "describe_undecryptable",
    "invite_allowed",
    "log_skipped",
    "plan_trust",
    "to_incoming",
    "transaction_id",
    "undecryptable_notice",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: How long the homeserver may hold a sync open when nothing happens (the long poll).
SYNC_TIMEOUT_MS: Final = 30_000
#: Timeout of every other request (login, send, join).
REQUEST_TIMEOUT_S: Final = 30.0
#: Consecutive 429s nio sleeps through (honouring `retry_after_ms`) before a send gives up.
MAX_RATE_LIMITED: Final = 8
#: Quick retries nio makes, with the same transaction id, after a connection error or timeout
#: (a pooled keep-alive connection closed by the server is common). Longer outages are the
#: sync loop's business, with its own backoff.
MAX_CONNECTION_RETRIES: Final = 2
CREDENTIALS_FILE: Final = "credentials.json"
#: The crypto store's directory inside the data directory (mode 0700, its files 0600).
CRYPTO_DIR: Final = "crypto"
MEGOLM_ALGORITHM: Final = "m.megolm.v1.aes-sha2"
#: The state that makes a room the bot creates end-to-end encrypted from its first event.
ENCRYPTION_STATE: Final[dict[str, Any]] = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": MEGOLM_ALGORITHM},
}
#: How long an undecryptable message may wait for its key (it can come in a later sync,
#: notably over federation) before its sender is told. Read at construction, so tests can
#: shorten it.
DECRYPT_GRACE_S: Final = 3.0
#: At most one "I could not read your message" per sender and room in this many seconds.
UNDECRYPTABLE_NOTICE_INTERVAL_S: Final = 600.0
#: Undecryptable events are retried after each sync for this long, at most this many.
PENDING_DECRYPT_WINDOW_S: Final = 600.0
PENDING_DECRYPT_MAX: Final = 256
#: What `power_level` answers for a room creator in room version 12 and later: there creators
#: outrank everyone and are absent from `m.room.power_levels` (MSC4289), which nio 0.26 does not
#: know, so it would report them at `users_default`. Above anything a power_levels event holds.
CREATOR_POWER_LEVEL: Final = 2**53 - 1
# Room versions before 12 (and not this unstable one) give creators no special rank.
_UNSTABLE_PRIVILEGED_CREATOR_VERSIONS: Final = frozenset({"org.matrix.hydra.11"})

# Without a filter Synapse sends at most 10 timeline events per room and marks the rest as a
# gap: after a restart in a busy room, commands would be lost. The first sync of a fresh
# database needs no history at all, only the rooms' state.
_SYNC_FILTER: Final[dict[str, Any]] = {"room": {"timeline": {"limit": 50}}}
_FIRST_SYNC_FILTER: Final[dict[str, Any]] = {"room": {"timeline": {"limit": 1}}}
# Synapse caches /sync responses for two minutes (`sync_response_cache_duration`), keyed on the
# request's parameters. An initial sync identical to one made by a previous run would get that
# run's stale answer, and its old token would replay everything since as new events. The filter
# is part of the key, and servers ignore unknown filter fields, so a random one defeats the cache.
_CACHE_BUSTER: Final = "org.halte.request_nonce"

# Transaction ids derived from an idempotency key live in their own UUID namespace, so the same
# key always maps to the same id, on any machine and after any restart.
_TXN_NAMESPACE: Final = uuid.UUID("9feab490-2017-4ebb-a5a9-1377115dfabd")


class SendError(Exception):
    """An outgoing value was not delivered. `errcode` is Matrix's (e.g. `M_FORBIDDEN`), if any.

    A send with a `key` can be retried safely: the homeserver dedupes it by transaction id.
    """

    def __init__(self, message: str, *, errcode: str | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


class MatrixLoginError(Exception):
    """The homeserver refused the bot's credentials. Not retried: waiting will not fix it."""


class MatrixStateStore(Protocol):
    """The little state the transport persists between runs (the app keeps it in SQLite)."""

    async def load_sync_token(self) -> str | None:
        """The token after the last fully handled sync, or None before the first run."""
        ...

    async def save_sync_token(self, token: str) -> None: ...

    async def direct_room(self, user_id: str) -> str | None:
        """The direct room the bot opened with `user_id`, if any."""
        ...

    async def save_direct_room(self, user_id: str, room_id: str) -> None: ...


class Backoff:
    """Exponential delays (1 s, 2 s, 4 s ... up to 60 s) with jitter, reset after a success.

    The jitter only shortens a delay (by up to `jitter`), so the cap holds, and many bots cut
    off by the same homeserver restart do not all come back in the same second.
    """

    def __init__(
        self,
        *,
        first: float = 1.0,
        cap: float = 60.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self._first = first
        self._cap = cap
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._failures = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        # The exponent is bounded: 2 ** 1100 does not fit in a float.
        base = min(self._cap, self._first * 2.0 ** min(self._failures, 30))
        self._failures += 1
        return base * (1.0 - self._jitter * self._rng.random())

    def reset(self) -> None:
        self._failures = 0


class _Stopped(Exception):
    """`stop()` was called while `run()` was waiting; internal to this module."""


class _SyncFailed(Exception):
    """The homeserver answered a sync with an error; handled like a connection error."""


def transaction_id(key: str) -> str:
    """A transaction id that depends only on `key`, so a retried send is posted once.

    Synapse dedupes per device and room, for about half an hour, which covers a crash and
    restart (the device is kept across restarts).
    """
    return str(uuid.uuid5(_TXN_NAMESPACE, key))


def invite_allowed(inviter: str, allowlist: Collection[str]) -> bool:
    """Whether an invite from `inviter` may be accepted: its full id or its server is listed."""
    _, _, server = inviter.partition(":")
    return inviter in allowlist or (bool(server) and server in allowlist)


def _timestamp(event: Any) -> datetime:
    """The event's server time; a value out of any sane range (a remote server may send
    anything) becomes the epoch rather than an exception that would stop the sync loop."""
    try:
        return datetime.fromtimestamp(int(event.server_timestamp) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, tz=UTC)


def _membership_change(membership: str, previous: str | None) -> MembershipChange | None:
    """Map a member event to a change the domain cares about, or None.

    A profile change (join -> join), a rejected or withdrawn invite (invite -> leave) and an
    unban (ban -> leave) are not arrivals or departures. A missing previous membership is
    optional in the spec, so a leave without one still counts.
    """
    if membership == "join":
        return None if previous == "join" else MembershipChange.JOIN
    if membership == "leave":
        return MembershipChange.LEAVE if previous in ("join", None) else None
    if membership == "ban":
        return MembershipChange.BAN
    return None


def _latest_edit(source: dict[str, Any], sender: str) -> str | None:
    """The body of the latest edit the homeserver bundled with an event, by its own sender."""

    def table(value: object) -> dict[str, Any]:
        # Everything here was written by the message's author: trust no shape.
        return value if isinstance(value, dict) else {}

    relations = table(table(source.get("unsigned")).get("m.relations"))
    replace = table(relations.get("m.replace"))
    if replace.get("sender", sender) != sender:
        return None
    body = table(table(replace.get("content")).get("m.new_content")).get("body")
    return body if isinstance(body, str) else None


def _strip_reply_fallback(body: str, content: dict[str, Any]) -> str:
    """Remove the quoted `> <@sender> ...` lines clients put in front of a reply's body.

    Without this, a command sent as a reply would start with the quoted message.
    """
    relates = content.get("m.relates_to")
    if not (isinstance(relates, dict) and "m.in_reply_to" in relates):
        return body
    if not body.startswith("> <"):
        return body
    lines = body.split("\n")
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        index += 1
    return "\n".join(lines[index:])


def to_incoming(
    event: Any,
    room_id: str,
    *,
    own_user_id: str,
    ignored_users: Collection[str] = (),
    is_direct: bool = False,
) -> Incoming | None:
    """Convert one nio timeline event into an `Incoming` value, or None to skip it.

    Skipped: the bot's own messages and reactions (its replies must not come back as input),
    `m.notice` messages (other bots' output, by convention), edits (the original was already
    handled), anything from `ignored_users`, and every other event type. Membership is kept for
    the bot too: the app learns it was removed from a room that way. For the bot, a ban is
    reported as LEAVE: either way the bot is out of the room. Pure: the transport logs what
    deserves a line about a skipped event (`log_skipped`).
    """
    if isinstance(event, RoomMemberEvent):
        subject = str(event.state_key)
        if subject in ignored_users:
            return None
        change = _membership_change(str(event.membership), event.prev_membership)
        if change is None:
            return None
        if subject == own_user_id and change is MembershipChange.BAN:
            change = MembershipChange.LEAVE
        return Membership(
            event_id=str(event.event_id),
            room_id=room_id,
            user_id=subject,
            change=change,
            timestamp=_timestamp(event),
        )
    if isinstance(event, RoomMessageText | ReactionEvent):
        sender = str(event.sender)
        if sender == own_user_id or sender in ignored_users:
            return None
        if isinstance(event, ReactionEvent):
            return Reaction(
                event_id=str(event.event_id),
                room_id=room_id,
                sender=sender,
                target_event_id=str(event.reacts_to),
                key=str(event.key),
                timestamp=_timestamp(event),
            )
        content: dict[str, Any] = event.source.get("content", {})
        relates = content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            return None
        return Message(
            event_id=str(event.event_id),
            room_id=room_id,
            sender=sender,
            body=_strip_reply_fallback(str(event.body), content),
            timestamp=_timestamp(event),
            is_direct=is_direct,
        )
    return None


#: Longest event id or type written to a log as is; anything longer, or not printable, is
#: shortened and quoted (a remote server chooses these strings: they must not forge log lines).
_LOGGABLE_CHARS: Final = 255


def _loggable(value: object) -> str:
    """An event id or type as it may appear in a log line (never a body: callers pass ids)."""
    if isinstance(value, str) and len(value) <= _LOGGABLE_CHARS and value.isprintable():
        return value or "''"
    if isinstance(value, str):
        return repr(value[:80])
    return f"<{type(value).__name__}>"


def log_skipped(event: Any, room_id: str) -> None:
    """Log a timeline event the conversion skipped, if it deserves a line: ids, never content.

    - Malformed events get one INFO line each: nio's `BadEvent` (a known type whose content
      fails its schema: a body that is a number, a reaction without its key, a membership
      that is no membership) and `UnknownBadEvent` (not even an event's core fields). They
      are rare, come from a broken or hostile client or server, and someone asking "why did
      the bot ignore my message?" needs their id. Not WARNING: the operator can do nothing
      about another server's events, and a hostile one could otherwise fill the log.
    - Events of a type nio does not know (`UnknownEvent`: polls, calls, other clients'
      extensions) are ordinary in a busy room: DEBUG only.
    - Everything else the conversion drops on purpose (topics, names, the bot's own posts,
      notices, edits, people in `ignored_users`) is the normal life of a room: no line.

    nio's own log of a malformed event quotes its content: `setup_logging` keeps the `nio`
    logger at ERROR for that reason, and this line says what is left to say.
    """
    if isinstance(event, BadEvent | UnknownBadEvent):
        source = event.source if isinstance(event.source, dict) else {}
        logger.info(
            "skipped malformed event %s (type %s) in room %s: it does not match its schema",
            _loggable(source.get("event_id")),
            _loggable(source.get("type")),
            room_id,
        )
    elif isinstance(event, UnknownEvent):
        logger.debug(
            "skipped event %s of a type the bot does not handle (%s) in room %s",
            _loggable(event.event_id),
            _loggable(event.type),
            room_id,
        )


def _after_own_join(events: Sequence[Any], own_user_id: str) -> Sequence[Any]:
    """Drop the events that precede the bot's own join in a timeline (its join is kept).

    The first sync after joining carries some of the room's earlier history; it is backlog
    and must not be taken as commands to answer now.
    """
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if (
            isinstance(event, RoomMemberEvent)
            and event.state_key == own_user_id
            and event.membership == "join"
            and event.prev_membership != "join"
        ):
            return events[index:]
    return events


def _privileged_creators(event: Any) -> frozenset[str] | None:
    """The creators of a room whose version ranks them above every power level, else None."""
    version = str(event.room_version)
    privileged = version in _UNSTABLE_PRIVILEGED_CREATOR_VERSIONS or (
        version.isdigit() and int(version) >= 12
    )
    if not privileged:
        return None
    content = event.source.get("content", {})
    additional = content.get("additional_creators", []) if isinstance(content, dict) else []
    extra = (
        [user for user in additional if isinstance(user, str)]
        if isinstance(additional, list)
        else []
    )
    return frozenset([str(event.sender), *extra])


def _inviter(invite_state: Sequence[Any], own_user_id: str) -> str | None:
    for event in invite_state:
        if (
            isinstance(event, InviteMemberEvent)
            and event.state_key == own_user_id
            and event.membership == "invite"
        ):
            return str(event.sender)
    return None


class DeviceTrust(StrEnum):
    """A device's trust state in nio's device store (the names of nio's `TrustState`)."""

    UNSET = "unset"
    VERIFIED = "verified"
    IGNORED = "ignored"  # receives room keys without being trusted
    BLACKLISTED = "blacklisted"  # never receives room keys


@dataclass(frozen=True, slots=True)
class KnownDevice:
    """One device of a room member, as the bot's device store knows it."""

    user_id: str
    device_id: str
    trust: DeviceTrust
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class TrustPlan:
    """What to change before sharing a room key, and what to tell the operator.

    `changes` are (device, new state); `new_devices` (tofu) are (user, device ids) that
    appeared after the person was first met; `unreadable` (verified) are members left
    without any verified device, who cannot read the bot.
    """

    changes: tuple[tuple[KnownDevice, DeviceTrust], ...] = ()
    new_devices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unreadable: tuple[str, ...] = ()


def plan_trust(
    policy: TrustPolicy, devices: Mapping[str, Sequence[KnownDevice]], *, own_user_id: str
) -> TrustPlan:
    """Decide each member device's trust state under `policy` (see `MatrixSettings.trust`).

    Devices nobody decided on yet are UNSET; BLACKLISTED ones were refused by "verified",
    and another policy decides on them afresh, so switching policy never locks anyone out
    for good. With "tofu", a person is "met" once one of their devices (deleted ones
    included) is VERIFIED or IGNORED: before that, all their devices are trusted (first
    use); after, a new device gets the keys as IGNORED, never VERIFIED, and is reported.
    A device whose signing key changes under the same id is refused by nio itself (it keeps
    the old key and logs it), whatever the policy.
    """
    changes: list[tuple[KnownDevice, DeviceTrust]] = []
    new_devices: list[tuple[str, tuple[str, ...]]] = []
    unreadable: list[str] = []
    for user_id in sorted(devices):
        known = devices[user_id]
        active = [device for device in known if not device.deleted]
        if policy == "verified":
            changes.extend(
                (device, DeviceTrust.BLACKLISTED)
                for device in active
                if device.trust in (DeviceTrust.UNSET, DeviceTrust.IGNORED)
            )
            if user_id != own_user_id and not any(
                device.trust is DeviceTrust.VERIFIED for device in active
            ):
                unreadable.append(user_id)
            continue
        undecided = [
            device
            for device in active
            if device.trust in (DeviceTrust.UNSET, DeviceTrust.BLACKLISTED)
        ]
        if not undecided:
            continue
        if policy == "all":
            changes.extend((device, DeviceTrust.IGNORED) for device in undecided)
            continue
        met = any(device.trust in (DeviceTrust.VERIFIED, DeviceTrust.IGNORED) for device in known)
        if met:
            changes.extend((device, DeviceTrust.IGNORED) for device in undecided)
            new_devices.append((user_id, tuple(device.device_id for device in undecided)))
        else:
            changes.extend((device, DeviceTrust.VERIFIED) for device in undecided)
    return TrustPlan(tuple(changes), tuple(new_devices), tuple(unreadable))


class NoticePacer:
    """At most one notice per key in `interval` seconds. Pure: the caller passes the time."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last: dict[Hashable, float] = {}

    def allow(self, key: Hashable, now: float) -> bool:
        """Whether a notice for `key` may go out at `now`; if so, it is counted as sent."""
        self._last = {k: t for k, t in self._last.items() if now - t < self._interval}
        if key in self._last:
            return False
        self._last[key] = now
        return True


def describe_undecryptable(
    *, algorithm: str, session_known: bool, device_id: str, session_id: str
) -> str:
    """Why a message could not be decrypted, for the logs (ids only, never content)."""
    if algorithm != MEGOLM_ALGORITHM:
        return f"unsupported algorithm {algorithm}"
    if not session_known:
        return (
            f"no room key for session {session_id} of device {device_id} "
            "(the sender's client did not share it with the bot's device)"
        )
    return (
        f"the room key of session {session_id} of device {device_id} does not open this "
        "message (known only from a later message on, or a replayed message)"
    )


def undecryptable_notice(room_name: str) -> Rendered:
    """The private message to a sender the bot could not read: French, English underneath.

    The transport does not know the group's language, so it says it in both.
    """
    return join(
        [
            render("fr", "e2ee.cannot_decrypt", room=room_name),
            render("en", "e2ee.cannot_decrypt", room=room_name),
        ],
        "\n\n",
    )


@dataclass(slots=True)
class _Undecrypted:
    """An event nio could not decrypt, kept in memory (ciphertext only) for a retry."""

    room_id: str
    event: Any  # nio's MegolmEvent
    since: float
    retry: bool = True  # False once its key proved unable to open it


def _describe(exc: BaseException) -> str:
    """A short reason for the logs; exception texts here carry URLs and codes, not secrets."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _new_client(homeserver: str, user_id: str) -> Any:
    """The one place the nio client is built, end-to-end encryption on.

    nio's `_send` already retries 429 `M_LIMIT_EXCEEDED`, sleeping `retry_after_ms` each
    time; `max_limit_exceeded` bounds that so a throttled send ends as a `SendError` instead of
    waiting forever. `max_timeouts` keeps nio's own retries of connection errors short (they
    reuse the transaction id, so they cannot duplicate a message); `request_timeout` bounds
    every request but the long-poll sync, whose timeout nio derives from the sync's own.

    `SqliteStore` keeps the whole crypto state, device trust included, in one SQLite file
    (nio's default store writes trust to plain-text files beside it). No `store_path` yet:
    the store is keyed by device, known only after login, and `_open_crypto_store` opens it
    then, once its file exists with mode 0600.
    """
    config = AsyncClientConfig(
        max_limit_exceeded=MAX_RATE_LIMITED,
        max_timeouts=MAX_CONNECTION_RETRIES,
        request_timeout=REQUEST_TIMEOUT_S,
        encryption_enabled=True,
        store=SqliteStore,
        store_sync_tokens=False,
    )
    return AsyncClient(homeserver, user_id, config=config)


def _crypto_store_name(user_id: str, device_id: str) -> str:
    """The crypto store's file name: one per account and device, so a new device (after a
    lost `credentials.json`) never reuses another device's keys."""
    return f"{user_id}_{device_id}.db"


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is filtered by the umask, and an old one may be wider


def _private_file(path: Path) -> None:
    """Create `path` empty and owner-only if missing (SQLite accepts an empty file as a new
    database, and gives its journal the same mode); tighten it if it exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    path.chmod(0o600)


def _read_credentials(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        logger.warning("ignoring unreadable %s; logging in again", path)
        return None
    keys = ("homeserver", "user_id", "device_id", "access_token")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in keys):
        logger.warning("ignoring malformed %s; logging in again", path)
        return None
    return {k: data[k] for k in keys}


def _write_credentials(path: Path, credentials: dict[str, str]) -> None:
    """Write the file owner-only from its creation (no window where the token is readable).

    Written beside and renamed, so a crash never leaves a truncated file behind.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(credentials, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class MatrixTransport:
    """The bot on a Matrix homeserver, through matrix-nio (see the module docstring).

    `run()` logs in, syncs and feeds the handler until `stop()`; `send()` can be used while
    it runs. Use it as an async context manager to be sure the HTTP session is closed even if
    `run()` never ran.
    """

    def __init__(
        self,
        settings: MatrixSettings,
        data_dir: Path,
        store: MatrixStateStore,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._credentials_path = data_dir / CREDENTIALS_FILE
        self._crypto_dir = data_dir / CRYPTO_DIR
        self._store = store
        self._sleep = sleep
        self._monotonic = monotonic
        self._client: Any = _new_client(settings.homeserver, settings.user_id)
        self._ignored = frozenset(settings.ignored_users)
        self._allowlist = frozenset(settings.invite_allowlist)
        self._backoff = Backoff()
        # room id -> creators who outrank every power level (room version 12+).
        self._creators: dict[str, frozenset[str]] = {}
        self._token: str | None = None
        self._logged_in = False
        self._login_lock = asyncio.Lock()
        self._direct_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._ready = asyncio.Event()
        # Notified after every handled sync, for callers waiting on the synced state.
        self._synced = asyncio.Condition()
        # -- encryption --
        self._decrypt_grace = DECRYPT_GRACE_S
        # Undecryptable events by id, retried after each sync in case their key arrives late.
        self._undecrypted: dict[str, _Undecrypted] = {}
        self._notice_pacer = NoticePacer(UNDECRYPTABLE_NOTICE_INTERVAL_S)
        self._share_locks: dict[str, asyncio.Lock] = {}
        self._keys_refused = False
        # Background work (telling a sender their message was unreadable): cancelled at exit.
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        await self._cancel_tasks()
        await self._client.close()

    # -- Transport protocol -------------------------------------------------------------------

    @property
    def user_id(self) -> str:
        return self._settings.user_id

    @property
    def device_id(self) -> str | None:
        """The bot's device, known once logged in; kept across restarts by credentials.json."""
        device = self._client.device_id
        return str(device) if device else None

    def power_level(self, room_id: str, user_id: str) -> int:
        """From nio's room cache (no request); 0 for a room the bot is not in.

        A creator of a room version 12+ room gets `CREATOR_POWER_LEVEL`.
        """
        room = self._client.rooms.get(room_id)
        if room is None:
            return 0
        if user_id in self._creators.get(room_id, ()):
            return CREATOR_POWER_LEVEL
        return int(room.power_levels.get_user_level(user_id))

    def users_with_power(self, room_id: str, level: int) -> list[str]:
        """Members at or above `level`, creators included; from the room cache, no request."""
        room = self._client.rooms.get(room_id)
        if room is None:
            return []
        return sorted(u for u in room.users if self.power_level(room_id, u) >= level)

    async def fetch_text(self, room_id: str, event_id: str) -> str | None:
        """The text of one message, asked for when someone parks it with 🅿️.

        One request, only on that reaction; the text is returned, never kept here.
        """
        response = await self._client.room_get_event(room_id, event_id)
        event = getattr(response, "event", None)
        if not isinstance(event, RoomMessageText):
            logger.info("event %s in %s has no text to park", event_id, room_id)
            return None
        edited = _latest_edit(event.source, str(event.sender))
        if edited is not None:
            # The person corrected it (perhaps to remove a name): park what they meant now.
            return edited
        return _strip_reply_fallback(str(event.body), event.source.get("content", {}))

    def room_name(self, room_id: str) -> str:
        """The room's display name from synced state (its id when unknown)."""
        room = self._client.rooms.get(room_id)
        return str(room.display_name) if room is not None else room_id

    async def resolve_room(self, target: str) -> str | None:
        """A room id from `!id:server` or `#alias:server`; None when it does not resolve."""
        # Room ids carry no server part from room version 12 on (`!opaque`).
        if target.startswith("!") and len(target) > 1:
            return target
        if target.startswith("#") and ":" in target:
            response = await self._client.room_resolve_alias(target)
            room_id = getattr(response, "room_id", None)
            return str(room_id) if room_id else None
        return None

    def joined_rooms(self) -> list[str]:
        """Rooms the bot is in, as the last sync left them."""
        return list(self._client.rooms)

    async def wait_for_room(self, room_id: str) -> None:
        """Return once a handled sync shows the bot in `room_id` (demo and tests use it)."""
        async with self._synced:
            await self._synced.wait_for(lambda: room_id in self._client.rooms)

    async def wait_until_ready(self) -> None:
        """Return once the first sync is handled (rooms and power levels known)."""
        await self._ready.wait()

    async def run(self, handler: IncomingHandler) -> None:
        """Log in, then sync and feed `handler` until `stop()`; closes the HTTP session on exit.

        Network trouble (aiohttp errors, timeouts, sync error responses) is retried with
        `Backoff`; a refused login raises `MatrixLoginError`; handler errors are only logged.
        """
        try:
            while not self._stopping.is_set():
                try:
                    await self._until_stopped(self._login())
                    await self._sync_once(handler)
                    self._backoff.reset()
                except _Stopped:
                    break
                except (ClientError, TimeoutError, _SyncFailed) as exc:
                    delay = self._backoff.next_delay()
                    logger.warning(
                        "homeserver unreachable (%s); retrying in %.1f s", _describe(exc), delay
                    )
                    try:
                        await self._until_stopped(self._sleep(delay))
                    except _Stopped:
                        break
                except MatrixLoginError:
                    raise
                except Exception:
                    # A response nio cannot parse (a malformed event from a remote server):
                    # keep the bot up and retry with backoff rather than end the loop.
                    delay = self._backoff.next_delay()
                    log_failure(logger, "sync failed unexpectedly; retrying in %.1f s", delay)
                    try:
                        await self._until_stopped(self._sleep(delay))
                    except _Stopped:
                        break
        finally:
            await self._cancel_tasks()
            await self._client.close()
            logger.info("Matrix sync loop stopped")

    async def stop(self) -> None:
        """Make `run()` return soon: an in-flight long poll or backoff wait is cancelled.

        A handler already running is let finish; the rest of that sync batch is left for the
        next run (its token is not saved).
        """
        self._stopping.set()

    async def send(self, out: Outgoing) -> str:
        """Post `out` and return its event id; raise `SendError` if it was not delivered.

        Texts go out as `m.notice`. A `Direct` or a `DirectFile` opens (and remembers) a direct
        room when needed; a file goes as an `m.file`, encrypted in an encrypted room.
        """
        try:
            await self._login()
        except (ClientError, TimeoutError) as exc:
            raise SendError(f"homeserver unreachable: {_describe(exc)}") from exc
        match out:
            case Text():
                return await self._send_text(out.room_id, out.body, out.html, out.reply_to, out.key)
            case React():
                content = {
                    "m.relates_to": {
                        "rel_type": "m.annotation",
                        "event_id": out.event_id,
                        "key": out.emoji,
                    }
                }
                return await self._room_send(out.room_id, "m.reaction", content, out.key)
            case Direct():
                return await self._send_direct(
                    out.user_id,
                    lambda room_id: self._send_text(room_id, out.body, out.html, None, out.key),
                )
            case DirectFile():
                return await self._send_direct(
                    out.user_id, lambda room_id: self._send_file(room_id, out)
                )

    # -- login --------------------------------------------------------------------------------

    async def _login(self) -> None:
        """Log in once: saved credentials, else the configured token, else the password.

        Saved credentials come first so the device stays the same across restarts (E2EE keys
        and server-side transaction dedupe are per device).
        """
        async with self._login_lock:
            if self._logged_in:
                return
            settings = self._settings
            saved = _read_credentials(self._credentials_path)
            if saved is not None and (
                saved["homeserver"] != settings.homeserver or saved["user_id"] != settings.user_id
            ):
                logger.info("%s is for another account; ignoring it", self._credentials_path)
                saved = None
            if (
                saved is not None
                and settings.password is not None
                and not self._crypto_path(saved["user_id"], saved["device_id"]).exists()
            ):
                # The device's encryption keys are lost (or never existed): a new crypto
                # store on the old device would clash with the keys the homeserver holds.
                logger.warning(
                    "no crypto store for device %s; logging in as a new device",
                    saved["device_id"],
                )
                saved = None
            if saved is not None:
                self._client.restore_login(
                    saved["user_id"], saved["device_id"], saved["access_token"]
                )
                logger.info(
                    "restored Matrix login of %s, device %s", saved["user_id"], saved["device_id"]
                )
            elif settings.access_token is not None:
                await self._login_with_token(settings.access_token.get_secret_value())
            else:
                await self._login_with_password()
            self._open_crypto_store()
            self._logged_in = True
            # The device's keys go up before the first sync, so members' clients can share
            # room keys with it from the start.
            await self._crypto_upkeep()

    async def _login_with_token(self, token: str) -> None:
        self._client.user_id = self._settings.user_id
        self._client.access_token = token
        response = await self._client.whoami()
        if isinstance(response, ErrorResponse):
            self._client.access_token = ""
            raise MatrixLoginError(f"the access token was refused: {response.status_code}")
        if response.user_id != self._settings.user_id:
            raise MatrixLoginError(
                f"the access token belongs to {response.user_id}, not {self._settings.user_id}"
            )
        if response.device_id:
            self._client.restore_login(response.user_id, response.device_id, token)
        logger.info("logged in to Matrix with a token, device %s", response.device_id)

    async def _login_with_password(self) -> None:
        password = self._settings.password
        if password is None:  # MatrixSettings requires a password or a token.
            raise MatrixLoginError("no password and no access token configured")
        response = await self._client.login(
            password=password.get_secret_value(), device_name=self._settings.device_name
        )
        if isinstance(response, ErrorResponse):
            raise MatrixLoginError(
                f"password login refused for {self._settings.user_id}: {response.status_code}"
            )
        if response.user_id != self._settings.user_id:
            raise MatrixLoginError(
                f"logged in as {response.user_id}, expected {self._settings.user_id}"
            )
        _write_credentials(
            self._credentials_path,
            {
                "homeserver": self._settings.homeserver,
                "user_id": str(response.user_id),
                "device_id": str(response.device_id),
                "access_token": str(response.access_token),
            },
        )
        logger.info("logged in to Matrix with a password, new device %s", response.device_id)

    # -- sync ---------------------------------------------------------------------------------

    async def _sync_once(self, handler: IncomingHandler) -> None:
        """One sync request and its handling; the token is saved only once all is handled."""
        if not self._ready.is_set():
            self._token = await self._store.load_sync_token()
            # The first request of a run asks for the full state, so the room cache that
            # `power_level` reads is complete from the start, even after a restart.
            response = await self._sync(since=self._token, full_state=True, timeout_ms=0)
            if self._token is None:
                # Fresh database: handle the pending invites, but not the history.
                await self._handle_invites(response)
                logger.info(
                    "first sync: %d rooms joined, history skipped", len(response.rooms.join)
                )
            elif not await self._dispatch(response, handler):
                return
        else:
            response = await self._sync(since=self._token, full_state=False, timeout_ms=None)
            if not await self._dispatch(response, handler):
                return
        token = str(response.next_batch)
        if token != self._token:  # an idle long poll may hand back the same token
            self._token = token
            await self._store.save_sync_token(token)
        self._ready.set()
        async with self._synced:
            self._synced.notify_all()
        # After the token is saved: a failure here must not make the batch be handled again
        # (nio would not decrypt it a second time).
        await self._crypto_upkeep()

    async def _sync(self, *, since: str | None, full_state: bool, timeout_ms: int | None) -> Any:
        response = await self._until_stopped(
            self._client.sync(
                timeout=SYNC_TIMEOUT_MS if timeout_ms is None else timeout_ms,
                sync_filter=(
                    _SYNC_FILTER
                    if since is not None
                    else {**_FIRST_SYNC_FILTER, _CACHE_BUSTER: secrets.token_hex(8)}
                ),
                since=since,
                full_state=full_state,
            )
        )
        if isinstance(response, ErrorResponse):
            if response.status_code == "M_UNKNOWN_TOKEN":
                raise MatrixLoginError(
                    "the homeserver no longer accepts the bot's access token (M_UNKNOWN_TOKEN); "
                    f"delete {self._credentials_path} or configure a new token"
                )
            raise _SyncFailed(str(response))
        self._remember_creators(response)
        return response

    def _remember_creators(self, response: Any) -> None:
        """Note each joined room's privileged creators; nio keeps no trace of them."""
        for room_id, info in response.rooms.join.items():
            for event in (*info.state, *info.timeline.events):
                if isinstance(event, RoomCreateEvent):
                    creators = _privileged_creators(event)
                    if creators is not None:
                        self._creators[room_id] = creators

    async def _dispatch(self, response: Any, handler: IncomingHandler) -> bool:
        """Feed one sync response to the handler; False if `stop()` interrupted it."""
        await self._handle_invites(response)
        count = 0
        for room_id, info in response.rooms.join.items():
            events = _after_own_join(info.timeline.events, self.user_id)
            # A newly joined room always comes "limited"; only a gap elsewhere loses events.
            if info.timeline.limited and len(events) == len(info.timeline.events):
                logger.warning("room %s: timeline gap, older events were skipped", room_id)
            is_direct = self._is_direct(room_id)
            for event in events:
                if isinstance(event, MegolmEvent):
                    # nio replaces what it can decrypt; what is left has no usable key.
                    self._undecryptable(event, room_id)
                    continue
                incoming = self._convert(event, room_id, is_direct)
                if incoming is not None:
                    if self._stopping.is_set():
                        return False
                    await self._deliver(handler, incoming)
                    count += 1
        for incoming in self._late_decryptions():
            if self._stopping.is_set():
                return False
            await self._deliver(handler, incoming)
            count += 1
        for room_id, info in response.rooms.leave.items():
            # nio ignores left rooms entirely: report the bot's departure ourselves and drop the
            # room from the cache, so `power_level` and direct rooms stop relying on it. The
            # room goes first: the handler of the departure already sees the bot out of it.
            for event in _after_own_join(info.timeline.events, self.user_id):
                incoming = self._convert(event, room_id, False)
                if incoming is None:
                    continue
                if self._stopping.is_set():
                    return False
                if isinstance(incoming, Membership) and incoming.user_id == self.user_id:
                    self._client.rooms.pop(room_id, None)
                    self._creators.pop(room_id, None)
                    logger.info("left room %s", room_id)
                await self._deliver(handler, incoming)
                count += 1
        if count:
            logger.debug("sync delivered %d events", count)
        return True

    def _is_direct(self, room_id: str) -> bool:
        room = self._client.rooms.get(room_id)
        return room is not None and int(room.member_count) <= 2

    def _convert(self, event: Any, room_id: str, is_direct: bool) -> Incoming | None:
        incoming = to_incoming(
            event,
            room_id,
            own_user_id=self.user_id,
            ignored_users=self._ignored,
            is_direct=is_direct,
        )
        if incoming is None:
            log_skipped(event, room_id)
        return incoming

    async def _deliver(self, handler: IncomingHandler, incoming: Incoming) -> None:
        """Run the handler on one value; its failure is logged and never stops the loop."""
        try:
            await handler(incoming)
        except Exception:
            log_failure(
                logger, "handler failed on event %s in room %s", incoming.event_id, incoming.room_id
            )

    async def _handle_invites(self, response: Any) -> None:
        """Join rooms the allowlist trusts; reject every other invite at once."""
        for room_id, info in response.rooms.invite.items():
            inviter = _inviter(info.invite_state, self.user_id)
            if inviter is not None and invite_allowed(inviter, self._allowlist):
                result = await self._client.join(room_id)
                if isinstance(result, ErrorResponse):
                    logger.warning(
                        "could not join room %s (invited by %s): %s",
                        room_id,
                        inviter,
                        result.status_code,
                    )
                else:
                    logger.info("joined room %s, invited by %s", room_id, inviter)
            else:
                result = await self._client.room_leave(room_id)
                logger.info(
                    "rejected invite to room %s from %s (not in invite_allowlist)%s",
                    room_id,
                    inviter,
                    f": {result.status_code}" if isinstance(result, ErrorResponse) else "",
                )
            self._client.invited_rooms.pop(room_id, None)

    async def _until_stopped(self, awaitable: Awaitable[_T]) -> _T:
        """Await `awaitable` unless `stop()` comes first; then cancel it and raise `_Stopped`.

        This is what lets `stop()` end a 30 s long poll at once.
        """
        task = asyncio.ensure_future(awaitable)
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait((task,))
        if task.cancelled():
            raise _Stopped
        return task.result()

    # -- encryption ---------------------------------------------------------------------------

    def _crypto_path(self, user_id: str, device_id: str) -> Path:
        return self._crypto_dir / _crypto_store_name(user_id, device_id)

    def _open_crypto_store(self) -> None:
        """Open (or create) the device's crypto store: directory 0700, files 0600."""
        client = self._client
        if client.olm is not None:
            return
        if not client.device_id:
            logger.warning(
                "encryption off: the homeserver did not tell which device the token belongs to"
            )
            return
        _private_dir(self._crypto_dir)
        path = self._crypto_path(str(client.user_id), str(client.device_id))
        _private_file(path)
        client.store_path = str(self._crypto_dir)
        client.config = dataclasses.replace(client.config, store_name=path.name)
        client.load_store()
        for leftover in self._crypto_dir.iterdir():  # journals of an earlier run
            if leftover.is_file():
                leftover.chmod(0o600)
        logger.info(
            "end-to-end encryption on for device %s (trust policy: %s)",
            client.device_id,
            self._settings.trust,
        )

    async def _crypto_upkeep(self) -> None:
        """What nio's `sync_forever` does between syncs and our own loop must do too.

        Upload the device's keys and fresh one-time keys, query the device keys of members
        who are new or changed theirs, claim one-time keys to mend broken (wedged) Olm
        sessions, and send the to-device messages nio queued (its key re-requests among
        them). Network errors propagate to the sync loop's backoff; refusals are logged.
        """
        client = self._client
        if client.olm is None:
            return
        if client.should_upload_keys and not self._keys_refused:
            response = await client.keys_upload()
            if isinstance(response, ErrorResponse):
                # Retrying after every sync would only repeat the refusal in the logs.
                self._keys_refused = True
                logger.error(
                    "the homeserver refused device %s's encryption keys (%s); if its crypto "
                    "store was lost, log the bot in as a new device",
                    client.device_id,
                    response.status_code,
                )
        if client.should_query_keys:
            response = await client.keys_query()
            if isinstance(response, ErrorResponse):
                logger.warning("device keys query failed: %s", response.status_code)
        if client.should_claim_keys:
            response = await client.keys_claim(client.get_users_for_key_claiming())
            if isinstance(response, ErrorResponse):
                logger.warning("one-time keys claim failed: %s", response.status_code)
        if client.outgoing_to_device_messages:
            for response in await client.send_to_device_messages():
                if isinstance(response, ErrorResponse):
                    logger.warning("to-device message not sent: %s", response.status_code)

    def _undecryptable(self, event: Any, room_id: str) -> None:
        """Log an event nio could not decrypt, keep it for a retry, and have its sender told."""
        sender = str(event.sender)
        event_id = str(event.event_id)
        if sender == self.user_id or sender in self._ignored:
            logger.debug("skipped undecryptable event %s in room %s", event_id, room_id)
            return
        logger.warning(
            "event %s in room %s from %s could not be decrypted: %s",
            event_id,
            room_id,
            sender,
            describe_undecryptable(
                algorithm=str(event.algorithm),
                session_known=self._session_known(event, room_id),
                device_id=str(event.device_id),
                session_id=str(event.session_id),
            ),
        )
        if event_id in self._undecrypted:
            return  # a replayed batch; its sender is already being told
        self._undecrypted[event_id] = _Undecrypted(room_id, event, self._monotonic())
        while len(self._undecrypted) > PENDING_DECRYPT_MAX:
            del self._undecrypted[next(iter(self._undecrypted))]
        self._spawn(self._explain_undecryptable(event, room_id))

    def _session_known(self, event: Any, room_id: str) -> bool:
        """Whether the room key of `event`'s session is in the store (a lookup, no side effect)."""
        olm = self._client.olm
        if olm is None or not event.sender_key or not event.session_id:
            return False
        return olm.inbound_group_store.get(room_id, event.sender_key, event.session_id) is not None

    def _late_decryptions(self) -> list[Incoming]:
        """Events whose room key has arrived since, decrypted and converted; stale ones dropped."""
        now = self._monotonic()
        found: list[Incoming] = []
        for event_id, pending in list(self._undecrypted.items()):
            room_id = pending.room_id
            if now - pending.since > PENDING_DECRYPT_WINDOW_S:
                del self._undecrypted[event_id]
                if pending.retry:
                    logger.info("event %s in room %s: its room key never came", event_id, room_id)
                continue
            if not pending.retry or not self._session_known(pending.event, room_id):
                continue
            try:
                decrypted = self._client.decrypt_event(pending.event)
            except EncryptionError as exc:
                # Kept (not retried) until the window ends: its sender is still to be told.
                pending.retry = False
                logger.warning("event %s in room %s still unreadable: %s", event_id, room_id, exc)
                continue
            del self._undecrypted[event_id]
            logger.info("event %s in room %s decrypted once its key came", event_id, room_id)
            incoming = self._convert(decrypted, room_id, self._is_direct(room_id))
            if incoming is not None:
                found.append(incoming)
        return found

    async def _explain_undecryptable(self, event: Any, room_id: str) -> None:
        """Ask for the key, give it a moment to come, then tell the sender privately (paced)."""
        sender = str(event.sender)
        event_id = str(event.event_id)
        # nio 0.26 sends this request to the bot's own other sessions only, and accepts a
        # forwarded key only from those it trusts: it helps when such a session (an operator's
        # Element logged in as the bot) holds the key. The sender's own client is reached by
        # the private message below, and nio's wedged-session repair runs in `_crypto_upkeep`.
        try:
            response = await self._client.request_room_key(event)
            if isinstance(response, ErrorResponse):
                logger.info("room key request for event %s failed: %s", event_id, response)
        except LocalProtocolError:
            pass  # already requested for this session
        except (ClientError, TimeoutError) as exc:
            logger.info("room key request for event %s failed: %s", event_id, _describe(exc))
        await self._sleep(self._decrypt_grace)
        if event_id not in self._undecrypted:
            return  # its key came in time
        if not self._notice_pacer.allow((sender, room_id), self._monotonic()):
            logger.info(
                "%s was already told recently about unreadable messages in room %s",
                sender,
                room_id,
            )
            return
        notice = undecryptable_notice(self.room_name(room_id))
        try:
            await self.send(Direct(user_id=sender, body=notice.body, html=notice.html))
        except SendError as exc:
            logger.warning(
                "could not tell %s that event %s was unreadable: %s", sender, event_id, exc
            )
            return
        logger.info(
            "told %s privately that event %s in room %s could not be decrypted",
            sender,
            event_id,
            room_id,
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("background task failed: %s", _describe(exc))

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _known_room(self, room_id: str, *, refresh: bool = False) -> Any:
        """nio's room object for `room_id`, loaded from the room's state if no sync has shown it
        (or, with `refresh`, even if one has).

        A direct room the bot has just created is not synced yet, and nio will not send to a
        room it does not know once encryption is on: one state request gives it the room's
        members and whether it is encrypted (a server may encrypt new rooms by default).
        `refresh` is for that new room: a sync may have shown it half-built, before the
        invite, and a room key shared then would reach nobody but the bot.
        """
        client = self._client
        room = client.rooms.get(room_id)
        if room is not None and not refresh:
            return room
        response = await client.room_get_state(room_id)
        if isinstance(response, ErrorResponse):
            raise SendError(
                f"could not read the state of room {room_id}: {response}",
                errcode=response.status_code,
            )
        # Looked up again after the request: a sync may have added the room meanwhile. Applying
        # the current state to it again changes nothing it already knew.
        room = client.rooms.get(room_id)
        if room is None:
            room = MatrixRoom(room_id, self.user_id)
            client.rooms[room_id] = room
        for source in response.events:
            event = Event.parse_event(source)
            if isinstance(event, RoomMemberEvent):
                if room.handle_membership(event) and client.olm is not None:
                    # As nio does on a member change: the next post shares a new room key.
                    client.invalidate_outbound_session(room_id)
            else:
                room.handle_event(event)
        room.members_synced = True
        if room.encrypted and client.olm is not None:
            client.encrypted_rooms.add(room_id)
            client.olm.update_tracked_users(room)
        return room

    async def _share_room_key(self, room_id: str) -> None:
        """Before posting in an encrypted room: members' device keys known, trust decided,
        and the room key shared with the devices the trust policy allows.

        nio's `room_send` would share too, but without our trust decisions; one lock per
        room, so two posts at once share one key.
        """
        client = self._client
        room = await self._known_room(room_id)
        if client.olm is None or not room.encrypted:
            return
        lock = self._share_locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            if not room.members_synced:
                response = await client.joined_members(room_id)
                if isinstance(response, ErrorResponse):
                    raise SendError(
                        f"could not list the members of {room_id}: {response}",
                        errcode=response.status_code,
                    )
            if client.should_query_keys:
                response = await client.keys_query()
                if isinstance(response, ErrorResponse):
                    logger.warning("device keys query failed: %s", response.status_code)
            if not client.olm.should_share_group_session(room_id):
                return
            if room_id in client.sharing_session:  # nio's own share, from room_send
                await client.sharing_session[room_id].wait()
                return
            for attempt in (1, 2):
                self._apply_trust(room_id)
                try:
                    await client.share_group_session(
                        room_id, ignore_unverified_devices=self._settings.trust != "verified"
                    )
                    return
                except OlmUnverifiedDeviceError:
                    # A device arrived between the decisions and the sharing: decide again.
                    if attempt == 2:
                        raise

    def _apply_trust(self, room_id: str) -> None:
        """Apply `plan_trust` to the devices of `room_id`'s members, in nio's device store."""
        client = self._client
        room = client.rooms.get(room_id)
        if room is None or client.olm is None:
            return
        members = set(room.users)
        devices: dict[str, list[Any]] = {user: [] for user in members}
        for user_id, by_id in client.device_store.items():
            if user_id in members:
                devices[user_id] = list(by_id.values())
        views = {
            user_id: [
                KnownDevice(
                    user_id, str(d.device_id), DeviceTrust(d.trust_state.name), bool(d.deleted)
                )
                for d in user_devices
            ]
            for user_id, user_devices in devices.items()
        }
        plan = plan_trust(self._settings.trust, views, own_user_id=self.user_id)
        nio_device = {
            (str(d.user_id), str(d.device_id)): d for found in devices.values() for d in found
        }
        apply = {
            DeviceTrust.VERIFIED: client.verify_device,
            DeviceTrust.IGNORED: client.ignore_device,
            DeviceTrust.BLACKLISTED: client.blacklist_device,
        }
        for view, state in plan.changes:
            apply[state](nio_device[(view.user_id, view.device_id)])
            logger.debug("device %s of %s is now %s", view.device_id, view.user_id, state)
        for user_id, device_ids in plan.new_devices:
            logger.warning(
                "%s has new encryption keys (device %s) since they were first met; sharing "
                "room keys with them anyway (trust policy: tofu)",
                user_id,
                ", ".join(device_ids),
            )
        for user_id in plan.unreadable:
            logger.warning(
                "room %s: %s has no verified device, so cannot read the bot here "
                "(trust policy: verified)",
                room_id,
                user_id,
            )

    # -- send ---------------------------------------------------------------------------------

    async def _send_text(
        self,
        room_id: str,
        body: str,
        html: str | None,
        reply_to: str | None,
        key: str | None,
    ) -> str:
        # m.notice: by convention bots do not answer notices, so two bots cannot loop.
        content: dict[str, Any] = {"msgtype": "m.notice", "body": body}
        if html is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = html
        if reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return await self._room_send(room_id, "m.room.message", content, key)

    async def _room_send(
        self, room_id: str, event_type: str, content: dict[str, Any], key: str | None
    ) -> str:
        if self._client.olm is None and room_id in self._client.encrypted_rooms:
            # Without a crypto store nio would post in clear into an encrypted room.
            raise SendError(f"cannot encrypt for {room_id}: encryption is off for this device")
        try:
            if self._client.olm is not None:
                await self._share_room_key(room_id)
            # Encrypted in an encrypted room, except reactions: nio sends those in clear.
            response = await self._client.room_send(
                room_id,
                event_type,
                content,
                tx_id=transaction_id(key) if key is not None else None,
                ignore_unverified_devices=self._settings.trust != "verified",
            )
        except (ClientError, TimeoutError) as exc:
            raise SendError(
                f"homeserver unreachable while sending to {room_id}: {_describe(exc)}"
            ) from exc
        except (
            LocalProtocolError,
            OlmUnverifiedDeviceError,
            EncryptionError,
            GroupEncryptionError,
        ) as exc:
            raise SendError(f"could not encrypt for {room_id}: {_describe(exc)}") from exc
        if isinstance(response, ErrorResponse):
            raise SendError(
                f"could not send {event_type} to {room_id}: {response}",
                errcode=response.status_code,
            )
        logger.debug("sent %s %s to room %s", event_type, response.event_id, room_id)
        return str(response.event_id)

    async def _send_file(self, room_id: str, out: DirectFile) -> str:
        """Upload `out` and post it as an `m.file`; in an encrypted room the upload itself is
        encrypted and its key travels inside the (encrypted) event, never in clear.

        The upload is not idempotent (a retry after a crash uploads again); the event is, by
        its transaction id, so the person still gets the file once.
        """
        room = await self._known_room(room_id)
        encrypted = bool(room.encrypted)
        if encrypted and self._client.olm is None:
            raise SendError(f"cannot encrypt for {room_id}: encryption is off for this device")
        size = len(out.data)
        try:
            # nio ignores `request_timeout` for uploads: bound it here, like every request.
            response, keys = await asyncio.wait_for(
                self._client.upload(
                    lambda _rate_limited, _timeouts: out.data,
                    content_type=out.mimetype,
                    filename=out.filename,
                    encrypt=encrypted,
                    filesize=size,
                ),
                REQUEST_TIMEOUT_S,
            )
        except (ClientError, TimeoutError) as exc:
            raise SendError(
                f"homeserver unreachable while uploading to {room_id}: {_describe(exc)}"
            ) from exc
        if not isinstance(response, UploadResponse):
            raise SendError(
                f"could not upload a file for {room_id}: {response}",
                errcode=getattr(response, "status_code", None),
            )
        content: dict[str, Any] = {
            "msgtype": "m.file",
            "body": out.filename,
            "filename": out.filename,
            "info": {"mimetype": out.mimetype, "size": size},
        }
        if encrypted:
            assert keys is not None  # nio returns them whenever `encrypt` is set
            content["file"] = {"url": str(response.content_uri), **keys}
        else:
            content["url"] = str(response.content_uri)
        logger.debug("uploaded a %d-byte file for room %s", size, room_id)
        return await self._room_send(room_id, "m.room.message", content, out.key)

    async def _send_direct(self, user_id: str, send: Callable[[str], Awaitable[str]]) -> str:
        """`send` into the direct room with `user_id`, opening one if needed."""
        room_id, created = await self._direct_room(user_id, replace=None)
        try:
            return await send(room_id)
        except SendError as exc:
            # The bot was removed from the old direct room (it may have happened while it was
            # offline): open a new one rather than failing forever.
            if created or exc.errcode != "M_FORBIDDEN":
                raise
        room_id, _ = await self._direct_room(user_id, replace=room_id)
        return await send(room_id)

    async def _direct_room(self, user_id: str, *, replace: str | None) -> tuple[str, bool]:
        """The direct room with `user_id`, created if missing or unusable; (room, created).

        One lock around look-up and creation, so two messages at once open one room.
        """
        async with self._direct_lock:
            room_id = await self._store.direct_room(user_id)
            if room_id is not None and room_id != replace and not self._user_left(room_id, user_id):
                return room_id, False
            # `private_chat`, not `trusted_private_chat`: that preset gives the person power 100
            # (from room version 12, makes them a creator), and a direct chat must not make
            # anyone a moderator. Encrypted from the first event, unless the operator said no.
            encrypt = self._settings.encrypt_direct_rooms
            try:
                response = await self._client.room_create(
                    is_direct=True,
                    invite=[user_id],
                    preset=RoomPreset.private_chat,
                    initial_state=[ENCRYPTION_STATE] if encrypt else [],
                    # Explicit, so a server's `default_power_level_content_override` for the
                    # preset cannot raise the person either.
                    power_level_override={"users_default": 0},
                )
            except (ClientError, TimeoutError) as exc:
                raise SendError(f"homeserver unreachable: {_describe(exc)}") from exc
            if isinstance(response, ErrorResponse):
                raise SendError(
                    f"could not open a direct room with {user_id}: {response}",
                    errcode=response.status_code,
                )
            room_id = str(response.room_id)
            await self._store.save_direct_room(user_id, room_id)
            # The person is invited by now: make sure nio knows it before the first post, so
            # the room key goes to their devices.
            room = await self._known_room(room_id, refresh=True)
            if encrypt and not room.encrypted:
                # A server module may strip the encryption event; still send (crisis
                # resources must arrive), but let the operator know.
                logger.warning("direct room %s was created without encryption", room_id)
            logger.info(
                "opened direct room %s with %s (%s)",
                room_id,
                user_id,
                "encrypted" if room.encrypted else "not encrypted",
            )
            return room_id, True

    def _user_left(self, room_id: str, user_id: str) -> bool:
        """Whether the synced state shows `user_id` gone from `room_id` (then it is useless).

        A room missing from the cache proves nothing (it may be too new to be synced).
        """
        room = self._client.rooms.get(room_id)
        return room is not None and self._ready.is_set() and user_id not in room.users
