"""Digest rendering ("and N more") and sandboxed per-rule templates."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.digest import DigestItem, DigestToSend
from monitor.alerts.policy import RuleDelivery
from monitor.alerts.render import digest_context, render_digest
from monitor.alerts.templates import RuleTemplate, template_error

T0 = datetime(2026, 11, 26, 14, tzinfo=UTC)


def item(n: int, title: str | None = None) -> DigestItem:
    return DigestItem(rule="r", title=title or f"Story {n}", link=f"https://ex.com/{n}",
                      feed="Feed", published=T0 - timedelta(minutes=n), matched_at=T0,
                      terms=("Zoom",), snippet=f"«Zoom» story {n}", summary="s")


def digest(items: list[DigestItem], total: int) -> DigestToSend:
    return DigestToSend(id=1, digest_id=1, rule="r", recipient="team", target_key="k",
                        attempts=0, created_at=T0, window_end=T0, items=tuple(items),
                        total=total)


def test_digest_lists_items_in_order_and_counts_the_rest() -> None:
    out = render_digest(digest([item(1), item(2)], total=39))
    assert out.title == "[r] 39 new matches"
    assert out.text.index("Story 1") < out.text.index("Story 2")
    assert out.text.endswith("… and 37 more")
    assert "and 37 more" in out.markdown and "and 37 more" in out.html


def test_digest_html_escapes_feed_content() -> None:
    out = render_digest(digest([item(1, '<script>x()</script><img src="http://t/p.gif">')], 1))
    assert "<script>" not in out.html and "<img" not in out.html
    assert "&lt;script&gt;" in out.html
    assert "more" not in out.text


def test_custom_template_sees_the_documented_variables_and_html_autoescapes() -> None:
    tpl = RuleTemplate.compile("r", {
        "title": "{{ rule }}: {{ matches|length }} (+{{ more_count }})",
        "text": "{% for m in matches %}{{ m.title }} {{ m.url }} {{ m.terms|join(',') }}\n"
                "{% endfor %}",
        "html": "<b>{{ article.title }}</b> {{ evidence.snippet }}",
    })
    d = digest([item(1, "<script>"), item(2)], total=5)
    out = tpl.render(digest_context(d), render_digest(d))
    assert out.title == "r: 2 (+3)"
    assert out.text == "<script> https://ex.com/1 Zoom\nStory 2 https://ex.com/2 Zoom\n"
    assert out.html == "<b>&lt;script&gt;</b> «Zoom» story 1"
    assert out.markdown == render_digest(d).markdown  # no markdown part: the default


def test_template_error_falls_back_to_the_default_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tpl = RuleTemplate.compile("r", {"text": "{{ article.nope.deeper }}"})
    d = digest([item(1)], 1)
    with caplog.at_level(logging.WARNING):
        out = tpl.render(digest_context(d), render_digest(d))
    assert out == render_digest(d)
    assert "template.failed rule=r" in caplog.text


def test_sandbox_refuses_python_internals() -> None:
    tpl = RuleTemplate.compile("r", {"text": "{{ rule.__class__.__mro__[1].__subclasses__() }}"})
    d = digest([item(1)], 1)
    assert tpl.render(digest_context(d), render_digest(d)) == render_digest(d)


def test_template_syntax_errors_name_the_line() -> None:
    assert template_error("ok {{ rule }}") is None
    assert template_error("a\n{% if %}") == "line 2: Expected an expression, got 'end of statement block'"


def test_rule_delivery_renders_alerts_through_the_rule_template() -> None:
    tpl = RuleTemplate.compile("r", {"text": "{{ rule }}|{{ article.title }}|{{ more_count }}"})
    rules = RuleDelivery(templates={"r": tpl})
    out = rules.render_digest(digest([item(1)], 1))
    assert out.text == "r|Story 1|0"
