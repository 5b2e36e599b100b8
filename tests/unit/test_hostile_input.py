"""Hostile input through the whole dispatcher: every command of the registry, any text.

Issue 6, « Hostile and broken input ». The whole bot runs on the console transport (the
recording boundary) and hypothesis writes what people type: huge messages (64 KiB), control and
zero-width characters, right-to-left marks, combining marks, emoji with variation selectors,
HTML, Matrix pills, Markdown, `{braces}` and `%s`. Lone surrogates are left out: they cannot
travel in Matrix JSON.

Whatever the text, for every command (French names and English aliases, as member and as
moderator, in a group room and outside one):

- nothing escapes `Halte.handle` (the log has no ERROR record: the dispatcher logs its failures
  there, with "failed");
- the bot answers a command it parsed, with at most a few messages, each small enough for one
  Matrix event;
- arguments that do not fit get the command's usage line, a refusal says why;
- every HTML body holds only the tags the renderer makes, without attributes (user text is
  escaped), says the same as the plain body, and the plain body holds no markup or entity that
  the person did not type.

Text that is not a command, crisis-looking text in odd spellings included, and reactions of any
key on any message go through the guards and the parking lot under the same properties. The
bugs found that live outside the dispatcher's reach are strict xfails, each saying where.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.i18n import render
from bot.messages import Direct, DirectFile, Message, Outgoing, React, Text
from bot.transports.console import CONSOLE_ROOM
from commandes.arguments import Arg, Choice, Integer
from commandes.registry import Command, ParseError, Role, UnknownCommand
from commandes.routers import build_registry
from tests.conftest import MODERATOR, ConsoleBot

MEMBER = "@marie:console"
GROUP_ROOM = CONSOLE_ROOM
# Each example outside a group gets a fresh room, so a `!groupe creer` typed there by a
# moderator does not turn the next example's room into a group.
_OUTSIDE = itertools.count(1)
_EVENTS = itertools.count(1)

#: A 64 KiB message: the largest a Matrix event carries.
HUGE = 64 * 1024
#: What one reply may weigh, body and HTML as JSON (a Matrix event holds 65 536 bytes in all,
#: envelope and signatures included).
MAX_CONTENT_BYTES = 60_000
#: « At most a few messages » in the room: the reply, plus what a command such as
#: `!seance debut` posts.
MAX_IN_ROOM = 5
#: And privately: the safety net's resources and alerts when the text also reads as a crisis,
#: a note to moderators, or a data export cut into event-sized parts.
MAX_PRIVATE = 12

COMMANDS = build_registry().commands
ALL_NAMES = sorted({name for c in COMMANDS for name in (c.name, *c.aliases)})

HOSTILE_PIECES = [
    "\x00",
    "\x01\x02\x07\x08\x1b[31m\x7f",
    "\r\n\r",
    "\u200b",
    "\ufeff",
    "\u200d\u200c\u2060",
    "\u202e",
    "\u202egnp.exe\u202c",
    "\u200f\u061c",
    "שלום עולם",
    "مرحبا",
    "e\u0301\u0301\u0301\u0327",
    "Z\u0351\u0308\u0334\u0315\u0362\u0317",
    "❤️",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🅿️✅",
    "\ufe0f\ufe0e",
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.y/z></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<IMG SRC=x OnErRoR=alert(1)>",
    '<a href="https://matrix.to/#/@x:y">@x</a>',
    '<a href="javascript:alert(1)">clic</a>',
    "<!-- c --><![CDATA[x]]><?pi?>",
    "&lt;b&gt; &amp; &#60;i&#62; &#x3C;",
    "</strong></code><br><strong>",
    "**gras** __souligne__ *i* `code` ```bloc```",
    "[lien](https://example.org) ![img](x)",
    "> citation\n> suite",
    "{braces} {0} {x!r} {x:>99999} {{}}",
    "%s %d %(x)s %%",
    "@room",
    "@x:y",
    "!aide",
    "\\",
    "\"'",
]
#: Words the argument types accept, so hostile text also reaches handlers and later arguments.
VALID_WORDS = [
    "1",
    "2",
    "0",
    "999999999",
    "fr",
    "en",
    "soutien",
    "communaute",
    "UTC",
    "America/Montreal",
    "mardi",
    "Tue",
    "12:00",
    "19h30",
    "2026-12-01",
    "chaque",
    "semaine",
    "oui",
    "non",
    "liste",
    "tout",
    "gestionnaire",
    "aucun",
    "auteur",
    "anonyme",
    "toujours",
    "seance",
    "dominance-share",
    "long-chars",
    "defaut",
    "1e309",
    "nan",
    "-1",
    "meteo",
    "!autre:console",
    "#autre:console",
]
SEPARATORS = [" ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u3000"]

fragments = st.one_of(
    st.sampled_from(HOSTILE_PIECES),
    st.sampled_from(VALID_WORDS),
    st.text(st.characters(codec="utf-8"), max_size=24),
)
normal_arguments = st.lists(st.tuples(st.sampled_from(SEPARATORS), fragments), max_size=5).map(
    lambda parts: "".join(sep + fragment for sep, fragment in parts)
)
huge_arguments = st.tuples(st.sampled_from([*HOSTILE_PIECES, "x", "x "]), st.booleans()).map(
    lambda piece_spaced: _huge(*piece_spaced)
)
# Mostly ordinary lengths (every command also gets a 64 KiB word in a test of its own).
arguments = st.one_of(*[normal_arguments] * 7, huge_arguments)


# Arguments that fit each declared argument, by type, so that handlers run too: then the
# hostile text is in a free-text argument, or in a word that only has to be one word.
FITTING = {
    "TimeOfDay": ["12:00", "19h30", "7h"],
    "Day": ["2026-12-01", "2026-11-30"],
    "TimeZone": ["UTC", "America/Montreal", "Europe/Paris"],
    "Weekday": ["mardi", "Tue", "mer."],
    "Cadence": ["chaque semaine", "aux 2 semaines America/Toronto"],
    "Word": ["meteo", "1", "2", "soutien-30", "!autre:console", "#autre:console", "defaut"],
}
hostile_words = st.one_of(
    st.sampled_from(HOSTILE_PIECES).map(lambda piece: "".join(piece.split()) or "x"),
    st.text(st.characters(codec="utf-8", exclude_categories=("Zs", "Zl", "Zp", "Cc")), min_size=1),
)


def _fitting(arg: Arg) -> st.SearchStrategy[str]:
    kind = arg.type
    if isinstance(kind, Choice):
        return st.sampled_from(sorted(kind.words))
    if isinstance(kind, Integer):
        # Small numbers name the parked item that exists; the bounds test the range.
        return st.sampled_from(
            [kind.minimum, min(kind.minimum + 1, kind.maximum), kind.maximum]
        ).map(str)
    known = st.sampled_from(FITTING.get(type(kind).__name__, ["x"]))
    return st.one_of(known, normal_arguments) if arg.rest else st.one_of(known, hostile_words)


def fitting_arguments(command: Command) -> st.SearchStrategy[str]:
    """The command's arguments, each of its type (some optional ones left out)."""
    parts = [st.tuples(st.sampled_from(SEPARATORS), _fitting(arg)) for arg in command.args]
    return st.tuples(*parts, st.integers(0, len(parts))).map(
        lambda drawn: "".join(sep + word for sep, word in drawn[: len(drawn) - 1])
    )


