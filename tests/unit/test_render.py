"""monitor.alerts.render: what an alert says, and that feed content cannot inject markup."""

from __future__ import annotations

from dataclasses import replace
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
from monitor.article import AlertToSend, Article, Hit

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)


def make_alert(**article_fields: Any) -> AlertToSend:
    """An alert for a Zoom/China article; keyword arguments override article fields."""
    fields: dict[str, Any] = dict(
        feed_url="https://thehill.com/news/feed/",
        feed_name="The Hill",
        feed_tags=(),
        key="guid-1",
        guid="guid-1",
        link="https://thehill.com/tech/zoom-china-partner-only",
        canonical_url="https://thehill.com/tech/zoom-china-partner-only",
        title="Zoom to stop direct sales in mainland China",
        published=datetime(2026, 11, 26, 13, 45, tzinfo=timezone.utc),
    )
    fields.update(article_fields)
    return AlertToSend(
        id=1,
        rule="zoom-china",
        recipient="compliance",
        target_key="abc",
        attempts=0,
        article=Article(**fields),
        hits=(
            Hit("Zoom", "title", 0, 4, "Zoom"),
            Hit('"mainland China"', "title", 32, 46, "mainland China"),
            Hit("Zoom", "summary", 0, 4, "Zoom"),
        ),
        snippet="«Zoom» will stop selling in «mainland China», shifting to a partner-only model",
        matched_at=NOW,
    )


def test_title_is_rule_and_article_title() -> None:
    title = render_alert(make_alert()).title
    assert title == "[zoom-china] Zoom to stop direct sales in mainland China"


def test_text_body_has_every_field_and_marked_snippet() -> None:
    text = render_alert(make_alert()).text
    assert text.splitlines()[:2] == [
        "Zoom to stop direct sales in mainland China",
        "https://thehill.com/tech/zoom-china-partner-only",
    ]
    assert "Feed: The Hill" in text
    assert "Published: 2026-11-26 13:45 UTC" in text
    assert 'Matched: Zoom, "mainland China"' in text  # distinct terms, first-seen order
    assert "«Zoom» will stop selling in «mainland China», shifting" in text


def test_markdown_bolds_hits() -> None:
    md = render_alert(make_alert()).markdown
    assert "> **Zoom** will stop selling in **mainland China**, shifting" in md
    assert "<https://thehill.com/tech/zoom-china-partner-only>" in md


def test_html_marks_hits_and_links() -> None:
    body = render_alert(make_alert()).html
    assert "<mark>Zoom</mark> will stop selling in <mark>mainland China</mark>" in body
    assert '<a href="https://thehill.com/tech/zoom-china-partner-only">' in body


def test_html_escapes_untrusted_feed_content() -> None:
    alert = make_alert(
        title='Zoom <script>alert("x")</script><img src="https://track.example/p.gif">',
        feed_name="<b>Evil</b> feed",
    )
    alert = replace(alert, snippet="«Zoom» <iframe src=x></iframe> & more")
    body = render_alert(alert).html
    for raw in ("<script", "<img", "<iframe", "<b>Evil"):
        assert raw not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "<mark>Zoom</mark> &lt;iframe src=x&gt;&lt;/iframe&gt; &amp; more" in body


def test_markdown_escapes_specials_in_untrusted_text() -> None:
    alert = make_alert(title="Click [here](https://evil.example) *now* <b>")
    md = render_alert(alert).markdown
    assert r"**Click \[here\]\(https://evil.example\) \*now\* \<b\>**" in md


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
    assert '<a href="https://example.com/a%20b%22%3E%3Cscript%3E">' in rendered.html
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


def test_missing_published_falls_back_to_updated() -> None:
    alert = make_alert(published=None, updated=datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc))
    assert "Published: 2026-03-01 08:00 UTC" in render_alert(alert).text


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
