"""Golden files: what an alert looks like in each channel, captured by real receivers.

Email through aiosmtpd (both MIME parts), a chat (Rocket.Chat's incoming webhook,
a Markdown target) and a plain webhook (json://) get the same alert; each output
is compared with its file in tests/data/alerts/. The hits are computed by the
real rule engine and the feed text is hostile. To regenerate after an intended
change: ``UPDATE_GOLDEN=1 python -m pytest tests/delivery/test_alert_golden.py``
rewrites the files; review the diff, commit.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from receivers import SMTPReceiver, WebhookReceiver

from monitor.alerts.digest import DigestItem, DigestToSend
from monitor.alerts.notifier import Notifier
from monitor.alerts.policy import RuleDelivery
from monitor.alerts.render import render_alert, render_digest
from monitor.alerts.templates import RuleTemplate
from monitor.article import AlertToSend, Article, Hit, RuleSpec
from monitor.rules.compile import compile_rules

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "alerts"
SEEN = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)
RULES = compile_rules(
    [RuleSpec("zoom-china", '@China AND ("through partners" OR resell*) AND @Zoom')],
    {"Zoom": ["Zoom", "Zoom Video Communications"], "China": ["China", "PRC"]},
)
ARTICLE = Article(
    feed_url="https://thehill.com/policy/technology/feed/",
    feed_name="The Hill — Technology",
    feed_tags=("policy",),
    key="https://thehill.com/policy/technology/5012345",
    guid="https://thehill.com/policy/technology/5012345",
    link="https://thehill.com/policy/technology/5012345-zoom-to-stop-selling-directly-in-china"
         "-shifting-to-partner-only-model/?utm_source=feed&utm_medium=rss&utm_campaign=tech",
    canonical_url="https://thehill.com/policy/technology/5012345-zoom-to-stop-selling-directly",
    title="Zoom to stop direct sales in China <b>& shift</b> to *partners*",
    summary=(
        "Zoom Video Communications will stop selling its services directly to customers in "
        "mainland China, the company said Tuesday. <script>alert('x')</script> Customers will "
        "be served through partners and [its plans](javascript:alert(1)) stay the same, a "
        "spokesperson told The Hill in a statement on Tuesday afternoon."
    ),
    content=(
        "Zoom Video Communications will stop selling its services directly to customers in "
        "mainland China. " + "The company has faced scrutiny over its data routing. " * 8
        + "Analysts said the PRC market was small for Zoom, and that resellers would "
        "absorb existing accounts."
    ),
    published=None,
    updated=datetime(2026, 11, 26, 13, 45, tzinfo=UTC),
)


def _alert(article: Article = ARTICLE) -> AlertToSend:
    (match,) = RULES.match(article)
    return AlertToSend(id=7, rule="zoom-china", recipient="team", target_key="k", attempts=0,
                       article=article, hits=match.hits, snippet=match.snippet,
                       matched_at=SEEN)


def golden(name: str, actual: str) -> None:
    """Compare ``actual`` with tests/data/alerts/NAME (line endings normalised)."""
    path = GOLDEN / name
    actual = actual.replace("\r\n", "\n")
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
        return
    assert actual == path.read_text(encoding="utf-8")


def _send(url: str, rules: RuleDelivery | None = None) -> None:
    notifier = Notifier({"team": [url]})
    (route,) = notifier.routes_for(["team"])
    notifier.send_rendered(route, (rules or RuleDelivery()).render_alert(_alert()))


def test_email_has_our_text_part_and_the_html_part() -> None:
    with SMTPReceiver() as smtp:
        _send(smtp.mailto_url(to="team@example.com"))
    (mail,) = smtp.messages
    assert mail.subject == "[zoom-china] Zoom to stop direct sales in China <b>& shift</b> to " \
                           "*partners*"
    assert mail.message.get_content_type() == "multipart/alternative"
    plain, html = mail.body("plain"), mail.body("html")
    assert plain is not None and html is not None
    golden("email-plain.txt", plain)
    golden("email.html", html)
    # Ours, not apprise's conversion of the HTML: hit markers and the URL survive.
    assert "«resellers»" in plain
    assert "read: https://thehill.com/policy/technology/5012345-" in plain


def test_email_text_part_is_the_rule_template_text() -> None:
    template = RuleTemplate.compile("zoom-china", {
        "text": "{{ article.title }}\n{{ evidence.marked_title }}\nread: {{ article.url }}",
        "html": "<p><b>{{ article.title }}</b> <a href='{{ article.url }}'>read</a></p>",
    })
    with SMTPReceiver() as smtp:
        _send(smtp.mailto_url(), RuleDelivery(templates={"zoom-china": template}))
    (mail,) = smtp.messages
    plain = (mail.body("plain") or "").replace("\r\n", "\n").strip()
    assert plain == (f"{ARTICLE.title}\n«Zoom» to stop direct sales in «China» <b>& shift</b> "
                     f"to *partners*\nread: {ARTICLE.link}")
    assert "<a href='" not in plain and "&lt;b&gt;" in (mail.body("html") or "")


def test_chat_gets_markdown() -> None:
    with WebhookReceiver() as hook:
        _send(f"rocket://abcdef0123456789/ABCDEF0123456789@127.0.0.1:{hook.port}/#policy"
              "?mode=webhook&avatar=no")
    (request,) = hook.requests
    assert request.path == "/hooks/abcdef0123456789/ABCDEF0123456789"
    golden("chat.md", request.json["text"])


def test_plain_targets_get_text() -> None:
    with WebhookReceiver() as hook:
        _send(hook.json_url("/alerts"))
    (request,) = hook.requests
    assert request.json["title"] == render_alert(_alert()).title
    golden("plain.txt", request.json["message"])


def test_digest_text_lists_items_by_their_own_dates() -> None:
    older = DigestItem(rule="zoom-china", title="Older story on Zoom", link="https://ex.test/1",
                       feed="Wire", published=None,
                       updated=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
                       matched_at=SEEN, terms=("@Zoom",), snippet="«Zoom»",
                       summary="Zoom said little.",
                       hits=(Hit("@Zoom", "title", 15, 19, "Zoom"),
                             Hit("@Zoom", "summary", 0, 4, "Zoom")))
    undated = DigestItem(rule="zoom-china", title="Undated note", link=None, feed="Blog",
                         published=None, matched_at=SEEN, terms=("@Zoom",),
                         snippet="a «Zoom» note")
    digest = DigestToSend(id=1, digest_id=1, rule="zoom-china", recipient="team",
                          target_key="k", attempts=0, created_at=SEEN, window_end=SEEN,
                          items=(older, undated), total=3)
    golden("digest.txt", render_digest(digest).text)


def test_templates_see_lead_excerpts_and_the_date_line() -> None:
    template = RuleTemplate.compile("zoom-china", {
        "text": "{{ article.when }}|{{ article.published }}|{{ article.lead[:30] }}\n"
                "{% for x in evidence.excerpts %}{{ x.field }}: {{ x.text }}\n{% endfor %}",
    })
    text = RuleDelivery(templates={"zoom-china": template}).render_alert(_alert()).text
    first, excerpt = text.splitlines()
    assert first == ("updated 2026-11-26 13:45 UTC|2026-11-26 13:45 UTC|"
                     "«Zoom Video Communications» wi")
    assert excerpt.startswith("content: …") and "«PRC»" in excerpt and "«resellers»" in excerpt