def _huge(piece: str, spaced: bool) -> str:
    """About 64 KiB of UTF-8 (room left for the command's name), after a separator."""
    unit = piece + (" " if spaced else "")
    return " " + unit * ((HUGE - 200) // len(unit.encode()))


def _command_text(prefix: str, name: str, spelling: str, args: str) -> str:
    shown = {"as is": name, "upper": name.upper(), "title": name.title()}[spelling]
    return f"{prefix}{shown}{args}"


# --- what every answer must satisfy ----------------------------------------------------------


class _HtmlReader(HTMLParser):
    """Every tag, comment or declaration of an HTML body, and its text as a reader sees it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "li":
            # The plain body numbers the agenda's items where the HTML list does.
            self.text.append(f"\n{dict(attrs).get('value')}. ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("/" + tag, []))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags.append(("!--", []))

    def handle_decl(self, decl: str) -> None:
        self.tags.append(("!decl", []))

    def unknown_decl(self, data: str) -> None:
        self.tags.append(("!decl", []))

    def handle_pi(self, data: str) -> None:
        self.tags.append(("?pi", []))


# What the renderer itself writes: markup from the catalogues, and the agenda's numbered list.
RENDERER_TAGS = {
    "strong",
    "/strong",
    "code",
    "/code",
    "br",
    "ol",
    "/ol",
    "li",
    "/li",
    "pre",
    "/pre",
}
PLAIN_MARKERS = ["<strong>", "</strong>", "<code>", "</code>", "<br>", "&lt;", "&gt;", "&amp;"]


def _words(text: str) -> list[str]:
    """The words of a text, without its Markdown code fences (HTML has `<pre>` for them)."""
    return [word for word in text.split() if not word.startswith("```")]


def check_html(body: str, html: str, typed: str) -> None:
    lowered = html.lower()
    for raw in ("<script", "<img", "<a ", "<a\n", "<!--", "<![cdata"):
        assert raw not in lowered, (raw, html[:500])
    reader = _HtmlReader()
    reader.feed(html)
    reader.close()
    for tag, attrs in reader.tags:
        assert tag in RENDERER_TAGS, (tag, html[:500])
        if tag == "li":
            # `<li value="3">`: the agenda's item numbers, nothing a person typed.
            assert all(name == "value" and (value or "").isdigit() for name, value in attrs)
        elif tag == "code":
            # `<pre><code class="language-json">`: a data export, highlighted as JSON.
            assert attrs in ([], [("class", "language-json")]), attrs
        else:
            assert attrs == [], (tag, attrs)
    # The HTML says what the plain body says, no more (line breaks and fences aside).
    assert _words("".join(reader.text)) == _words(body)
    # The plain body holds no markup or entity the renderer made from the person's text.
    for marker in PLAIN_MARKERS:
        assert marker not in body or marker in typed, (marker, body[:500])


def check_answer(sent: list[Outgoing], typed: str) -> None:
    in_room = [o for o in sent if not isinstance(o, Direct | DirectFile)]
    assert len(in_room) <= MAX_IN_ROOM, [type(o).__name__ for o in sent]
    assert len(sent) - len(in_room) <= MAX_PRIVATE, [type(o).__name__ for o in sent]
    for out in sent:
        if isinstance(out, React):
            continue
        if isinstance(out, DirectFile):
            # A file has no event-size limit; its name must stay a bare name.
            assert "/" not in out.filename, out.filename
            assert out.filename.isprintable(), out.filename
            continue
        assert isinstance(out, Text | Direct)
        content = {"body": out.body, "formatted_body": out.html or ""}
        size = len(json.dumps(content, ensure_ascii=False).encode())
        assert size <= MAX_CONTENT_BYTES, (size, out.body[:200])
        if out.html is not None:
            check_html(out.body, out.html, typed)


def errors(caplog: pytest.LogCaptureFixture, since: int) -> list[str]:
    return [r.getMessage()[:400] for r in caplog.records[since:] if r.levelno >= logging.ERROR]


async def send(bot: ConsoleBot, room_id: str, sender: str, body: str) -> tuple[str, list[Outgoing]]:
    """One message through the real dispatcher; its event id and everything the bot sent."""
    event_id = f"$hostile{next(_EVENTS)}"
    before = len(bot.console.sent)
    await bot.app.handle(
        Message(
            event_id=event_id,
            room_id=room_id,
            sender=sender,
            body=body,
            timestamp=bot.clock.now(),
        )
    )
    return event_id, bot.console.sent[before:]


async def set_up_group(bot: ConsoleBot) -> None:
    """A group in the console room, a member in it, and one parked item (#1) to act on."""
    await bot.reply(MODERATOR, "!groupe creer")
    await bot.reply(MEMBER, "!rejoindre")
    await bot.reply(MEMBER, "!stationner le formulaire de remboursement")


async def expected_reply(
    bot: ConsoleBot, body: str, room_id: str, sender: str
) -> tuple[str, str | None, str]:
    """What the dispatcher owes this command text: (kind, text it must contain, language)."""
    app = bot.app
    group = await app.services.repos.groups.get(room_id)
    language = group.language if group else app.services.settings.language
    moderator = app.services.is_moderator(room_id, sender)
    try:
        command = app.registry.parse(body.strip()).command
        parse_error: ParseError | None = None
    except UnknownCommand:
        return "unknown", None, language
    except ParseError as exc:
        command, parse_error = exc.command, exc
    if command.role is Role.MODERATOR and not moderator:
        refusal = render(language, "errors.moderators_only", command=command.shown_name(language))
        return "refused", refusal.body, language
    if command.needs_group and group is None:
        return "refused", render(language, "errors.not_a_group").body, language
    if parse_error is not None:
        return "usage", command.usage(language), language
    return "ran", None, language


USAGE_MARKER = {"fr": "Utilisation :", "en": "Usage:"}


async def check_command(
    bot: ConsoleBot, caplog: pytest.LogCaptureFixture, body: str, *, moderator: bool, grouped: bool
) -> None:
    sender = MODERATOR if moderator else MEMBER
    room_id = GROUP_ROOM if grouped else f"!dehors{next(_OUTSIDE)}:console"
    assert bot.app.registry.is_command_text(body.strip())
    kind, must_contain, language = await expected_reply(bot, body, room_id, sender)
    since = len(caplog.records)
    event_id, sent = await send(bot, room_id, sender, body)

    assert errors(caplog, since) == []
    assert sent, "a command gets an answer"
    check_answer(sent, body)
    replies = [o for o in sent if isinstance(o, Text) and o.reply_to == event_id]
    if kind == "usage":
        usage_line = f"{USAGE_MARKER[language]} {must_contain}"
        assert any(usage_line in r.body for r in replies), (usage_line, [r.body for r in replies])
    elif kind == "refused":
        assert [r.body for r in replies] == [must_contain]


# --- every command, any argument text --------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    prefix=st.sampled_from(["!", "/"]),
    spelling=st.sampled_from(["as is", "upper", "title"]),
    data=st.data(),
    moderator=st.sampled_from([True, True, False]),
    grouped=st.sampled_from([True, True, False]),
)
async def test_every_command_survives_any_argument_text(
    bot: ConsoleBot,
    caplog: pytest.LogCaptureFixture,
    command: Command,
    prefix: str,
    spelling: str,
    data: st.DataObject,
    moderator: bool,
    grouped: bool,
) -> None:
    """Each example goes to the command under its French name and under every English alias."""
    args = data.draw(st.one_of(arguments, fitting_arguments(command)), label="args")
    caplog.set_level(logging.INFO)
    if await bot.app.services.repos.groups.get(GROUP_ROOM) is None:
        await set_up_group(bot)
    for name in (command.name, *command.aliases):
        body = _command_text(prefix, name, spelling, args)
        await check_command(bot, caplog, body, moderator=moderator, grouped=grouped)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(ALL_NAMES),
    data=st.data(),
    moderator=st.sampled_from([True, True, False]),
    grouped=st.sampled_from([True, True, False]),
)
async def test_commands_one_after_another_keep_every_property(
    bot: ConsoleBot,
    caplog: pytest.LogCaptureFixture,
    name: str,
    data: st.DataObject,
    moderator: bool,
    grouped: bool,
) -> None:
    """One bot through many commands, so hostile text meets the state earlier ones left
    (a started check-in, a schedule, parked items, a group switched to English)."""
    command = bot.app.registry.find(name)
    assert command is not None
    args = data.draw(st.one_of(arguments, fitting_arguments(command)), label="args")
    caplog.set_level(logging.INFO)
    if await bot.app.services.repos.groups.get(GROUP_ROOM) is None:
        await set_up_group(bot)
    body = f"!{name}{args}"
    await check_command(bot, caplog, body, moderator=moderator, grouped=grouped)


