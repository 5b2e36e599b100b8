"""Data minimisation, proven (issue 6): a whole check-in on a real Synapse, then a search.

Message bodies are processed in memory and never written to the database or the logs, except
the text of items members chose to park. Saying so is easy; this test shows it. Members take
part in a check-in run by `!seance` commands, with sentences that exist nowhere else (each
holds two random tokens): ordinary answers, blame that earns a nudge, a long outpouring, a
technical message the bot offers to park, crisis messages (one inside a command), commands with
free text, an edited message, and the items parked by 🅿️ and by `!stationner`. The logs are at
DEBUG all along, configured by the bot's own `setup_logging`, as an operator's
`log_level = "DEBUG"` would.

Then the raw bytes of every file in the bot's data directory (database, WAL, credentials,
crypto store), read both while the bot runs and after it stopped, and the log text are searched
for each sentence and its tokens. The parked texts must be found in the database — a search
that finds nothing proves nothing — and every other sentence nowhere. The log must carry the
event ids of the messages the bot acted on: it says what happened without saying what was said.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import re
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.guards import normalise
from bot.localserver import LocalSynapse
from bot.member_client import MemberClient, Seen
from bot.runtime import DATABASE_FILE, QUIET_LOGGERS, setup_logging
from tests.integration.conftest import Users, member, start_bot

pytestmark = pytest.mark.integration

WITHIN = 5.0
PARKING = "\U0001f17f\ufe0f"  # 🅿️, as clients send it (with the emoji variation selector)
ACK = "✅"
ROUNDS = 6  # the default format, soutien-30

OUTPOURING = (
    "je repense encore à cette nuit-là, aux appels qui ne finissaient plus, "
    "à la famille dans le corridor et au médecin qui ne rappelait pas; "
)
# What members type. `{a}` and `{b}` become random tokens: one near the start (a copy cut
# short still holds it) and one at the end. `command` is typed before the sentence.
SENTENCES: dict[str, tuple[str, str]] = {
    "hello_alice": ("", "{a} présente, contente de vous voir ce midi (témoin {b})"),
    "hello_bruno": ("", "{a} salut tout le monde, je suis là avec mon café (témoin {b})"),
    "weather": ("", "Jaune {a} : une semaine chargée mais ça va (témoin {b})"),
    "crisis": ("", "{a} je vois plus de sortie, tout le monde serait mieux sans moi (témoin {b})"),
    "blame": ("", "C'est la faute de la gestion {a}, ils se foutent de nous (témoin {b})"),
    "technical": (
        "",
        "Le logiciel de garde {a} plante encore quand je change mon horaire,"
        " quelqu'un sait pourquoi ? (témoin {b})",
    ),
    "before_edit": ("", "{a} une marche au parc avec Julie Gagnon m'a aidée (témoin {b})"),
    "after_edit": ("", "{a} une marche au parc m'a aidée à décrocher (témoin {b})"),
    "outpouring": ("", "{a} " + OUTPOURING * 5 + "(témoin {b})"),
    "parked_by_reaction": (
        "",
        "Le formulaire de remboursement {a} du kilométrage n'est plus sur l'intranet (témoin {b})",
    ),
    "parked_before_edit": (
        "",
        "La pompe IV {a} de la chambre de M. Tremblay sonne sans arrêt (témoin {b})",
    ),
    "parked_after_edit": (
        "",
        "La pompe IV {a} de la chambre du fond sonne sans arrêt (témoin {b})",
    ),
    "parked_by_command": (
        "!stationner",
        "Les casiers {a} du vestiaire ne ferment plus à clé (témoin {b})",
    ),
    "help_free_text": ("!aide", "{a} comment on fait après une journée de fou (témoin {b})"),
    "crisis_in_command": (
        "!passer",
        "{a} je suis plus capable, j'ai envie d'en finir (témoin {b})",
    ),
    "direct_message": ("", "{a} merci pour le petit mot, ça m'a fait réfléchir (témoin {b})"),
}
# The texts members chose to park: kept, in the database only. (The text of the message parked
# after an edit is the corrected one: what its author meant to say, perhaps without a name.)
PARKED = frozenset({"parked_by_reaction", "parked_after_edit", "parked_by_command"})


@dataclass(frozen=True)
class Witness:
    """One sentence a member types, unique to this run, and the ways a copy could look."""

    name: str
    command: str
    text: str
    tokens: tuple[str, str]

    @property
    def typed(self) -> str:
        return f"{self.command} {self.text}" if self.command else self.text

    def needles(self) -> dict[str, bytes]:
        """Byte patterns of a copy: whole (raw, HTML- or JSON-escaped) or cut down to a token
        (which survives any escaping, the guards' normalisation, and UTF-16)."""
        found = {
            "text": self.text.encode(),
            "html-escaped text": html.escape(self.text).encode(),
            "json-escaped text": json.dumps(self.text)[1:-1].encode(),
        }
        for number, token in enumerate(self.tokens, start=1):
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                found[f"token {number} ({encoding})"] = token.encode(encoding)
        return found


def _token() -> str:
    """Twelve random lower-case letters, never the same twice in a row (normalising squeezes
    doubled letters), so a normalised copy of a sentence still holds its tokens."""
    while True:
        token = "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))
        if all(a != b for a, b in itertools.pairwise(token)):
            return token


def _witnesses() -> dict[str, Witness]:
    witnesses = {}
    for name, (command, template) in SENTENCES.items():
        while True:
            tokens = (_token(), _token())
            text = template.format(a=tokens[0], b=tokens[1])
            # The guards' rewrites may take a token for a word (« jq… » reads as « je q… »):
            # draw again until the normalised text still holds both.
            folded = normalise(text, "fr")
            if all(token in folded for token in tokens):
                break
        witnesses[name] = Witness(name, command, text, tokens)
    return witnesses


def _snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, by relative path, as raw bytes."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def _places(witness: Witness, places: dict[str, bytes]) -> list[str]:
    """Where a copy of `witness` is: « place: form » for each hit."""
    return [
        f"{place}: {form}"
        for place, data in places.items()
        for form, needle in witness.needles().items()
        if needle in data
    ]


@pytest.fixture
def bot_log(tmp_path: Path) -> Iterator[Path]:
    """The whole process's logs at DEBUG, configured by the bot's own `setup_logging` (the
    libraries it keeps quiet stay quiet: that is part of the promise), written to a file outside
    the data directory, with the bot's format."""
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *QUIET_LOGGERS)}
    path = tmp_path / "halte.log"
    # `basicConfig(force=True)` closes the root's handlers: let it see an empty list, so
    # pytest's own capture handlers are left alone, then put them back beside the bot's.
    kept = root.handlers
    root.handlers = []
    try:
        setup_logging("DEBUG")
    finally:
        ours = root.handlers
        root.handlers = [*kept, *ours]
    stream = path.open("w", encoding="utf-8")
    try:
        (handler,) = ours
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)  # the bot's handler and format, into a file, not stderr
        for name in ("bot.app", "bot.guarding", "bot.checkins", "bot.transports.matrix"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.DEBUG, name
        for name in ("commandes", "stockage"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.DEBUG, name
        yield path
    finally:
        for added in ours:
            root.removeHandler(added)
        stream.close()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_no_message_body_is_stored_or_logged_except_parked_items(
    synapse: LocalSynapse, users: Users, data_dir: Path, bot_log: Path
) -> None:
    witnesses = _witnesses()
    said = {name: w.typed for name, w in witnesses.items()}
    # The bot's data directory holds the bot's files only: Synapse's database and log are not
    # searched (they hold everything, by design: the homeserver is the room).
    assert not _inside(synapse.workdir, data_dir)

    bot_account = users.new("halte")
    bot_id = bot_account[0]
    event_ids: dict[str, str] = {}
    async with (
        member(synapse, users, "anim", accept_invites_from=bot_id) as anim,
        member(synapse, users, "alice", accept_invites_from=bot_id) as alice,
        member(synapse, users, "bruno", accept_invites_from=bot_id) as bruno,
    ):

        def from_bot_in(room: str) -> Callable[[Seen], bool]:
            return lambda seen: seen.room_id == room and seen.sender == bot_id

        def direct_from_bot(client: MemberClient, words: str) -> Callable[[Seen], bool]:
            return lambda seen: (
                seen.room_id in client.direct_rooms and seen.sender == bot_id and words in seen.body
            )

        def bot_reacted(client: MemberClient, room: str, event: str, key: str) -> bool:
            return any(
                (r, sender, target) == (room, bot_id, event) and k.startswith(key)
                for r, sender, target, k in client.reactions
            )

        async with start_bot(
            synapse, users, data_dir, allowlist=[anim.user_id], run_time=True, account=bot_account
        ) as bot:
            room = await anim.create_room("Soutien", invite=[bot_id, alice.user_id, bruno.user_id])
            for peer in (alice, bruno):
                await peer.wait_for_invite(WITHIN)
                await peer.join(room)
            await bot.wait_joined(room)

            async def ask(client: MemberClient, text: str) -> Seen:
                sent = await client.send(room, text)
                return await client.reply_to(room, sent, bot_id, within=WITHIN)

            async def say(client: MemberClient, name: str) -> str:
                event_ids[name] = await client.send(room, said[name])
                return event_ids[name]

            async def next_round(number: int) -> None:
                # `!seance suivant` is answered by the next prompt: no deadline is waited for.
                if number == 1:
                    await anim.send(room, "!seance debut")
                else:
                    await anim.send(room, "!seance suivant")
                await alice.wait_for(
                    lambda s: from_bot_in(room)(s) and f"Tour {number} sur {ROUNDS}" in s.body,
                    within=WITHIN,
                )

            assert "groupe de soutien est créé" in (await ask(anim, "!groupe creer soutien")).body
            for peer in (alice, bruno):
                assert "Bienvenue dans le groupe" in (await ask(peer, "!rejoindre")).body

            # Round 1, welcome: ordinary answers.
            await next_round(1)
            await say(alice, "hello_alice")
            await say(bruno, "hello_bruno")

            # Round 2, weather: an ordinary answer, and a crisis (resources to Bruno, an alert
            # to the moderator, both private).
            await next_round(2)
            await say(alice, "weather")
            await say(bruno, "crisis")
            await bruno.wait_for(direct_from_bot(bruno, "1 866 APPELLE"), within=WITHIN)
            await anim.wait_for(direct_from_bot(anim, bruno.user_id), within=WITHIN)

            # Round 3, what is heavy: blame (a private nudge) and technical talk (a 🅿️ offer).
            await next_round(3)
            await say(alice, "blame")
            await alice.wait_for(direct_from_bot(alice, "personnes absentes"), within=WITHIN)
            technical = await say(bruno, "technical")
            await alice.wait_until(
                lambda: bot_reacted(alice, room, technical, "\U0001f17f"), within=WITHIN
            )

            # Round 4, what helps: a message corrected by its author, and a long outpouring.
            await next_round(4)
            edited = await say(alice, "before_edit")
            await alice.edit(room, edited, said["after_edit"])
            await say(bruno, "outpouring")
            await bruno.wait_for(direct_from_bot(bruno, "Merci de t'être confié"), within=WITHIN)

            # Round 5: two topics parked by 🅿️, one of them corrected before it was parked.
            await next_round(5)
            parked = await say(bruno, "parked_by_reaction")
            event_ids["parking_reaction"] = await alice.react(room, parked, PARKING)
            await alice.wait_until(lambda: bot_reacted(alice, room, parked, ACK), within=WITHIN)
            corrected = await say(bruno, "parked_before_edit")
            await bruno.edit(room, corrected, said["parked_after_edit"])
            await anim.react(room, corrected, PARKING)
            await alice.wait_until(lambda: bot_reacted(alice, room, corrected, ACK), within=WITHIN)

            # Round 6, closing: commands with free text, one of them parked, one a crisis.
            await next_round(6)
            stationed = await ask(alice, said["parked_by_command"])
            assert "C'est stationné" in stationed.body, stationed.body
            await ask(bruno, said["help_free_text"])
            # (`!passer` takes no text: the answer is its usage; the safety net read it first.)
            await ask(alice, said["crisis_in_command"])
            await alice.wait_for(direct_from_bot(alice, "1 866 APPELLE"), within=WITHIN)

            # A word to the bot in private (the direct room its nudge opened), then a command
            # there, answered after it: the word was handled.
            (direct,) = alice.direct_rooms
            await alice.send(direct, said["direct_message"])
            asked = await alice.send(direct, "!confidentialite")
            await alice.reply_to(direct, asked, bot_id, within=WITHIN)

            await anim.send(room, "!seance suivant")
            summary = await alice.wait_for(
                lambda s: from_bot_in(room)(s) and "Merci pour cette rencontre" in s.body,
                within=WITHIN,
            )
            assert "Personnes qui ont pris la parole : 2" in summary.body, summary.body
            assert "Sujets stationnés pour la réunion d'équipe : 3" in summary.body, summary.body

            # What the bot kept of the parked items: the texts chosen, the corrected one included.
            items = await bot.app.services.repos.parking.items(room)
            assert sorted(item.text for item in items) == sorted(
                witnesses[name].text for name in PARKED
            )
            # Read while the bot still runs: recent writes are in the WAL, not yet checkpointed.
            running = _snapshot(data_dir)
        stopped = _snapshot(data_dir)

    logged = _read(bot_log)
    log_text = logged.decode()
    assert {DATABASE_FILE, f"{DATABASE_FILE}-wal", "credentials.json"} <= set(running), running
    assert any(name.startswith("crypto/") for name in running), sorted(running)
    assert DATABASE_FILE in stopped

    # The search can find: each parked text is in the database (file or WAL), both times.
    for name in PARKED:
        witness = witnesses[name]
        for label, files in (("running", running), ("stopped", stopped)):
            database = {k: v for k, v in files.items() if k.startswith(DATABASE_FILE)}
            assert any(witness.text.encode() in data for data in database.values()), (label, name)
            elsewhere = {k: v for k, v in files.items() if k not in database}
            assert _places(witness, elsewhere) == [], (label, name)
        # Parked, so stored; never logged for all that.
        assert _places(witness, {"log": logged}) == [], name

    # Nothing else is anywhere: not in a file the bot keeps, running or stopped, not in its logs.
    leaks = {
        name: found
        for name, witness in witnesses.items()
        if name not in PARKED
        for found in [
            _places(witness, {f"running:{k}": v for k, v in running.items()})
            + _places(witness, {f"stopped:{k}": v for k, v in stopped.items()})
            + _places(witness, {"log": logged})
        ]
        if found
    }
    assert leaks == {}, leaks

    # The logs say what happened, by ids and counts: the log level was DEBUG, and the events
    # the bot acted on are named by their ids (the crisis, the nudges, the 🅿️ offer, parking).
    assert " DEBUG " in log_text
    assert room in log_text
    for name in ("crisis", "blame", "technical", "outpouring", "parking_reaction"):
        assert event_ids[name] in log_text, name
    assert re.search(r"check-in \d+: round -> closed \(\d+ posts\)", log_text), log_text
