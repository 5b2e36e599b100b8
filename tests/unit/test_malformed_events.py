"""Malformed events from the homeserver: skipped, logged by event id, never fatal.

Issue 6, « Hostile and broken input ». A homeserver relays what other servers and clients
send, so an event may miss fields, carry the wrong types or be of a type nobody knows. The
events are real nio objects built from JSON; the sync loop is driven by a small fake
homeserver on a local port (the boundary), which hands out scripted sync responses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from nio import Event

from bot.config import MatrixSettings
from bot.messages import Incoming, Message
from bot.runtime import QUIET_LOGGERS
from bot.transports.matrix import MatrixTransport, _loggable, to_incoming

BOT = "@halte:example.org"
ALICE = "@alice:example.org"
ROOM = "!room:example.org"
TS_MS = 1_700_000_000_123
SECRET = "mot secret de la personne"

_MISSING = object()


def message_source(event_id: str = "$good", body: Any = "!aide", **changes: Any) -> dict[str, Any]:
    """An `m.room.message` as the homeserver sends it; a `_MISSING` value drops that field."""
    source: dict[str, Any] = {
        "type": "m.room.message",
        "event_id": event_id,
        "sender": ALICE,
        "origin_server_ts": TS_MS,
        "content": {"msgtype": "m.text", "body": body},
    }
    source.update(changes)
    return {key: value for key, value in source.items() if value is not _MISSING}


def member_source(event_id: str, content: Any, **changes: Any) -> dict[str, Any]:
    fields = {"type": "m.room.member", "state_key": ALICE, "content": content, **changes}
    return message_source(event_id, **fields)


def reaction_source(event_id: str, content: Any, **changes: Any) -> dict[str, Any]:
    return message_source(event_id, type="m.reaction", content=content, **changes)


ANNOTATION = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$target", "key": "👍"}}

#: Events nio parses into *some* object (often `BadEvent` or `UnknownBadEvent`) that the
#: transport must skip. Each has an event id, so it can be logged by id.
SKIPPED: dict[str, dict[str, Any]] = {
    "message body is a number": message_source("$body-number", body=5),
    "message body is null": message_source("$body-null", body=None),
    "message body is a list": message_source("$body-list", body=[SECRET]),
    "message without body": message_source("$no-body", content={"msgtype": "m.text"}),
    "message without msgtype": message_source("$no-msgtype", content={"body": SECRET}),
    "message msgtype is a number": message_source("$msgtype-number", content={"msgtype": 3}),
    "formatted body is a number": message_source(
        "$formatted-number",
        content={"msgtype": "m.text", "body": SECRET, "format": "x", "formatted_body": 5},
    ),
    "content is a list": message_source("$content-list", content=[SECRET]),
    "content is a string": message_source("$content-string", content=SECRET),
    "sender is a number": message_source("$sender-number", sender=5),
    "sender is an object": message_source("$sender-object", sender={}),
    "type is a number": message_source("$type-number", type=5),
    "timestamp is negative": message_source("$ts-negative", origin_server_ts=-1),
    "timestamp is a float": message_source("$ts-float", origin_server_ts=1.7e12),
    "timestamp is a boolean": message_source("$ts-bool", origin_server_ts=True),
    "no sender": message_source("$no-sender", sender=_MISSING),
    "no timestamp": message_source("$no-ts", origin_server_ts=_MISSING),
    "no type": message_source("$no-type", type=_MISSING),
    "unsigned is a string": message_source("$unsigned-string", unsigned="x"),
    "unknown event type": message_source("$unknown-type", type="org.example.weird", content={}),
    "encrypted without its fields": message_source(
        "$encrypted-bad", type="m.room.encrypted", content={"algorithm": "x"}
    ),
    "reaction without m.relates_to": reaction_source("$reaction-bare", {}),
    "reaction m.relates_to is a string": reaction_source("$reaction-str", {"m.relates_to": "x"}),
    "reaction without key": reaction_source(
        "$reaction-no-key", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$t"}}
    ),
    "reaction key is a number": reaction_source(
        "$reaction-key-number",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$t", "key": 5}},
    ),
    "reaction without target": reaction_source(
        "$reaction-no-target", {"m.relates_to": {"rel_type": "m.annotation", "key": "👍"}}
    ),
    "member without membership": member_source("$member-bare", {}),
    "member membership is a number": member_source("$member-number", {"membership": 5}),
    "member membership unknown": member_source("$member-unknown", {"membership": "knock2"}),
    "member without state_key": member_source(
        "$member-no-key", {"membership": "join"}, state_key=_MISSING
    ),
    "member state_key is a number": member_source(
        "$member-key-number", {"membership": "join"}, state_key=5
    ),
    "create room_version is a number": message_source(
        "$create-number", type="m.room.create", state_key="", content={"room_version": 5}
    ),
}

#: Timestamps that are valid JSON integers (within canonical JSON's range, so a server signs
#: them) but no date Python can hold: set by another server, which may lie.
OUT_OF_RANGE_TS = [2**53 - 1, 10**15]


def _convert(source: dict[str, Any]) -> Incoming | None:
    return to_incoming(Event.parse_event(source), ROOM, own_user_id=BOT)


# --- the conversion, event by event ---------------------------------------------------------


@pytest.mark.parametrize("source", SKIPPED.values(), ids=SKIPPED.keys())
def test_malformed_event_is_skipped_by_the_conversion(source: dict[str, Any]) -> None:
    assert _convert(source) is None


def test_well_formed_events_still_convert() -> None:
    """The cases above differ from these by one field: the skipping is not a blanket one."""
    assert isinstance(_convert(message_source()), Message)
    assert _convert(reaction_source("$r", ANNOTATION)) is not None
    assert _convert(member_source("$m", {"membership": "join"})) is not None


@pytest.mark.parametrize(
    "relation", [["m.in_reply_to"], "m.in_reply_to", 5, None], ids=["list", "str", "int", "null"]
)
def test_a_relation_of_the_wrong_type_is_ignored(relation: Any) -> None:
    """The text is the person's: a broken `m.relates_to` neither drops nor changes it."""
    body = "> <@bob:example.org> quoted\n\n!aide"
    source = message_source(content={"msgtype": "m.text", "body": body, "m.relates_to": relation})
    message = _convert(source)
    assert isinstance(message, Message)
    assert message.body == body


