"""The agenda's rendering: pure, the same for the room post, the preview and the export."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.agenda import Agenda, AgendaLine, markdown_escape, render_agenda, to_json, to_markdown
from stockage.parking import ItemStatus, ParkedItem

ZONE = "America/Montreal"
# Thursday 13:00 in Montréal (EST, UTC-5).
MEETING = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
# Monday 2026-11-23 at 21:30 in Montréal, already Tuesday in UTC.
PARKED = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
PILL = '<a href="https://matrix.to/#/@x:y">x</a>'
# The only tags the templates themselves write.
TEMPLATE_TAG = re.compile(r'</?(?:strong|code|ol)>|<br>|<li value="\d+">|</li>')


def line(number: int, text: str, author: str | None = None, *, carried: bool = False) -> AgendaLine:
    return AgendaLine(number=number, text=text, author=author, carried=carried, parked_at=PARKED)


def agenda(
    *lines: AgendaLine, group: str = "Soins intensifs", meeting: datetime | None = MEETING
) -> Agenda:
    return Agenda(group=group, meeting=meeting, timezone=ZONE, lines=lines)


SAMPLE = agenda(
    line(3, "Le formulaire de congé ne s'ouvre pas", "@alice:example.org"),
    line(7, "Horaire des fins de semaine", carried=True),
)


class Markup(HTMLParser):
    """What a Matrix client would make of the formatted body: its tags and its text."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def assert_only_template_tags(html: str) -> None:
    leftover = TEMPLATE_TAG.sub("", html)
    assert "<" not in leftover, leftover
    assert set(Markup(html).tags) <= {"strong", "code", "br", "ol", "li"}


# -- the post, in French and in English ------------------------------------------------------


def test_the_french_agenda_as_posted() -> None:
    rendered = render_agenda(SAMPLE, "fr")
    assert rendered.body == (
        "Ordre du jour — Soins intensifs\n"
        "Réunion d'équipe : jeudi 2026-11-26 à 13:00\n"
        "3. Le formulaire de congé ne s'ouvre pas — stationné par @alice:example.org"
        " le 2026-11-23\n"
        "7. Horaire des fins de semaine (stationné le 2026-11-23) (reporté)"
    )
    assert rendered.html == (
        "<strong>Ordre du jour — Soins intensifs</strong><br>\n"
        "Réunion d'équipe : jeudi 2026-11-26 à 13:00\n"
        "<ol>\n"
        '<li value="3">Le formulaire de congé ne s\'ouvre pas — stationné par'
        " @alice:example.org le 2026-11-23</li>\n"
        '<li value="7">Horaire des fins de semaine (stationné le 2026-11-23) (reporté)</li>\n'
        "</ol>"
    )


def test_the_english_agenda_as_posted() -> None:
    rendered = render_agenda(SAMPLE, "en")
    assert rendered.body == (
        "Agenda — Soins intensifs\n"
        "Team meeting: Thursday 2026-11-26 at 13:00\n"
        "3. Le formulaire de congé ne s'ouvre pas — parked by @alice:example.org on 2026-11-23\n"
        "7. Horaire des fins de semaine (parked on 2026-11-23) (carried over)"
    )
    assert (
        '<li value="7">Horaire des fins de semaine (parked on 2026-11-23) (carried over)</li>'
        in rendered.html
    )


def test_the_meeting_date_is_the_groups_local_date() -> None:
    # 02:30 UTC on Friday is still Thursday evening in Montréal.
    late = agenda(meeting=datetime(2026, 11, 27, 2, 30, tzinfo=UTC))
    assert "jeudi 2026-11-26 à 21:30" in render_agenda(late, "fr").body
    in_paris = Agenda(group="g", meeting=MEETING, timezone="Europe/Paris", lines=())
    assert "jeudi 2026-11-26 à 19:00" in render_agenda(in_paris, "fr").body


def test_the_meeting_date_follows_daylight_saving_time() -> None:
    summer = agenda(meeting=datetime(2026, 6, 25, 17, 0, tzinfo=UTC))  # EDT, UTC-4
    assert "jeudi 2026-06-25 à 13:00" in render_agenda(summer, "fr").body


@pytest.mark.parametrize(
    ("language", "words"),
    [("fr", "Réunion d'équipe : la prochaine réunion"), ("en", "Team meeting: the next meeting")],
)
def test_without_a_meeting_schedule_the_title_says_the_next_meeting(
    language: str, words: str
) -> None:
    assert words in render_agenda(agenda(line(1, "a"), meeting=None), language).body