async def test_a_64_kib_word_to_any_command_gets_a_short_answer(
    bot: ConsoleBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: errors quoted the typed word whole, so a 64 KiB word came back in a reply
    of about 140 KB (body and HTML), more than a Matrix event holds: the send failed."""
    caplog.set_level(logging.INFO)
    await set_up_group(bot)
    word = "<x>" * (HUGE // 3 - 30)
    # As a moderator in the group, every command gets as far as reading its arguments.
    for name in ALL_NAMES:
        await check_command(bot, caplog, f"!{name} {word}", moderator=True, grouped=True)
    # An unknown command or subcommand quotes what was typed.
    for typed in (f"!x{word}", f"!groupe{word}", f"!groupe {word}", f"!seance {word}"):
        for moderator in (True, False):
            await check_command(bot, caplog, typed, moderator=moderator, grouped=True)


@pytest.mark.parametrize("typed", ["!aide !", "!help /", "!aide !/!"])
async def test_help_about_a_bare_prefix_answers_without_failing(
    bot: ConsoleBot, caplog: pytest.LogCaptureFixture, typed: str
) -> None:
    caplog.set_level(logging.INFO)
    since = len(caplog.records)
    sent = await bot.say(MEMBER, typed)
    assert errors(caplog, since) == []
    assert len(sent) == 1
    assert isinstance(sent[0], Text)
    assert sent[0].body != render("fr", "errors.internal", ref=bot.console.last_event_id).body


# --- long lists of parked words --------------------------------------------------------------


async def _park_many(bot: ConsoleBot, count: int, unit: str) -> None:
    await set_up_group(bot)
    for number in range(count):
        # Words of emoji or of `<&>` (no space before the number, so `shorten` keeps them).
        text = unit * (1980 // len(unit)) + f"#{number}"
        sent = await bot.say(MEMBER, f"!stationner {text}")
        assert len(sent) == 1


@pytest.mark.parametrize("unit", ["😀", "<&>"])
async def test_parking_list_of_long_items_fits_in_one_matrix_event(
    bot: ConsoleBot, unit: str
) -> None:
    await _park_many(bot, 41, unit)
    sent = await bot.say(MEMBER, "!stationnement")
    check_answer(sent, "")


@pytest.mark.parametrize("unit", ["😀", "<&>"])
async def test_agenda_preview_of_long_items_fits_in_one_matrix_event(
    bot: ConsoleBot, unit: str
) -> None:
    await _park_many(bot, 31, unit)
    sent = await bot.say(MODERATOR, "!ordre-du-jour")
    check_answer(sent, "")


# --- text that is not a command --------------------------------------------------------------

CRISIS = ["je veux mourir", "j'ai envie d'en finir", "I want to kill myself", "je vais me tuer"]
# Cyrillic letters that look Latin.
HOMOGLYPHS = str.maketrans(dict(zip("eoaic", "\u0435\u043e\u0430\u0456\u0441", strict=True)))
LEET = str.maketrans({"e": "3", "o": "0", "i": "1", "a": "4"})
ODD_SPELLINGS = [
    lambda s: s,
    str.upper,
    lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),  # fullwidth
    lambda s: "\u200b".join(s),
    lambda s: "\u00ad".join(s),
    lambda s: "".join(c + "\u0301" for c in s),
    lambda s: "\u202e" + s[::-1] + "\u202c",
    lambda s: s.translate(HOMOGLYPHS),
    lambda s: s.translate(LEET),
    lambda s: " ".join(s),
    lambda s: s.replace(" ", "\u00a0"),
    lambda s: s.replace("r", "rrrr").replace("i", "iiii"),
    lambda s: f"<b>{s}</b>",
    lambda s: f"**{s}** 😢❤️",
    lambda s: f"> {s}",
    lambda s: s.encode("utf-8").decode("latin-1"),  # mojibake
]
crisis_text = st.tuples(
    st.sampled_from(CRISIS), st.sampled_from(ODD_SPELLINGS), normal_arguments
).map(lambda t: t[1](t[0]) + t[2])
free_text = st.one_of(normal_arguments, huge_arguments, crisis_text, crisis_text)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=free_text, grouped=st.booleans(), moderator=st.booleans())
async def test_any_text_that_is_not_a_command_never_crashes_the_guards(
    bot: ConsoleBot, caplog: pytest.LogCaptureFixture, text: str, grouped: bool, moderator: bool
) -> None:
    caplog.set_level(logging.INFO)
    if await bot.app.services.repos.groups.get(GROUP_ROOM) is None:
        await set_up_group(bot)
        # A round is running: the venting and parking guards read every message too.
        await bot.say(MODERATOR, "!groupe technique toujours")
        await bot.say(MODERATOR, "!seance debut")
    if bot.app.registry.is_command_text(text.strip()):
        text = "» " + text
    sender = MODERATOR if moderator else MEMBER
    room_id = GROUP_ROOM if grouped else f"!dehors{next(_OUTSIDE)}:console"
    since = len(caplog.records)
    _, sent = await send(bot, room_id, sender, text)
    assert errors(caplog, since) == []
    check_answer(sent, text)


INVISIBLE_OR_COMPATIBLE = {
    "zero-width spaces": lambda s: "\u200b".join(s),
    "soft hyphens": lambda s: "\u00ad".join(s),
    "fullwidth letters": lambda s: "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s
    ),
    "combining accents": lambda s: "".join(c + "\u0301" for c in s),
}


@pytest.mark.parametrize("spelling", INVISIBLE_OR_COMPATIBLE.values(), ids=INVISIBLE_OR_COMPATIBLE)
@pytest.mark.parametrize("phrase", ["je veux mourir", "I want to kill myself"])
async def test_invisible_or_compatibility_characters_do_not_hide_a_crisis(
    bot: ConsoleBot, phrase: str, spelling: Callable[[str], str]
) -> None:
    await set_up_group(bot)
    sent = await bot.say(MEMBER, spelling(phrase))
    assert any(isinstance(o, Direct) and o.user_id == MEMBER for o in sent)


@pytest.mark.parametrize("phrase", ["je veux mourir", "I want to kill myself"])
async def test_the_guards_do_read_free_text(bot: ConsoleBot, phrase: str) -> None:
    """The property above has teeth: a plain crisis phrase reaches the safety net."""
    await set_up_group(bot)
    sent = await bot.say(MEMBER, phrase)
    assert any(isinstance(o, Direct) and o.user_id == MEMBER for o in sent)


async def test_a_long_run_of_small_words_is_screened_quickly(bot: ConsoleBot) -> None:
    await set_up_group(bot)
    await bot.say(MEMBER, "pas de souci")  # the classifier's lists are built on first use
    started = time.perf_counter()
    await bot.say(MEMBER, "pas " * 4000)
    # Linear screening takes a few milliseconds for these 16 000 characters.
    assert time.perf_counter() - started < 0.3


# --- reactions -------------------------------------------------------------------------------

reaction_keys = st.one_of(
    st.sampled_from(["🅿️", "🅿", "🅿\ufe0f\ufe0f", "🅿️\u200b", "✅", "✅️", "👍🏽", "", " ", "\x00"]),
    st.sampled_from(HOSTILE_PIECES),
    huge_arguments,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(key=reaction_keys, text=free_text, target=st.sampled_from(["said", "unknown", "hostile"]))
async def test_any_reaction_on_any_message_never_crashes(
    bot: ConsoleBot, caplog: pytest.LogCaptureFixture, key: str, text: str, target: str
) -> None:
    """🅿️ parks the text it is put on, whatever that text: it comes back escaped."""
    caplog.set_level(logging.INFO)
    if await bot.app.services.repos.groups.get(GROUP_ROOM) is None:
        await set_up_group(bot)
    if bot.app.registry.is_command_text(text.strip()):
        text = "» " + text
    await bot.say(MEMBER, text)
    said = bot.console.last_event_id
    assert said is not None
    target_id = {"said": said, "unknown": "$inconnu", "hostile": "$<script>" + text[:100]}[target]
    since = len(caplog.records)
    sent = await bot.console.react(MEMBER, target_id, key)
    assert errors(caplog, since) == []
    check_answer(sent, text)
    # The list shows items parked by earlier examples on the same bot too: everything typed
    # so far is what the person may see again, verbatim.
    typed_so_far = getattr(bot, "typed_so_far", "") + "\n" + text
    bot.typed_so_far = typed_so_far  # type: ignore[attr-defined]
    listed = await bot.say(MEMBER, "!stationnement tout")
    assert errors(caplog, since) == []
    check_answer(listed, typed_so_far)
