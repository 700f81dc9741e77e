"""monitor.alerts.render: what an alert says, and that feed content cannot inject markup.

Alerts are built from real matches (the rule engine computes the hits), so the
offsets the renderer marks are the ones production stores.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from monitor.alerts.render import (
    RenderedAlert,
    format_time,
    md_escape,
    render_alert,
    render_test_message,
    split_snippet,
)
from monitor.article import AlertToSend, Article, RuleSpec
from monitor.rules.compile import compile_rules

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)
RULES = compile_rules(
    [RuleSpec("zoom-china", '@Zoom AND ("mainland China" OR resell*)')],
    {"Zoom": ["Zoom", "Zoom Video Communications"]},
)
SUMMARY = (
    "Zoom Video Communications will stop selling directly in mainland China and move to a "
    "partner-only model, the company said on Tuesday."
)


def make_alert(**article_fields: Any) -> AlertToSend:
    """An alert for a Zoom/China article, matched for real; keywords override article fields."""
    fields: dict[str, Any] = dict(
        feed_url="https://thehill.com/news/feed/",
        feed_name="The Hill",
        feed_tags=(),
        key="guid-1",
        guid="guid-1",
        link="https://thehill.com/tech/zoom-china-partner-only",
        canonical_url="https://thehill.com/tech/zoom-china-partner-only",
        title="Zoom to stop direct sales in mainland China",
        summary=SUMMARY,
        published=datetime(2026, 11, 26, 13, 45, tzinfo=timezone.utc),
    )
    fields.update(article_fields)
    article = Article(**fields)
    (match,) = RULES.match(article)
    return AlertToSend(id=1, rule="zoom-china", recipient="compliance", target_key="abc",
                       attempts=0, article=article, hits=match.hits, snippet=match.snippet,
                       matched_at=NOW)


def test_title_is_rule_and_article_title() -> None:
    title = render_alert(make_alert()).title
    assert title == "[zoom-china] Zoom to stop direct sales in mainland China"


def test_text_body_marks_title_hits_shows_the_summary_and_the_url() -> None:
    text = render_alert(make_alert()).text
    assert text.splitlines() == [
        "«Zoom» to stop direct sales in «mainland China»",
        "The Hill · published 2026-11-26 13:45 UTC",
        "",
        ("«Zoom Video Communications» will stop selling directly in «mainland China» and move "
         "to a partner-only model, the company said on Tuesday."),
        "",
        'Rule: zoom-china · matched: @Zoom, "mainland China"',
        "read: https://thehill.com/tech/zoom-china-partner-only",
    ]


def test_hits_only_in_the_summary_are_shown_and_marked() -> None:
    # The case: the terms that fired were only in the summary.
    text = render_alert(make_alert(title="Video platform changes its sales model")).text
    assert "«Zoom Video Communications» will stop selling directly in «mainland China»" in text
    assert text.startswith("Video platform changes its sales model\n")


def test_summary_is_cut_at_a_word_boundary_near_300_characters() -> None:
    long = SUMMARY + " " + "More words follow here. " * 30
    text = render_alert(make_alert(summary=long)).text
    lead = text.split("\n\n")[1].replace("«", "").replace("»", "")
    assert 250 < len(lead) <= 302 and lead.endswith("…")
    assert lead[:-1] == long[: len(lead) - 1] and long[len(lead) - 1] == " "


def test_body_hits_past_the_summary_get_an_excerpt() -> None:
    content = "Background. " * 60 + "Local firms that resell the service take over."
    alert = make_alert(title="Sales change", summary="Zoom changes how it sells.", content=content)
    text = render_alert(alert).text
    assert "In the article: …" in text and "Local firms that «resell» the service" in text
    # Every hit marked, none shown twice: the summary already shows «Zoom».
    assert text.count("«Zoom»") == 1


def test_no_excerpt_repeats_the_title() -> None:
    alert = make_alert(summary="", content="")  # every hit is in the title
    text = render_alert(alert).text
    assert text.count("«mainland China»") == 1 and "In the" not in text


def test_summary_equal_to_the_title_is_not_repeated() -> None:
    title = "Zoom to stop direct sales in mainland China"
    assert render_alert(make_alert(summary=title)).text.count("«mainland China»") == 1


def test_hits_of_a_summary_equal_to_the_title_still_show_when_the_title_has_none() -> None:
    rules = compile_rules([RuleSpec("s", "summary:Zoom")], {})
    article = make_alert(summary="Zoom to stop direct sales in mainland China").article
    (match,) = rules.match(article)
    alert = AlertToSend(id=1, rule="s", recipient="r", target_key="k", attempts=0,
                        article=article, hits=match.hits, snippet=match.snippet, matched_at=NOW)
    text = render_alert(alert).text
    assert text.startswith("Zoom to stop direct sales in mainland China\n")  # no title hit
    assert "In the summary: «Zoom» to stop direct sales" in text


def test_markdown_bolds_hits_and_keeps_the_link() -> None:
    md = render_alert(make_alert()).markdown
    assert md.startswith("**Zoom** to stop direct sales in **mainland China**\n\n")
    assert "**Zoom Video Communications** will stop selling directly in **mainland China**" in md
    assert "read: <https://thehill.com/tech/zoom-china-partner-only>" in md


def test_html_marks_hits_and_links() -> None:
    body = render_alert(make_alert()).html
    assert ">Zoom Video Communications</mark> will stop selling directly in <mark" in body
    assert '<a href="https://thehill.com/tech/zoom-china-partner-only"' in body


def test_html_escapes_untrusted_feed_content() -> None:
    alert = make_alert(
        title='Zoom <script>alert("x")</script><img src="https://track.example/p.gif">',
        feed_name="<b>Evil</b> feed",
        summary="Zoom <iframe src=x></iframe> & more in mainland China",
    )
    body = render_alert(alert).html
    for raw in ("<script", "<img", "<iframe", "<b>Evil"):
        assert raw not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "</mark> &lt;iframe src=x&gt;&lt;/iframe&gt; &amp; more in <mark" in body


def test_markdown_escapes_specials_in_untrusted_text() -> None:
    alert = make_alert(title="Click [here](https://evil.example) *now* <b> Zoom")
    md = render_alert(alert).markdown
    assert r"Click \[here\]\(https://evil.example\) \*now\* \<b\> **Zoom**" in md


@pytest.mark.parametrize(
    ("link", "clickable"),
    [
        ("https://example.com/a", True),  # https: a real link
        ("http://example.com/a", True),  # http: a real link
        ("javascript:alert(1)", False),  # never clickable
        ("data:text/html,<script>", False),  # never clickable
        (None, False),  # no link at all
    ],
)
def test_only_http_links_are_clickable(link: str | None, clickable: bool) -> None:
    rendered = render_alert(make_alert(link=link, canonical_url=None))
    assert ("<a href=" in rendered.html) is clickable
    assert "<script>" not in rendered.html
    assert rendered.markdown.count("<http") == int(clickable)


def test_link_with_spaces_and_brackets_cannot_break_out() -> None:
    rendered = render_alert(make_alert(link='https://example.com/a b"><script>'))
    assert '<a href="https://example.com/a%20b%22%3E%3Cscript%3E"' in rendered.html
    assert "<https://example.com/a%20b%22%3E%3Cscript%3E>" in rendered.markdown


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), "2026-01-02 03:04 UTC"),  # UTC as is
        # another offset: converted
        (datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=2))), "2026-01-02 01:04 UTC"),
        (datetime(2026, 1, 2, 3, 4), "2026-01-02 03:04 UTC"),  # naive: taken as UTC
        (None, "unknown"),  # feed gave no date
    ],
)
def test_format_time(when: datetime | None, expected: str) -> None:
    assert format_time(when) == expected


@pytest.mark.parametrize(
    ("published", "updated", "line"),
    [
        (datetime(2026, 3, 1, 7, 0, tzinfo=timezone.utc),  # both: the publication date
         datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc), "published 2026-03-01 07:00 UTC"),
        (None, datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc),  # Atom <updated> only
         "updated 2026-03-01 08:00 UTC"),
        (None, None, "seen 2026-11-26 14:00 UTC"),  # undated: when it was seen, said so
    ],
)
def test_date_line_never_calls_the_fetch_time_published(
    published: datetime | None, updated: datetime | None, line: str
) -> None:
    rendered = render_alert(make_alert(published=published, updated=updated))
    assert f"The Hill · {line}" in rendered.text
    assert line in rendered.markdown and line in rendered.html


def test_title_is_one_line_and_capped() -> None:
    rendered = render_alert(make_alert(title="Line one\nline two\r\n" + "x" * 400))
    assert "\n" not in rendered.title and "\r" not in rendered.title
    assert rendered.title.startswith("[zoom-china] Line one line two x")
    assert len(rendered.title) <= 250


def test_untitled_article() -> None:
    assert render_alert(make_alert(title="  ")).title == "[zoom-china] (untitled)"


@pytest.mark.parametrize(
    ("snippet", "pieces"),
    [
        ("a «b» c", (("a ", False), ("b", True), (" c", False))),  # one hit
        ("«x»«y»", (("x", True), ("y", True))),  # adjacent hits
        ("no hits", (("no hits", False),)),  # nothing marked
        ("", ()),  # empty
    ],
)
def test_split_snippet(snippet: str, pieces: tuple[tuple[str, bool], ...]) -> None:
    assert split_snippet(snippet) == pieces


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a*b_c", r"a\*b\_c"),  # emphasis
        ("[x](y)", r"\[x\]\(y\)"),  # link
        ("# heading", r"\# heading"),  # heading
        ("- item", r"\- item"),  # list item at line start
        ("1. item", r"1\. item"),  # ordered list at line start
        ("plain text, 3-2", "plain text, 3-2"),  # mid-line dashes untouched
    ],
)
def test_md_escape(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


@pytest.mark.parametrize(
    ("fmt", "attr"),
    [
        ("text", "text"),
        ("markdown", "markdown"),
        ("html", "html"),
        ("HTML", "html"),  # case-insensitive
        ("other", "text"),  # unknown formats get plain text
    ],
)
def test_body_for(fmt: str, attr: str) -> None:
    rendered = RenderedAlert(title="t", text="T", markdown="M", html="H")
    assert rendered.body_for(fmt) == getattr(rendered, attr)


def test_test_message_names_the_recipient_in_every_format() -> None:
    msg = render_test_message("policy-chat")
    assert "policy-chat" in msg.title
    for body in (msg.text, msg.markdown, msg.html):
        assert "policy" in body and "test message" in body
    assert msg.html.startswith("<p>")
