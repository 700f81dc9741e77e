"""Fuzz: alert rendering. A rule's template is config: template_error() says what is
wrong with it (the config check) or None, never raises; a template it accepts compiles;
and rendering an alert, with the default format or a template, never raises and never
loses the alert (a template failing at render time falls back to the default). Article
fields are hostile: markup, Markdown, NUL, lone surrogates, huge or empty values.

``*`` and ``**`` that would build a huge value (``"x" * 10**9``) fail the render (the
default format goes out); loops in loops over ``range`` only burn time and are left
out: templates are the operator's own config, not feed input.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fuzzkit import fuzz_settings, logged_errors
from hypothesis import given
from hypothesis import strategies as st

from monitor.alerts.digest import DigestItem, DigestToSend
from monitor.alerts.render import (
    RenderedAlert,
    alert_context,
    digest_context,
    render_alert,
    render_digest,
)
from monitor.alerts.templates import RuleTemplate, template_error
from monitor.article import AlertToSend, Article, Hit, StoryRef

pytestmark = pytest.mark.fuzz

PIECES = [
    "{{", "}}", "{%", "%}", "{#", "#}", "{{ ", " }}", "{%- ", " -%}", "\n", " ", "text ",
    "article.title", "article.url", "article.summary", "article.lead", "article.when",
    "evidence.terms", "evidence.snippet", "evidence.excerpts", "matches", "more_count",
    "kind", "rule", "story", "story.title", "story.outlets", "total", "nope", "article.nope",
    "|md", "|e", "|safe", "|upper", "|join(', ')", "|length", "|first", "|int", "|truncate(5)",
    "|format(1)", "|default('x')", "|attr('__class__')", "|map(attribute='title')",
    "for m in matches", "for x in evidence.excerpts", "endfor", "if story", "if x", "else",
    "endif", "set x = 1", "macro m()", "endmacro", "raw", "endraw", "include 'x'",
    "extends 'x'", "import 'x' as y", "filter upper", "endfilter", "call m()", "endcall",
    "().__class__.__mro__", "''.__class__", "cycler.__init__.__globals__", "self",
    "lipsum", "range(3)", "loop.index", "x.y.z", "1/0", "1//0", "'a' ~ 1", "[1,2][5]",
    "{'a': 1}['b']", "none.x", "'%s' % ()", "'{0}'.format()", "(", ")", "[", "]", "'", '"',
    "\u202e", "\x00", "\ud800", "é", "{{ '{{' }}", "'x' * 10**9", "[0] * 10**9",
    "article.title * 10**9", "2 ** (10**9)", "* 3", "** 2", "10**9",
]
templates = st.lists(st.sampled_from(PIECES), max_size=16).map("".join)
ODD_TEXT = st.sampled_from([
    "", " ", "<script>alert(1)</script>", "[x](javascript:alert(1))", "**b** _i_ `c`",
    "&amp; &lt;", "\x00", "\ud800", "\u202e", "a\nb\r\nc", "{{ 7*7 }}", "{% raw %}", "x" * 5000,
    "🙂", "ǅ", "\\", "|", "#", "http://x.example/a b?c=<d>",
]) | st.text(max_size=40)
URLS = st.none() | st.sampled_from(["https://x.example/a?b=1&c=2", "javascript:alert(1)",
                                   "http://[::1/", "", " ", "https://x.example/<>\"'"]) | ODD_TEXT
DATES = st.none() | st.sampled_from([datetime(1, 1, 1, tzinfo=UTC),
                                     datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
                                     datetime(2026, 12, 2, 12, 0, tzinfo=UTC)])
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@st.composite
def hits(draw: st.DrawFn, text: str, field: str) -> tuple[Hit, ...]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, len(text) + 2))  # sometimes past the end: stale evidence
        end = draw(st.integers(start, len(text) + 4))
        out.append(Hit(term=draw(ODD_TEXT), field=field, start=start, end=end,
                       text=text[start:end]))
    return tuple(out)


@st.composite
def alerts(draw: st.DrawFn) -> AlertToSend:
    title, summary, content = draw(ODD_TEXT), draw(ODD_TEXT), draw(ODD_TEXT)
    link = draw(URLS)
    article = Article(feed_url="https://f.example/", feed_name=draw(ODD_TEXT), feed_tags=(),
                      key="k", guid=None, link=link, canonical_url=draw(URLS), title=title,
                      summary=summary, content=content, authors=(draw(ODD_TEXT),),
                      published=draw(DATES), updated=draw(DATES))
    field = draw(st.sampled_from(["title", "summary", "content", "author", "url"]))
    story = draw(st.none() | st.builds(StoryRef, id=st.integers(1, 9), title=ODD_TEXT,
                                       articles=st.integers(0, 10**6),
                                       outlets=st.lists(ODD_TEXT, max_size=3).map(tuple)))
    return AlertToSend(id=1, rule=draw(ODD_TEXT), recipient="r", target_key="t", attempts=0,
                       article=article, hits=draw(hits(article.field_text(field), field)),
                       snippet=draw(ODD_TEXT), matched_at=NOW, story=story)


@st.composite
def digests(draw: st.DrawFn) -> DigestToSend:
    items = []
    for alert in draw(st.lists(alerts(), max_size=3)):
        a = alert.article
        items.append(DigestItem(rule=alert.rule, title=a.title, summary=a.summary,
                                content=a.content, link=a.link, feed=a.feed_name,
                                published=a.published, updated=a.updated,
                                matched_at=alert.matched_at, terms=alert.terms,
                                hits=alert.hits, snippet=alert.snippet))
    return DigestToSend(id=1, digest_id=1, rule=draw(ODD_TEXT), recipient="r", target_key="t",
                        attempts=0, created_at=NOW, window_end=NOW, items=tuple(items),
                        total=len(items) + draw(st.integers(0, 5)))


def check_rendered(out: RenderedAlert) -> None:
    assert isinstance(out, RenderedAlert)
    assert "\n" not in out.title
    assert all(isinstance(getattr(out, p), str) for p in ("title", "text", "markdown", "html"))


@fuzz_settings(scale=1.0)
@given(templates)
def test_template_source_is_checked_without_raising(source: str) -> None:
    error = template_error(source)
    assert error is None or isinstance(error, str) and error
    if error is None:
        RuleTemplate.compile("r", {"text": source, "html": source})


@fuzz_settings(scale=0.5)
@given(templates, alerts())
def test_alert_renders_with_any_accepted_template(source: str, alert: AlertToSend) -> None:
    with logged_errors("monitor.alerts") as crashes:
        default = render_alert(alert)
        check_rendered(default)
        if template_error(source) is None:
            template = RuleTemplate.compile("r", {"title": source, "html": source})
            check_rendered(template.render(alert_context(alert), default))
    assert crashes == []


@fuzz_settings(scale=0.25)
@given(templates, digests())
def test_digest_renders_with_any_accepted_template(source: str, digest: DigestToSend) -> None:
    default = render_digest(digest)
    check_rendered(default)
    if template_error(source) is None:
        template = RuleTemplate.compile("r", {"text": source, "markdown": source})
        check_rendered(template.render(digest_context(digest), default))


def plain_alert() -> AlertToSend:
    article = Article(feed_url="https://f.example/", feed_name="F", feed_tags=(), key="k",
                      guid=None, link="https://f.example/a", canonical_url=None, title="Zoom")
    return AlertToSend(id=1, rule="r", recipient="r", target_key="t", attempts=0,
                       article=article, hits=(), snippet="", matched_at=NOW)


@pytest.mark.parametrize("source", [
    # each built a gigabyte or a number of a billion bits before the alert could go out
    "{{ 'x' * 10**9 }}", "{{ 10**9 * article.title }}", "{% for x in [0] * 10**9 %}{% endfor %}",
    "{{ 2 ** (10**9) }}", "{% set big = 'a' * 50000 %}{{ big * 3 }}",
])
def test_a_template_building_a_huge_value_falls_back_to_the_default(source: str) -> None:
    alert = plain_alert()
    default = render_alert(alert)
    assert template_error(source) is None  # valid syntax: only rendering can tell
    template = RuleTemplate.compile("r", {"text": source})
    assert template.render(alert_context(alert), default) == default


def test_small_products_and_powers_still_work() -> None:
    alert = plain_alert()
    template = RuleTemplate.compile("r", {"text": "{{ '=' * 3 }} {{ 2 ** 10 }} {{ 6 * 7 }}"})
    assert template.render(alert_context(alert), render_alert(alert)).text == "=== 1024 42"
