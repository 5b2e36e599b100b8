"""The Matrix transport: matrix-nio's sync loop turned into `Incoming` values, and back.

Everything Matrix-specific lives here, so the domain never sees a nio object. Three decisions
shape the module:

- The sync token is saved only after the handler has seen every event of a sync response. A
  crash therefore replays the last batch rather than losing it; the app dedupes by event id.
- A first run (no stored token) skips the room history: a bot that joins, or restarts with a
  fresh database, must not answer commands typed hours earlier.
- The homeserver going away is normal (upgrades, restarts): the loop waits with exponential
  backoff and resumes from the saved token instead of exiting.

matrix-nio ships no type hints, so its objects are `Any` here; they are converted at once into
`bot.messages` values and never leave the module.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self, TypeVar

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    ReactionEvent,
    RoomCreateEvent,
    RoomMemberEvent,
    RoomMessageText,
    RoomPreset,
)

from bot.config import MatrixSettings
from bot.logs import log_failure
from bot.messages import (
    Direct,
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
    "MatrixLoginError",
    "MatrixStateStore",
    "MatrixTransport",
    "SendError",
    "invite_allowed",
    "to_incoming",
    "transaction_id",
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
    return datetime.fromtimestamp(int(event.server_timestamp) / 1000, tz=UTC)


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
    relations = (source.get("unsigned") or {}).get("m.relations") or {}
    replace = relations.get("m.replace") or {}
    if replace.get("sender", sender) != sender:
        return None
    new = (replace.get("content") or {}).get("m.new_content") or {}
    body = new.get("body")
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
    reported as LEAVE: either way the bot is out of the room.
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


def _describe(exc: BaseException) -> str:
    """A short reason for the logs; exception texts here carry URLs and codes, not secrets."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _new_client(homeserver: str, user_id: str) -> Any:
    """The one place the nio client is built (E2EE will be switched on here).

    nio's `_send` already retries 429 `M_LIMIT_EXCEEDED`, sleeping `retry_after_ms` each
    time; `max_limit_exceeded` bounds that so a throttled send ends as a `SendError` instead of
    waiting forever. `max_timeouts` keeps nio's own retries of connection errors short (they
    reuse the transaction id, so they cannot duplicate a message); `request_timeout` bounds
    every request but the long-poll sync, whose timeout nio derives from the sync's own.
    """
    config = AsyncClientConfig(
        max_limit_exceeded=MAX_RATE_LIMITED,
        max_timeouts=MAX_CONNECTION_RETRIES,
        request_timeout=REQUEST_TIMEOUT_S,
        encryption_enabled=False,
        store_sync_tokens=False,
    )
    return AsyncClient(homeserver, user_id, config=config)


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
    ) -> None:
        self._settings = settings
        self._credentials_path = data_dir / CREDENTIALS_FILE
        self._store = store
        self._sleep = sleep
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

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
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
        finally:
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

        Texts go out as `m.notice`. A `Direct` opens (and remembers) a direct room when needed.
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
                return await self._send_direct(out)

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
            self._logged_in = True

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
            room = self._client.rooms.get(room_id)
            is_direct = room is not None and int(room.member_count) <= 2
            for event in events:
                incoming = self._convert(event, room_id, is_direct)
                if incoming is not None:
                    if self._stopping.is_set():
                        return False
                    await self._deliver(handler, incoming)
                    count += 1
        for room_id, info in response.rooms.leave.items():
            # nio ignores left rooms entirely: report the bot's departure ourselves and drop the
            # room from the cache, so `power_level` and direct rooms stop relying on it.
            for event in _after_own_join(info.timeline.events, self.user_id):
                incoming = self._convert(event, room_id, False)
                if incoming is None:
                    continue
                if self._stopping.is_set():
                    return False
                await self._deliver(handler, incoming)
                count += 1
                if isinstance(incoming, Membership) and incoming.user_id == self.user_id:
                    self._client.rooms.pop(room_id, None)
                    self._creators.pop(room_id, None)
                    logger.info("left room %s", room_id)
        if count:
            logger.debug("sync delivered %d events", count)
        return True

    def _convert(self, event: Any, room_id: str, is_direct: bool) -> Incoming | None:
        return to_incoming(
            event,
            room_id,
            own_user_id=self.user_id,
            ignored_users=self._ignored,
            is_direct=is_direct,
        )

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
        try:
            response = await self._client.room_send(
                room_id,
                event_type,
                content,
                tx_id=transaction_id(key) if key is not None else None,
            )
        except (ClientError, TimeoutError) as exc:
            raise SendError(
                f"homeserver unreachable while sending to {room_id}: {_describe(exc)}"
            ) from exc
        if isinstance(response, ErrorResponse):
            raise SendError(
                f"could not send {event_type} to {room_id}: {response}",
                errcode=response.status_code,
            )
        logger.debug("sent %s %s to room %s", event_type, response.event_id, room_id)
        return str(response.event_id)

    async def _send_direct(self, out: Direct) -> str:
        room_id, created = await self._direct_room(out.user_id, replace=None)
        try:
            return await self._send_text(room_id, out.body, out.html, None, out.key)
        except SendError as exc:
            # The bot was removed from the old direct room (it may have happened while it was
            # offline): open a new one rather than failing forever.
            if created or exc.errcode != "M_FORBIDDEN":
                raise
        room_id, _ = await self._direct_room(out.user_id, replace=room_id)
        return await self._send_text(room_id, out.body, out.html, None, out.key)

    async def _direct_room(self, user_id: str, *, replace: str | None) -> tuple[str, bool]:
        """The direct room with `user_id`, created if missing or unusable; (room, created).

        One lock around look-up and creation, so two messages at once open one room.
        """
        async with self._direct_lock:
            room_id = await self._store.direct_room(user_id)
            if room_id is not None and room_id != replace and not self._user_left(room_id, user_id):
                return room_id, False
            try:
                response = await self._client.room_create(
                    is_direct=True,
                    invite=[user_id],
                    preset=RoomPreset.trusted_private_chat,
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
            logger.info("opened direct room %s with %s", room_id, user_id)
            return room_id, True

    def _user_left(self, room_id: str, user_id: str) -> bool:
        """Whether the synced state shows `user_id` gone from `room_id` (then it is useless).

        A room missing from the cache proves nothing (it may be too new to be synced).
        """
        room = self._client.rooms.get(room_id)
        return room is not None and self._ready.is_set() and user_id not in room.users