@pytest.mark.parametrize(
    ("language", "empty"),
    [("fr", "Aucun sujet stationné pour cette fois. 🌿"), ("en", "No parked topics this time. 🌿")],
)
def test_an_empty_agenda_says_so(language: str, empty: str) -> None:
    rendered = render_agenda(agenda(), language)
    assert rendered.body.endswith(f"\n{empty}")
    assert rendered.html.endswith(f"<br>\n{empty}")
    assert "<ol>" not in rendered.html


def test_lines_carry_the_item_numbers_not_their_positions() -> None:
    rendered = render_agenda(agenda(line(12, "a"), line(4, "b"), line(5, "c")), "fr")
    assert re.findall(r'<li value="(\d+)">', rendered.html) == ["12", "4", "5"]
    assert [row.split(".")[0] for row in rendered.body.splitlines()[2:]] == ["12", "4", "5"]


def test_an_anonymous_line_names_nobody() -> None:
    rendered = render_agenda(agenda(line(1, "a", None)), "fr")
    assert "stationné par" not in rendered.body
    assert rendered.body.endswith("1. a (stationné le 2026-11-23)")


def test_only_carried_over_lines_are_flagged() -> None:
    rendered = render_agenda(agenda(line(1, "neuf"), line(2, "ancien", carried=True)), "fr")
    assert [("(reporté)" in row) for row in rendered.body.splitlines()[2:]] == [False, True]


def test_the_plain_body_has_no_markup() -> None:
    body = render_agenda(SAMPLE, "fr").body
    for markup in ("**", "<strong>", "<br>", "<ol>", "<li", "&amp;", "&lt;"):
        assert markup not in body


def test_agenda_of_parked_items_hides_anonymous_authors_and_flags_carry_over() -> None:
    def item(number: int, *, anonymous: bool, agendas: int) -> ParkedItem:
        return ParkedItem(
            id=number,
            room_id="!r:x",
            number=number,
            text=f"t{number}",
            author="@a:x",
            anonymous=anonymous,
            source_event=f"$e{number}",
            status=ItemStatus.OPEN,
            note=None,
            merged_into=None,
            checkin_id=None,
            agendas=agendas,
            created_at=PARKED,
            updated_at=PARKED,
        )

    built = Agenda.of(
        "g",
        MEETING,
        ZONE,
        [item(1, anonymous=False, agendas=0), item(2, anonymous=True, agendas=1)],
    )
    assert built.lines == (
        AgendaLine(1, "t1", "@a:x", carried=False, parked_at=PARKED),
        AgendaLine(2, "t2", None, carried=True, parked_at=PARKED),
    )


# -- people's words are text, never markup ---------------------------------------------------


HOSTILE = [
    "<script>alert('x')</script>",
    "Tom & Jerry &amp; &lt;b&gt;",
    "Elle a dit \"non\" et 'non'",
    PILL,
    "<b>gras</b> **gras** `code`",
    "</li></ol><img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_item_text_shows_as_text(text: str, language: str) -> None:
    rendered = render_agenda(agenda(line(1, text, "@alice:x")), language)
    assert_only_template_tags(rendered.html)
    assert text in Markup(rendered.html).text
    assert text in rendered.body  # the plain body is shown as is


def test_a_matrix_pill_is_not_a_link() -> None:
    html = render_agenda(agenda(line(1, f"voir {PILL}")), "fr").html
    assert "<a " not in html
    assert "href" in html
    assert '&lt;a href="https://matrix.to/#/@x:y"&gt;x&lt;/a&gt;' in html
    assert "a" not in Markup(html).tags


@pytest.mark.parametrize("author", HOSTILE)
def test_the_author_shows_as_text(author: str) -> None:
    rendered = render_agenda(agenda(line(1, "sujet", author)), "fr")
    assert_only_template_tags(rendered.html)
    assert f"stationné par {author} le" in Markup(rendered.html).text


@pytest.mark.parametrize("group", HOSTILE)
def test_the_group_name_shows_as_text(group: str) -> None:
    rendered = render_agenda(agenda(line(1, "sujet"), group=group), "fr")
    assert_only_template_tags(rendered.html)
    assert f"Ordre du jour — {group}" in Markup(rendered.html).text
    assert rendered.body.startswith(f"Ordre du jour — {group}\n")


@settings(database=None, max_examples=300)
@given(
    texts=st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=4),
    author=st.none() | st.text(min_size=1, max_size=20),
    group=st.text(max_size=20),
    carried=st.booleans(),
    language=st.sampled_from(["fr", "en"]),
)
def test_no_tag_ever_comes_from_peoples_words(
    texts: list[str], author: str | None, group: str, carried: bool, language: str
) -> None:
    lines = tuple(line(n, text, author, carried=carried) for n, text in enumerate(texts, start=1))
    rendered = render_agenda(agenda(*lines, group=group), language)
    # Take away the template's own tags: not one `<` may remain.
    assert "<" not in TEMPLATE_TAG.sub("", rendered.html)
    # And what a client reads is what they wrote, in the formatted body as in the plain one.
    shown = Markup(rendered.html).text
    for text in texts:
        assert text in shown
        assert text in rendered.body
    assert group in shown


