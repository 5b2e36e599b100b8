"""The team-meeting agenda built from parked items: pure, so the room post, the preview and
`halte export-agenda` all say the same thing.

Item texts are people's words: they are escaped wherever they land in HTML (through the
catalogue renderer) and in Markdown (`markdown_escape`), so a parked `<script>` or a Matrix
pill shows as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import Rendered, local_date, render, shorten
from stockage.parking import ParkedItem

# A Matrix event holds 64 KiB (body and HTML together, in bytes): a posted agenda shows at most
# this many items of at most this many characters — sized for 4-byte emoji and `<&>` escaped in
# the HTML; the export and the database keep everything.
POST_ITEMS = 20
POST_ITEM_CHARS = 250


@dataclass(frozen=True)
class AgendaLine:
    number: int
    text: str
    author: str | None  # None when anonymous
    carried: bool  # already on an earlier agenda, not dealt with yet
    parked_at: datetime


@dataclass(frozen=True)
class Agenda:
    group: str
    meeting: datetime | None  # aware; None when the team meeting has no schedule
    timezone: str
    lines: tuple[AgendaLine, ...]

    @classmethod
    def of(
        cls, group: str, meeting: datetime | None, timezone: str, items: list[ParkedItem]
    ) -> Agenda:
        lines = tuple(
            AgendaLine(
                number=item.number,
                text=item.text,
                author=item.shown_author,
                carried=item.agendas > 0,
                parked_at=item.created_at,
            )
            for item in items
        )
        return cls(group=group, meeting=meeting, timezone=timezone, lines=lines)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))


def _meeting_words(agenda: Agenda, language: str) -> str:
    if agenda.meeting is None:
        return render(language, "agenda.next_meeting").body
    return local_date(language, agenda.meeting, agenda.timezone)


def _line(agenda: Agenda, line: AgendaLine, language: str) -> Rendered:
    key = "agenda.line_author" if line.author else "agenda.line"
    rendered = render(
        language,
        key,
        text=shorten(line.text, POST_ITEM_CHARS),
        author=line.author or "",
        day=agenda.local(line.parked_at).strftime("%Y-%m-%d"),
    )
    if not line.carried:
        return rendered
    flag = render(language, "agenda.carried")
    return Rendered(body=f"{rendered.body} {flag.body}", html=f"{rendered.html} {flag.html}")


def render_agenda(agenda: Agenda, language: str) -> Rendered:
    """The post: a title with the group and the meeting, then the numbered items."""
    title = render(
        language, "agenda.title", group=agenda.group, meeting=_meeting_words(agenda, language)
    )
    if not agenda.lines:
        empty = render(language, "agenda.empty")
        return Rendered(f"{title.body}\n{empty.body}", f"{title.html}<br>\n{empty.html}")
    shown = agenda.lines[:POST_ITEMS]
    lines = [(line.number, _line(agenda, line, language)) for line in shown]
    body = "\n".join(f"{number}. {r.body}" for number, r in lines)
    items = "\n".join(f'<li value="{number}">{r.html}</li>' for number, r in lines)
    post = Rendered(body=f"{title.body}\n{body}", html=f"{title.html}\n<ol>\n{items}\n</ol>")
    hidden = len(agenda.lines) - len(shown)
    if hidden:
        more = render(language, "agenda.more", count=hidden)
        post = Rendered(f"{post.body}\n{more.body}", f"{post.html}\n{more.html}")
    return post


# `&` too: an entity such as `&lt;` would otherwise show as another character than typed.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def markdown_escape(text: str) -> str:
    """Make people's words inert in Markdown (and keep each item on one line)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def to_markdown(agenda: Agenda, language: str) -> str:
    title = render(
        language,
        "agenda.title_plain",
        group=markdown_escape(agenda.group),
        meeting=_meeting_words(agenda, language),
    ).body
    out = [f"# {title}", ""]
    if not agenda.lines:
        out.append(render(language, "agenda.empty").body)
    for line in agenda.lines:
        text = markdown_escape(line.text)
        author = f" — {markdown_escape(line.author)}" if line.author else ""
        carried = f" *{render(language, 'agenda.carried').body}*" if line.carried else ""
        out.append(f"{line.number}. {text}{author}{carried}")
    return "\n".join(out) + "\n"


def to_json(agenda: Agenda) -> dict[str, Any]:
    return {
        "group": agenda.group,
        "meeting": None if agenda.meeting is None else agenda.meeting.isoformat(),
        "timezone": agenda.timezone,
        "items": [
            {
                "number": line.number,
                "text": line.text,
                "author": line.author,
                "carried_over": line.carried,
                "parked_at": line.parked_at.isoformat(),
            }
            for line in agenda.lines
        ],
    }
