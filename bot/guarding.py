"""The guards at run time: the crisis safety net, venting nudges, and 🅿️ on technical talk.

Every non-command message goes through `Guards.on_message`, in memory: its text is classified
and forgotten. What is kept is counts (safety signals: who, where, when; participation) and the
few facts that pace the nudges (who was nudged in which round).

Order matters: the safety net runs first and always, in every room; a message flagged as a
crisis gets no other guard's attention (never a venting nudge on a crisis message).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot import checkin as machine
from bot.guards import (
    BLAME,
    LONG,
    Classification,
    classify,
    dominates,
    far_longer,
    is_red_weather,
    negative,
)
from bot.guards.rounds import NEGATIVE_SCORE
from bot.i18n import Rendered, join, render, render_template
from bot.messages import Direct, Message, React, Text
from bot.parkinglot import PARKING_EMOJI
from bot.services import Services, room_moderators
from stockage.checkins import CheckinRecord
from stockage.groups import Group

log = logging.getLogger(__name__)

RESOURCES_EVERY = timedelta(minutes=30)
ALERT_EVERY = timedelta(minutes=10)

# Round keys whose focus is "what helps": a run of negative messages there earns a nudge.
HELPS_ROUNDS = frozenset({"aide", "ce-qui-aide", "what-helps"})
WEATHER_ROUNDS = frozenset({"meteo", "weather"})

DEFAULT_THRESHOLDS: dict[str, float] = {
    # One member posting most of the round's messages: more than this share, at least N.
    "dominance_share": 0.5,
    "dominance_minimum": 4,
    # One message far longer than the round's others: this many times their median, and
    # more than this many characters.
    "long_ratio": 3.0,
    "long_chars": 600,
    # This many negative messages in a row by one member in a "what helps" round.
    "negative_run": 3,
}


@dataclass
class RoundStats:
    """What the venting guard knows of one round, in memory: counts and lengths only."""

    messages: Counter[str] = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)
    negative_runs: Counter[str] = field(default_factory=Counter)
    nudged: set[str] = field(default_factory=set)


# Screening cost grows faster than the length for some texts (a long run of small words): a
# long message is read in overlapping windows, so 64 KiB costs a fraction of a second.
WINDOW = 2000
OVERLAP = 200


def screen(text: str, group: Group | None = None) -> Classification:
    """`classify`, bounded in time for long messages: any window's signal counts; the crisis
    net as sensitive as the group chose (standard outside groups)."""
    sensitive = group is not None and group.crisis_sensitivity == "elevee"
    if len(text) <= 2 * WINDOW:
        return classify(text, None, sensitive=sensitive)
    first = classify(text[:WINDOW], None, sensitive=sensitive)
    crisis, technical, venting = first.crisis, first.technical, set(first.venting)
    for start in range(WINDOW - OVERLAP, len(text), WINDOW - OVERLAP):
        part = classify(text[start : start + WINDOW], first.lang, sensitive=sensitive)
        crisis, technical = crisis or part.crisis, technical or part.technical
        venting.update(part.venting)
    ordered = tuple(signal for signal in (BLAME, LONG) if signal in venting)
    return first._replace(crisis=crisis, technical=technical, venting=ordered)


class Guards:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._rounds: dict[tuple[int, int], RoundStats] = {}
        self._explained: set[int] = set()

    async def on_message(self, message: Message, group: Group | None) -> None:
        language = group.language if group else self.services.settings.language
        found = screen(message.body, group)
        record = await self._running(group)
        round_key = self._round_key(record)
        red = (
            record is not None
            and round_key in WEATHER_ROUNDS
            and is_red_weather(message.body, found.lang)
        )
        if found.crisis or red:
            await self.safety_net(message, group, language, "red_weather" if red else "message")
            return
        if group is None:
            return
        if found.technical and self._offers_parking(group, record):
            await self._offer_parking(message, group, record)
        if record is not None and group.nudges:
            await self._venting(message, group, record, found)

    async def safety_only(self, message: Message, group: Group | None) -> bool:
        """The safety net alone, for commands, whose text may also signal a crisis
        (« !stationner … »). Only what follows the command's name is read: the name is the
        bot's word, not the person's (« !help » is not a cry for help)."""
        language = group.language if group else self.services.settings.language
        words = message.body.strip().split(maxsplit=1)
        if len(words) < 2 or not screen(words[1], group).crisis:
            return False
        await self.safety_net(message, group, language, "message")
        return True

    # -- safety net ------------------------------------------------------------------------

    async def safety_net(
        self, message: Message, group: Group | None, language: str, kind: str
    ) -> None:
        """Resources privately to the person at once; a private alert to the moderators.

        Paced per person (one resources message per 30 min, one alert per 10 min) so a
        person in distress writing several messages is not flooded; never the text.
        """
        services = self.services
        now = services.clock.now()
        safety = services.repos.safety
        last_resources = await safety.last(message.sender, "resources_sent")
        send_resources = last_resources is None or now - last_resources >= RESOURCES_EVERY
        last_alert = await safety.last(message.sender, "alerted")
        alert = last_alert is None or now - last_alert >= ALERT_EVERY
        # Recorded first: a crash after this point does not repeat a resources message.
        await safety.record(
            message.room_id,
            message.sender,
            kind,
            now,
            resources_sent=send_resources,
            alerted=alert,
        )
        log.warning(
            "safety signal (%s) in %s (event %s): resources %s, alert %s",
            kind,
            message.room_id,
            message.event_id,
            send_resources,
            alert,
        )
        if send_resources:
            rendered = self._resources(language, told=alert)
            await services.transport.send(
                Direct(
                    user_id=message.sender,
                    body=rendered.body,
                    html=rendered.html,
                    key=f"safety:{message.event_id}:resources",
                )
            )
        if alert:
            await self._alert(message, group, language)

    def _resources(self, language: str, *, told: bool) -> Rendered:
        own = self.services.settings.safety.resources(language)
        base = render(language, "safety.resources") if own is None else Rendered(own, own)
        if not told:
            return base
        extra = render(language, "safety.moderators_told")
        return Rendered(f"{base.body}\n{extra.body}", f"{base.html}<br>\n{extra.html}")

    async def _alert(self, message: Message, group: Group | None, language: str) -> None:
        services = self.services
        moderators = set(room_moderators(services.transport, services.settings, message.room_id))
        if group is None:
            # Outside a group (a direct chat, an ordinary room): the configured contacts.
            moderators = set(services.settings.moderators) | set(
                services.settings.safety.alert_contacts
            )
        moderators.discard(message.sender)
        zone = ZoneInfo(group.timezone if group else services.settings.timezone)
        when = message.timestamp.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        rendered = render(
            language,
            "safety.alert",
            person=message.sender,
            room=services.transport.room_name(message.room_id),
            time=when,
        )
        for moderator in sorted(moderators):
            await services.transport.send(
                Direct(
                    user_id=moderator,
                    body=rendered.body,
                    html=rendered.html,
                    key=f"safety:{message.event_id}:alert:{moderator}",
                )
            )

    # -- technical talk --------------------------------------------------------------------

    @staticmethod
    def _offers_parking(group: Group, record: CheckinRecord | None) -> bool:
        if group.technical_mode == "toujours":
            return True
        return group.technical_mode == "seance" and record is not None

    async def _offer_parking(
        self, message: Message, group: Group, record: CheckinRecord | None
    ) -> None:
        """React 🅿️ so one tap parks it; once per check-in, say what the 🅿️ means."""
        transport = self.services.transport
        await transport.send(
            React(
                room_id=message.room_id,
                event_id=message.event_id,
                emoji=PARKING_EMOJI + "\ufe0f",
                key=f"technical:{message.event_id}",
            )
        )
        log.info(
            "technical talk offered to parking in %s (event %s)", message.room_id, message.event_id
        )
        explain_key = record.id if record is not None else 0
        if explain_key in self._explained:
            return
        self._explained.add(explain_key)
        rendered = render(group.language, "guards.parking_explained")
        await transport.send(
            Text(
                room_id=message.room_id,
                body=rendered.body,
                html=rendered.html,
                key=f"checkin:{explain_key}:parking-explained" if record else None,
            )
        )

    # -- venting ---------------------------------------------------------------------------

    async def _running(self, group: Group | None) -> CheckinRecord | None:
        if group is None:
            return None
        record = await self.services.repos.checkins.current(group.room_id)
        if record is None or record.state.phase is not machine.Phase.ROUND:
            return None
        return record

    def _round_key(self, record: CheckinRecord | None) -> str | None:
        if record is None:
            return None
        rounds = self.services.checkins.plan(record.format).rounds
        index = record.state.round_index
        return rounds[index].key if 0 <= index < len(rounds) else None

    async def _venting(
        self, message: Message, group: Group, record: CheckinRecord, found: Classification
    ) -> None:
        stats = self._rounds.setdefault((record.id, record.state.round_index), RoundStats())
        sender = message.sender
        length = len(message.body)
        others = list(stats.lengths)
        stats.messages[sender] += 1
        stats.lengths.append(length)
        limits = {**DEFAULT_THRESHOLDS, **group.guard_thresholds}
        round_key = self._round_key(record)
        if round_key in HELPS_ROUNDS and negative(message.body, found.lang) >= NEGATIVE_SCORE:
            stats.negative_runs[sender] += 1
        else:
            stats.negative_runs[sender] = 0
        signal = self._signal(stats, sender, length, others, found, limits, round_key)
        if signal is None or sender in stats.nudged:
            return
        if not await self.services.repos.members.is_member(group.room_id, sender):
            return  # nobody is nudged who has not joined
        stats.nudged.add(sender)
        await self._nudge(message, group, record, signal)

    @staticmethod
    def _signal(
        stats: RoundStats,
        sender: str,
        length: int,
        others: list[int],
        found: Classification,
        limits: dict[str, float],
        round_key: str | None,
    ) -> str | None:
        """The first venting signal this message raises, if any (thresholds are the group's)."""
        if dominates(
            stats.messages,
            sender,
            share=limits["dominance_share"],
            minimum=int(limits["dominance_minimum"]),
        ):
            return "dominance"
        if far_longer(
            length, others, ratio=limits["long_ratio"], minimum=int(limits["long_chars"])
        ):
            return "long"
        if BLAME in found.venting:
            return "blame"
        if round_key in HELPS_ROUNDS and stats.negative_runs[sender] >= limits["negative_run"]:
            return "negative"
        return None

    async def _nudge(
        self, message: Message, group: Group, record: CheckinRecord, signal: str
    ) -> None:
        """One short, kind, private word that brings back the round's question."""
        fmt = self.services.checkins.format_for(record.format)
        index = record.state.round_index
        question = fmt.rounds[index].text(group.language) if index < len(fmt.rounds) else None
        rendered = render(
            group.language,
            f"guards.nudge_{signal}",
            title=question.title if question else "",
        )
        log.info(
            "venting nudge (%s) in %s, round %d (event %s)",
            signal,
            group.room_id,
            index,
            message.event_id,
        )
        await self.services.transport.send(
            Direct(
                user_id=message.sender,
                body=rendered.body,
                html=rendered.html,
                key=f"checkin:{record.id}:vent:{index}:{message.sender}",
            )
        )


async def refocus(services: Services, group: Group) -> bool:
    """`!recentrer`: post the round's question again; False when no round is on."""
    record = await services.repos.checkins.current(group.room_id)
    if record is None or record.state.phase is not machine.Phase.ROUND:
        return False
    fmt = services.checkins.format_for(record.format)
    question = fmt.rounds[record.state.round_index].text(group.language)
    header = render(group.language, "guards.refocus", title=question.title)
    # The format's prompt is operator-written markup, not a member's words.
    prompt = render_template(question.prompt.replace("{", "{{").replace("}", "}}"), {})
    rendered = join([header, prompt])
    await services.transport.send(
        Text(room_id=group.room_id, body=rendered.body, html=rendered.html)
    )
    return True