# -- Markdown and JSON exports ---------------------------------------------------------------


def test_the_markdown_export() -> None:
    assert to_markdown(SAMPLE, "fr") == (
        "# Ordre du jour — Soins intensifs — réunion d'équipe : jeudi 2026-11-26 à 13:00\n"
        "\n"
        "3. Le formulaire de congé ne s'ouvre pas — @alice:example\\.org\n"
        "7. Horaire des fins de semaine *(reporté)*\n"
    )


def test_the_markdown_export_of_an_empty_agenda() -> None:
    assert to_markdown(agenda(), "en").endswith("\n\nNo parked topics this time. 🌿\n")


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("**gras** _it_", "\\*\\*gras\\*\\* \\_it\\_"),
        ("# titre", "\\# titre"),
        ("[lien](https://x.y)", "\\[lien\\]\\(https://x\\.y\\)"),
        ("<script>", "\\<script\\>"),
        ("1. liste - puce + plus", "1\\. liste \\- puce \\+ plus"),
        ("`code` ~barré~ | table ! \\", "\\`code\\` \\~barré\\~ \\| table \\! \\\\"),
        # An entity would show as another character than the one typed.
        ("&lt;b&gt; &amp; &#60;", "\\&lt;b\\&gt; \\&amp; \\&\\#60;"),
    ],
)
def test_markdown_escape_makes_specials_inert(text: str, escaped: str) -> None:
    assert markdown_escape(text) == escaped


def test_markdown_keeps_each_item_on_one_line() -> None:
    merged = line(1, "Premier\n(ajouté du #2)   second\r\n\n# pas un titre", "@a:x\nb")
    out = to_markdown(agenda(merged, line(2, "suivant")), "fr").splitlines()
    assert out[2:] == [
        "1. Premier \\(ajouté du \\#2\\) second \\# pas un titre — @a:x b",
        "2. suivant",
    ]


@settings(database=None, max_examples=300)
@given(
    texts=st.lists(st.text(min_size=1, max_size=60), max_size=4),
    author=st.none() | st.text(min_size=1, max_size=20),
    group=st.text(max_size=20),
)
def test_markdown_is_a_title_a_blank_line_and_one_line_per_item(
    texts: list[str], author: str | None, group: str
) -> None:
    lines = tuple(line(n, text, author) for n, text in enumerate(texts, start=1))
    out = to_markdown(agenda(*lines, group=group), "fr").splitlines()
    assert len(out) == 2 + max(1, len(texts))
    assert out[0].startswith("# ")
    assert out[1] == ""
    if texts:
        assert [row.split(". ", 1)[0] for row in out[2:]] == [
            str(n) for n, _ in enumerate(texts, 1)
        ]


def test_markdown_escapes_the_group_name() -> None:
    title = to_markdown(agenda(group="**Urgence** #2"), "fr").splitlines()[0]
    assert title.startswith("# Ordre du jour — \\*\\*Urgence\\*\\* \\#2 — ")


def test_the_json_export() -> None:
    assert to_json(SAMPLE) == {
        "group": "Soins intensifs",
        "meeting": "2026-11-26T18:00:00+00:00",
        "timezone": ZONE,
        "items": [
            {
                "number": 3,
                "text": "Le formulaire de congé ne s'ouvre pas",
                "author": "@alice:example.org",
                "carried_over": False,
                "parked_at": "2026-11-24T02:30:00+00:00",
            },
            {
                "number": 7,
                "text": "Horaire des fins de semaine",
                "author": None,
                "carried_over": True,
                "parked_at": "2026-11-24T02:30:00+00:00",
            },
        ],
    }


def test_the_json_export_without_a_meeting() -> None:
    assert to_json(agenda(meeting=None)) == {
        "group": "Soins intensifs",
        "meeting": None,
        "timezone": ZONE,
        "items": [],
    }
