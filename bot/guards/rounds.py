"""Round-level venting signals, as pure functions the check-in runtime calls with its counts.

A single message cannot tell that one member is taking all the air, or that a "what helps"
round has turned into a list of grievances: only the round can. The runtime keeps the counts
(never the texts, which are not stored) and asks these helpers; thresholds are the group's.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence

DOMINANT_SHARE = 0.5
DOMINANT_MINIMUM = 4
LONGER_RATIO = 3.0
LONGER_MINIMUM = 600
NEGATIVE_SCORE = 0.5
NEGATIVE_RUN = 3


def dominates(
    counts: Mapping[str, int],
    member: str,
    share: float = DOMINANT_SHARE,
    minimum: int = DOMINANT_MINIMUM,
) -> bool:
    """Whether `member` posted more than `share` of the round's messages, and at least `minimum`.

    The minimum keeps a quiet round (two people, three messages) from nudging anyone, and a
    member alone in the round dominates nobody.
    """
    mine = counts.get(member, 0)
    total = sum(counts.values())
    return mine >= minimum and mine > share * total and total > mine


def far_longer(
    length: int,
    others: Iterable[int],
    ratio: float = LONGER_RATIO,
    minimum: int = LONGER_MINIMUM,
) -> bool:
    """Whether a message of `length` characters is over `ratio` times the median of the others'.

    Both conditions must hold, as in the issue: over `minimum` characters too, so that a
    round of one-word answers does not make a two-line message "far longer". With no other
    message to compare with, it is not far longer than anything.
    """
    lengths = list(others)
    if not lengths or length <= minimum:
        return False
    return length > ratio * statistics.median(lengths)


def negative_run(
    scores: Sequence[float], threshold: float = NEGATIVE_SCORE, run: int = NEGATIVE_RUN
) -> bool:
    """Whether the round's last `run` messages all scored at least `threshold` on `negative`."""
    if run <= 0 or len(scores) < run:
        return False
    return all(score >= threshold for score in scores[-run:])