@pytest.mark.parametrize("ts", OUT_OF_RANGE_TS)
@pytest.mark.parametrize("kind", ["message", "reaction", "member"])
def test_an_out_of_range_timestamp_does_not_raise(kind: str, ts: int) -> None:
    source = {
        "message": message_source("$huge-ts"),
        "reaction": reaction_source("$huge-ts", ANNOTATION),
        "member": member_source("$huge-ts", {"membership": "join"}),
    }[kind]
    source["origin_server_ts"] = ts
    _convert(source)  # skipped or converted, but no exception


# --- the sync loop, against a fake homeserver ------------------------------------------------


def sync_body(batch: str, events: list[Any]) -> dict[str, Any]:
    room = {
        "timeline": {"events": events, "limited": False, "prev_batch": "p0"},
        "state": {"events": []},
        "ephemeral": {"events": []},
        "account_data": {"events": []},
    }
    return {"next_batch": batch, "rooms": {"join": {ROOM: room}, "invite": {}, "leave": {}}}


class FakeHomeserver:
    """Answers whoami, the scripted syncs (then empty ones), and single-event fetches."""

    def __init__(self, syncs: list[dict[str, Any]], events: dict[str, Any] | None = None):
        self.syncs = list(syncs)
        self.events = events or {}
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path.endswith("/account/whoami"):
            # No device id: the transport runs without end-to-end encryption.
            return web.json_response({"user_id": BOT})
        if path.endswith("/sync"):
            if self.syncs:
                return web.json_response(self.syncs.pop(0))
            await asyncio.sleep(0.02)
            return web.json_response(sync_body(request.query.get("since", "s0"), []))
        if "/event/" in path:
            event_id = request.match_info["tail"].rsplit("/", 1)[-1]
            if event_id in self.events:
                return web.json_response(self.events[event_id])
        return web.json_response({"errcode": "M_UNRECOGNIZED", "error": "?"}, status=404)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[FakeHomeserver]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            await runner.cleanup()


class _Store:
    """The transport's persisted state: a run after an earlier one (token `s0`)."""

    def __init__(self) -> None:
        self.saved: list[str] = []

    async def load_sync_token(self) -> str | None:
        return self.saved[-1] if self.saved else "s0"

    async def save_sync_token(self, token: str) -> None:
        self.saved.append(token)

    async def direct_room(self, user_id: str) -> str | None:
        return None

    async def save_direct_room(self, user_id: str, room_id: str) -> None:
        raise AssertionError("unused")


