"""The check-in (« rencontre ») as a table-driven state machine: pure, no I/O, no clock.

A check-in is scheduled → reminded → open → round 1..n → closing → closed, or cancelled. Its
state is a frozen value; `transition(state, event, now, plan)` returns the next state and the
effects to carry out (posts, nudges, notes to moderators). A deadline passing is an ordinary
`Tick` event, so the runtime driver only has to sleep until `state.deadline` and feed a tick;
persisting the state and its effects in one transaction is what makes restarts safe.

Timeline rule: when a round's timebox ends on a tick, the next round starts at the planned
instant (the previous end), not at `now`. A bot that was down for ten minutes therefore comes
back at the round the group is actually in, with the time that round has left, and a check-in
whose end passed while the bot was away is closed with a short note instead of replaying
every prompt. A moderator's `!seance suivant` starts the next round now.

```mermaid
stateDiagram-v2
    [*] --> scheduled
    scheduled --> reminded: Tick (remind_at)
    scheduled --> round: Tick (starts_at) / Start
    reminded --> round: Tick (starts_at) / Start
    scheduled --> cancelled: Cancel / start missed beyond grace / Abandon
    reminded --> cancelled: Cancel / start missed beyond grace / Abandon
    round --> round: Tick (round end) / Advance / Skip
    round --> closed: last round ends / Finish
    round --> cancelled: Abandon (the bot was removed from the room)
    closed --> [*]
    cancelled --> [*]
```
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    SCHEDULED = "scheduled"
    REMINDED = "reminded"
    ROUND = "round"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (Phase.CLOSED, Phase.CANCELLED)


@dataclass(frozen=True)
class RoundPlan:
    key: str
    duration: timedelta
    nudge: bool


@dataclass(frozen=True)
class Plan:
    """What the machine needs from the group's format and settings."""

    rounds: tuple[RoundPlan, ...]
    # How late a scheduled start may still happen (with a note) after the bot was down.
    grace: timedelta = timedelta(minutes=10)

    def index(self, key: str) -> int | None:
        for i, round_ in enumerate(self.rounds):
            if round_.key == key:
                return i
        return None