async def run_syncs(
    tmp_path: Path, syncs: list[dict[str, Any]], *, until: str = "$later"
) -> tuple[list[Incoming], _Store, list[float]]:
    """Run the transport until the handler sees `until`; what it got, the store, the waits."""
    received: list[Incoming] = []
    delays: list[float] = []
    store = _Store()
    async with FakeHomeserver(syncs).serving() as server:
        settings = MatrixSettings(homeserver=server.url, user_id=BOT, access_token="jeton")
        transport: MatrixTransport

        async def fake_sleep(delay: float) -> None:
            delays.append(delay)

        async def handler(incoming: Incoming) -> None:
            received.append(incoming)
            if incoming.event_id == until:
                await transport.stop()

        transport = MatrixTransport(settings, tmp_path, store, sleep=fake_sleep)
        await asyncio.wait_for(transport.run(handler), timeout=10)
    return received, store, delays


@pytest.fixture
def production_log_levels() -> Iterator[None]:
    """The library log levels `setup_logging` sets in production, restored afterwards."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    before = [logger.level for logger in loggers]
    for logger, quiet in zip(loggers, QUIET_LOGGERS.values(), strict=True):
        logger.setLevel(quiet)
    yield
    for logger, level in zip(loggers, before, strict=True):
        logger.setLevel(level)


def _ids_of(received: list[Incoming]) -> list[str]:
    return [incoming.event_id for incoming in received]


async def test_malformed_events_in_a_sync_are_skipped_and_the_rest_delivered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    syncs = [
        sync_body("s1", [*SKIPPED.values(), message_source("$good")]),
        sync_body("s2", [message_source("$later", body="!groupe info")]),
    ]
    received, store, delays = await run_syncs(tmp_path, syncs)
    assert _ids_of(received) == ["$good", "$later"]
    assert store.saved == ["s1", "s2"]  # the batch counted as handled: no replay, no loop
    assert delays == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR and "nio" not in r.name] == []


async def test_skipped_malformed_events_are_logged_by_event_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.transports.matrix")
    syncs = [
        sync_body("s1", [*SKIPPED.values()]),
        sync_body("s2", [message_source("$later")]),
    ]
    await run_syncs(tmp_path, syncs)
    ours = " ".join(
        r.getMessage() for r in caplog.records if r.name.startswith("bot.transports.matrix")
    )
    missing = [s["event_id"] for s in SKIPPED.values() if s["event_id"] not in ours]
    assert missing == []
    assert ROOM in ours


#: Events the bot has no use for but that are nothing unusual: they are skipped without a word.
ORDINARY: dict[str, dict[str, Any]] = {
    "topic": message_source("$topic", type="m.room.topic", state_key="", content={"topic": SECRET}),
    "name": message_source("$name", type="m.room.name", state_key="", content={"name": "x"}),
    "notice": message_source("$notice", content={"msgtype": "m.notice", "body": SECRET}),
    "emote": message_source("$emote", content={"msgtype": "m.emote", "body": SECRET}),
    "own message": message_source("$own", sender=BOT),
    "edit": message_source(
        "$edit",
        content={
            "msgtype": "m.text",
            "body": SECRET,
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$good"},
        },
    ),
    "profile change": member_source(
        "$profile", {"membership": "join"}, unsigned={"prev_content": {"membership": "join"}}
    ),
}


def _skip_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.transports.matrix" and r.levelno >= level and "skipped" in r.getMessage()
    ]


async def test_ordinary_events_the_bot_has_no_use_for_are_skipped_without_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.transports.matrix")
    syncs = [
        sync_body("s1", [*ORDINARY.values()]),
        sync_body("s2", [message_source("$later")]),
    ]
    received, _, _ = await run_syncs(tmp_path, syncs)
    assert _ids_of(received) == ["$later"]
    assert _skip_lines(caplog, logging.DEBUG) == []
    assert SECRET not in caplog.text


async def test_malformed_events_are_logged_at_info_unknown_types_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One line per malformed event at INFO, the type nio does not know only at DEBUG: an
    operator at INFO sees the broken events and not every poll or call of a busy room."""
    caplog.set_level(logging.INFO, logger="bot.transports.matrix")
    syncs = [
        sync_body("s1", [SKIPPED["message body is a number"], SKIPPED["unknown event type"]]),
        sync_body("s2", [message_source("$later")]),
    ]
    await run_syncs(tmp_path, syncs)
    assert _skip_lines(caplog, logging.INFO) == [
        f"skipped malformed event $body-number (type m.room.message) in room {ROOM}: "
        "it does not match its schema"
    ]
    assert _skip_lines(caplog, logging.WARNING) == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("$abc:example.org", "$abc:example.org"),
        ("$forged\nINFO bot: all good", "'$forged\\nINFO bot: all good'"),
        ("$bell\x07", "'$bell\\x07'"),
        ("$" + "x" * 300, repr("$" + "x" * 79)),
        (5, "<int>"),
        (None, "<NoneType>"),
        ("", "''"),
    ],
    ids=["plain", "newline", "control character", "too long", "number", "missing", "empty"],
)
def test_ids_from_a_remote_server_cannot_forge_log_lines(value: Any, shown: str) -> None:
    """Event ids and types are chosen by whoever sent the event: a newline or a huge value
    is quoted and shortened, so one event is always one log line."""
    assert _loggable(value) == shown