@dataclass(frozen=True)
class State:
    phase: Phase
    # Scheduled check-ins only: when to post the reminder, check the quorum, and start.
    remind_at: datetime | None = None
    quorum_at: datetime | None = None
    starts_at: datetime | None = None
    # During rounds.
    round_index: int = -1
    round_started: datetime | None = None
    round_ends: datetime | None = None
    nudge_at: datetime | None = None
    skipped: frozenset[str] = field(default_factory=frozenset)
    opened_at: datetime | None = None
    version: int = 0

    @property
    def deadline(self) -> datetime | None:
        """The next instant at which a `Tick` changes something."""
        if self.phase is Phase.ROUND:
            pending = [t for t in (self.nudge_at, self.round_ends) if t is not None]
            return min(pending) if pending else None
        if self.phase in (Phase.SCHEDULED, Phase.REMINDED):
            pending = [t for t in (self.remind_at, self.quorum_at, self.starts_at) if t]
            return min(pending) if pending else None
        return None

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "phase": self.phase.value,
            "remind_at": iso(self.remind_at),
            "quorum_at": iso(self.quorum_at),
            "starts_at": iso(self.starts_at),
            "round_index": self.round_index,
            "round_started": iso(self.round_started),
            "round_ends": iso(self.round_ends),
            "nudge_at": iso(self.nudge_at),
            "skipped": sorted(self.skipped),
            "opened_at": iso(self.opened_at),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        def when(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else datetime.fromisoformat(value)

        return cls(
            phase=Phase(data["phase"]),
            remind_at=when("remind_at"),
            quorum_at=when("quorum_at"),
            starts_at=when("starts_at"),
            round_index=int(data["round_index"]),
            round_started=when("round_started"),
            round_ends=when("round_ends"),
            nudge_at=when("nudge_at"),
            skipped=frozenset(data.get("skipped", ())),
            opened_at=when("opened_at"),
            version=int(data["version"]),
        )


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """Time passed: act on every deadline at or before `now`."""


@dataclass(frozen=True)
class Start:
    """Open now (a moderator's `!seance debut`, or a scheduled start)."""


@dataclass(frozen=True)
class Advance:
    """A moderator's `!seance suivant`. `sent_at` is when they typed it: an advance typed
    before (or at) the instant the current round started is a duplicate of the one that
    started it."""

    sent_at: datetime


@dataclass(frozen=True)
class Skip:
    """Skip one round today (`!seance sauter <tour>`)."""

    key: str


@dataclass(frozen=True)
class Finish:
    """Close now (`!seance fin`)."""


@dataclass(frozen=True)
class Cancel:
    """Cancel a check-in that has not started (`!seance annuler`)."""


@dataclass(frozen=True)
class Abandon:
    """The bot is no longer in the room (kicked, banned): end the check-in, whatever its phase,
    without a word. There is nobody to post to, and a summary or a note could not arrive; a
    check-in does not wait for a return that may never come (a new invite starts afresh)."""


Event = Tick | Start | Advance | Skip | Finish | Cancel | Abandon


# --- effects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostReminder:
    """The reminder with its attendance call."""


@dataclass(frozen=True)
class CheckQuorum:
    """Count who said they will attend; tell the moderators privately if too few."""


@dataclass(frozen=True)
class PostOpening:
    """The welcome and the rules. `late` when the start was delayed by the bot's absence."""

    late: bool = False


@dataclass(frozen=True)
class PostPrompt:
    round_index: int
    ends_at: datetime
    # True when the bot came back mid-round: the prompt says how much time is left.
    resumed: bool = False


@dataclass(frozen=True)
class NudgeQuiet:
    """Halfway through the round: one gentle private word to members who have not spoken."""

    round_index: int


@dataclass(frozen=True)
class PostSummary:
    """Counts only: how many took part, items parked, the next date."""

    missed_end: bool = False


@dataclass(frozen=True)
class NotifyMissed:
    """A scheduled start was missed beyond the grace period: tell the moderators."""


Effect = (
    PostReminder | CheckQuorum | PostOpening | PostPrompt | NudgeQuiet | PostSummary | NotifyMissed
)


class Refused(Exception):
    """The event does not apply in this state; `reason` is a catalogue key stem."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def scheduled(starts_at: datetime, remind_before: timedelta) -> State:
    """A check-in for one schedule occurrence, before anything has been posted."""
    remind_at = starts_at - remind_before if remind_before > timedelta(0) else None
    quorum_at = starts_at - remind_before / 2 if remind_at is not None else None
    return State(
        phase=Phase.SCHEDULED, remind_at=remind_at, quorum_at=quorum_at, starts_at=starts_at
    )


def transition(state: State, event: Event, now: datetime, plan: Plan) -> tuple[State, list[Effect]]:
    """The next state and the effects to carry out. Raises `Refused` for a misplaced event."""
    if state.phase.finished:
        raise Refused("checkin.already_finished")
    effects: list[Effect] = []
    if isinstance(event, Tick):
        new = _tick(state, now, plan, effects)
    elif isinstance(event, Start):
        if state.phase is Phase.ROUND:
            raise Refused("checkin.already_running")
        new = _open(state, now, now, plan, effects, late=False)
    elif isinstance(event, Advance):
        if state.phase is not Phase.ROUND:
            raise Refused("checkin.not_running")
        # `<=`: typed at the very instant its round began, it cannot be about that round.
        if state.round_started is not None and event.sent_at <= state.round_started:
            raise Refused("checkin.already_advanced")
        new = _next_round(state, now, now, plan, effects)
    elif isinstance(event, Skip):
        new = _skip(state, event.key, now, plan, effects)
    elif isinstance(event, Finish):
        if state.phase is not Phase.ROUND:
            raise Refused("checkin.not_running")
        new = _close(state, effects)
    elif isinstance(event, Abandon):
        new = replace(state, phase=Phase.CANCELLED)
    else:
        if state.phase is Phase.ROUND:
            raise Refused("checkin.already_running")
        new = replace(state, phase=Phase.CANCELLED)
    if new == state and not effects:
        return state, []
    return replace(new, version=state.version + 1), effects


def _tick(state: State, now: datetime, plan: Plan, effects: list[Effect]) -> State:
    if state.phase in (Phase.SCHEDULED, Phase.REMINDED):
        starts_at = state.starts_at
        if starts_at is not None and now >= starts_at:
            if now - starts_at > plan.grace:
                effects.append(NotifyMissed())
                return replace(state, phase=Phase.CANCELLED)
            # A late start (the bot was down) begins now, with the whole time ahead.
            late = now - starts_at > _LATE
            return _open(state, now if late else starts_at, now, plan, effects, late=late)
        if (
            state.remind_at is not None
            and now >= state.remind_at
            and state.phase is Phase.SCHEDULED
        ):
            effects.append(PostReminder())
            state = replace(state, phase=Phase.REMINDED, remind_at=None)
        if state.quorum_at is not None and now >= state.quorum_at:
            effects.append(CheckQuorum())
            state = replace(state, quorum_at=None)
        return state
    if state.phase is not Phase.ROUND:
        return state
    # Catch up on every round end that passed (one, normally; several after downtime).
    moved = False
    while state.phase is Phase.ROUND and state.round_ends is not None and now >= state.round_ends:
        state = _next_round(state, state.round_ends, now, plan, effects, quiet=True)
        moved = True
    if moved and state.phase is Phase.ROUND:
        assert state.round_ends is not None
        effects.append(
            PostPrompt(state.round_index, state.round_ends, resumed=_resumed(state, now))
        )
    if state.phase is Phase.ROUND and state.nudge_at is not None and now >= state.nudge_at:
        # Coming back past a round's halfway point, the prompt has only just been posted:
        # nobody has had the time to answer, so no nudge for that round.
        if not moved:
            effects.append(NudgeQuiet(state.round_index))
        state = replace(state, nudge_at=None)
    return state


# A start delayed by more than this (by the bot's absence) is announced as late.
_LATE = timedelta(minutes=1)


def _resumed(state: State, now: datetime) -> bool:
    return state.round_started is not None and now - state.round_started > _LATE


def _open(
    state: State, start: datetime, now: datetime, plan: Plan, effects: list[Effect], *, late: bool
) -> State:
    effects.append(PostOpening(late=late))
    first = _first_index(state, plan, 0)
    if first < len(plan.rounds) and start + plan.rounds[first].duration / 2 <= now:
        # Even under a minute late, a short first round would be half over (past its nudge,
        # or over) before its prompt: it begins now instead.
        start = now
    opened = replace(
        state,
        phase=Phase.ROUND,
        remind_at=None,
        quorum_at=None,
        opened_at=start,
        round_index=-1,
    )
    opened = _enter(opened, first, start, plan)
    if opened.phase is Phase.ROUND:
        assert opened.round_ends is not None
        effects.append(PostPrompt(opened.round_index, opened.round_ends))
    else:
        effects.append(PostSummary())
    return opened


def _first_index(state: State, plan: Plan, start: int) -> int:
    """The first round at or after `start` that is not skipped today; len(rounds) if none."""
    index = start
    while index < len(plan.rounds) and plan.rounds[index].key in state.skipped:
        index += 1
    return index


def _enter(state: State, index: int, start: datetime, plan: Plan) -> State:
    if index >= len(plan.rounds):
        return replace(state, phase=Phase.CLOSED, round_ends=None, nudge_at=None)
    round_ = plan.rounds[index]
    return replace(
        state,
        round_index=index,
        round_started=start,
        round_ends=start + round_.duration,
        nudge_at=start + round_.duration / 2 if round_.nudge else None,
    )


def _next_round(
    state: State,
    start: datetime,
    now: datetime,
    plan: Plan,
    effects: list[Effect],
    *,
    quiet: bool = False,
) -> State:
    """Move to the next round starting at `start`; with `quiet`, the caller posts the prompt."""
    moved = _enter(state, _first_index(state, plan, state.round_index + 1), start, plan)
    if moved.phase is Phase.CLOSED:
        # The last round ended; if it ended well before now, the bot was away.
        missed = now - start > _LATE
        effects.append(PostSummary(missed_end=missed))
        return moved
    if not quiet:
        assert moved.round_ends is not None
        effects.append(PostPrompt(moved.round_index, moved.round_ends))
    return moved


def _skip(state: State, key: str, now: datetime, plan: Plan, effects: list[Effect]) -> State:
    index = plan.index(key)
    if index is None:
        raise Refused("checkin.unknown_round")
    if state.phase is Phase.ROUND and index < state.round_index:
        raise Refused("checkin.round_past")
    skipped = replace(state, skipped=state.skipped | {key})
    if state.phase is Phase.ROUND and index == state.round_index:
        return _next_round(skipped, now, now, plan, effects)
    return skipped


def _close(state: State, effects: list[Effect]) -> State:
    effects.append(PostSummary())
    return replace(state, phase=Phase.CLOSED, round_ends=None, nudge_at=None)