async def test_the_text_of_a_malformed_event_never_reaches_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, production_log_levels: None
) -> None:
    caplog.set_level(logging.INFO)
    syncs = [
        sync_body("s1", [SKIPPED["message without msgtype"]]),
        sync_body("s2", [message_source("$later")]),
    ]
    received, _, _ = await run_syncs(tmp_path, syncs)
    assert _ids_of(received) == ["$later"]
    assert SECRET not in caplog.text


@pytest.mark.parametrize("ts", OUT_OF_RANGE_TS)
async def test_an_out_of_range_timestamp_does_not_stop_the_sync_loop(
    tmp_path: Path, ts: int
) -> None:
    syncs = [
        sync_body("s1", [message_source("$huge-ts", origin_server_ts=ts), message_source("$good")]),
        sync_body("s2", [message_source("$later")]),
    ]
    received, _, _ = await run_syncs(tmp_path, syncs)
    assert "$good" in _ids_of(received)
    assert "$later" in _ids_of(received)


#: Events that make nio's own parsing of the sync response raise (not a BadEvent).
UNPARSABLE: dict[str, Any] = {
    "event without content": message_source("$no-content", content=_MISSING),
    "timestamp is a string": message_source("$ts-string", origin_server_ts="maintenant"),
    "event is a string": "garbage",
    "event is null": None,
    "prev_content is a string": member_source(
        "$prev-string", {"membership": "leave"}, unsigned={"prev_content": "x"}
    ),
}


@pytest.mark.parametrize("event", UNPARSABLE.values(), ids=UNPARSABLE.keys())
async def test_a_sync_nio_cannot_parse_does_not_stop_the_sync_loop(
    tmp_path: Path, event: Any
) -> None:
    syncs = [
        sync_body("s1", [event, message_source("$good")]),
        sync_body("s2", [message_source("$later")]),
    ]
    received, _, _ = await run_syncs(tmp_path, syncs)
    assert "$later" in _ids_of(received)


# --- fetching one message for 🅿️ ------------------------------------------------------------


async def fetch_with(tmp_path: Path, event: dict[str, Any]) -> str | None:
    """`fetch_text` on a running transport, the homeserver answering with `event`."""
    server = FakeHomeserver([], {event["event_id"]: event})
    async with server.serving():
        settings = MatrixSettings(homeserver=server.url, user_id=BOT, access_token="jeton")

        async def handler(incoming: Incoming) -> None:
            raise AssertionError("nothing arrives")

        async with MatrixTransport(settings, tmp_path, _Store()) as transport:
            running = asyncio.ensure_future(transport.run(handler))
            try:
                await asyncio.wait_for(transport.wait_until_ready(), timeout=10)
                return await transport.fetch_text(ROOM, event["event_id"])
            finally:
                await transport.stop()
                await asyncio.wait_for(running, timeout=10)


@pytest.mark.parametrize(
    "source",
    [SKIPPED["message body is a number"], SKIPPED["unknown event type"]],
    ids=["bad body", "unknown type"],
)
async def test_a_malformed_event_to_park_has_no_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, source: dict[str, Any]
) -> None:
    caplog.set_level(logging.INFO, logger="bot.transports.matrix")
    assert await fetch_with(tmp_path, source) is None
    assert source["event_id"] in caplog.text


def _edited(relations: Any) -> dict[str, Any]:
    return message_source("$edited", body="le texte d'origine", unsigned={"m.relations": relations})


@pytest.mark.parametrize(
    "relations",
    [
        "x",
        {"m.replace": "x"},
        {"m.replace": {"sender": ALICE, "content": "x"}},
        {"m.replace": {"sender": ALICE, "content": {"m.new_content": "x"}}},
    ],
    ids=["relations", "replace", "content", "new_content"],
)
async def test_a_malformed_bundled_edit_falls_back_to_the_original_text(
    tmp_path: Path, relations: Any
) -> None:
    assert await fetch_with(tmp_path, _edited(relations)) == "le texte d'origine"


async def test_a_well_formed_bundled_edit_is_what_gets_parked(tmp_path: Path) -> None:
    relations = {
        "m.replace": {
            "sender": ALICE,
            "content": {"m.new_content": {"msgtype": "m.text", "body": "le texte corrigé"}},
        }
    }
    assert await fetch_with(tmp_path, _edited(relations)) == "le texte corrigé"
