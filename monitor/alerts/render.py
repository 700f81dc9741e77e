"""Render an alert to a title and a body in text, Markdown and HTML (pure).

Feed content is untrusted: the HTML body escapes every value taken from the
article (no ``<script>`` or tracking pixel from a feed reaches an inbox), links
are only made clickable for http(s) URLs, and Markdown specials are escaped so
a title cannot inject links or formatting into a chat message.

The values are first collected into an :class:`AlertView`; the three formats
are small functions over it, so per-rule templates can later use the same
view as their context.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from monitor.alerts.digest import DigestItem, DigestToSend
from monitor.article import AlertToSend

#: Formats a body can be rendered in (apprise's NotifyFormat values).
FORMATS = ("text", "markdown", "html")
#: How snippets mark a hit: «like this».
_HIT_RE = re.compile(r"«([^«»]*)»")
_MD_SPECIALS = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
_MD_LINE_START = re.compile(r"^(\s*)([-=])", re.MULTILINE)
_MD_ORDERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
_WS_RE = re.compile(r"\s+")
_TITLE_MAX = 250


@dataclass(frozen=True)
class RenderedAlert:
    """One alert rendered in every body format apprise targets may want."""

    #: One line, no markup: ``[rule] article title``.
    title: str
    text: str
    markdown: str
    html: str

    def body_for(self, fmt: str) -> str:
        """The body in ``fmt`` ("text", "markdown" or "html"); text for anything else."""
        fmt = str(getattr(fmt, "value", fmt)).lower()
        if fmt == "html":
            return self.html
        if fmt == "markdown":
            return self.markdown
        return self.text


@dataclass(frozen=True)
class AlertView:
    """The plain values an alert shows, before any format escapes them."""

    rule: str
    title: str
    link: str | None
    feed: str
    published: str
    terms: tuple[str, ...]
    #: The snippet cut into (text, is_hit) pieces.
    snippet: tuple[tuple[str, bool], ...]


def render_alert(alert: AlertToSend) -> RenderedAlert:
    """Render one claimed alert (title plus text, Markdown and HTML bodies)."""
    view = alert_view(alert)
    return RenderedAlert(
        title=one_line(f"[{view.rule}] {view.title}"),
        text=_text(view),
        markdown=_markdown(view),
        html=_html(view),
    )


def render_test_message(recipient: str) -> RenderedAlert:
    """The message ``news-monitor notify-test RECIPIENT`` sends."""
    line = (
        f"This is a test message from news-monitor to the recipient '{recipient}'. "
        "If you can read it, alerts will reach you here."
    )
    return RenderedAlert(
        title=one_line(f"[news-monitor] test message for {recipient}"),
        text=line,
        markdown=md_escape(line),
        html=f"<p>{html.escape(line)}</p>",
    )


def alert_view(alert: AlertToSend) -> AlertView:
    """Collect what an alert shows from a claimed outbox row."""
    article = alert.article
    return AlertView(
        rule=alert.rule,
        title=one_line(article.title) or "(untitled)",
        link=article.link or article.canonical_url,
        feed=one_line(article.feed_name) or article.feed_url,
        published=format_time(article.published or article.updated),
        terms=alert.terms,
        snippet=split_snippet(_WS_RE.sub(" ", alert.snippet or "").strip()),
    )


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed, capped to a subject-friendly length."""
    text = _WS_RE.sub(" ", text or "").strip()
    return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1] + "…"


def format_time(when: datetime | None) -> str:
    """A readable UTC time ("2026-11-26 13:45 UTC"); naive datetimes are taken as UTC."""
    if when is None:
        return "unknown"
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def split_snippet(snippet: str) -> tuple[tuple[str, bool], ...]:
    """``"a «b» c"`` -> ``(("a ", False), ("b", True), (" c", False))``."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for m in _HIT_RE.finditer(snippet or ""):
        if m.start() > pos:
            pieces.append((snippet[pos : m.start()], False))
        pieces.append((m.group(1), True))
        pos = m.end()
    if pos < len(snippet or ""):
        pieces.append((snippet[pos:], False))
    return tuple(pieces)


def md_escape(text: str) -> str:
    """Escape Markdown specials so untrusted text renders literally."""
    text = _MD_SPECIALS.sub(r"\\\1", text)
    return _MD_ORDERED.sub(r"\1\\.", _MD_LINE_START.sub(r"\1\\\2", text))


def safe_link(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL safe to make clickable, else None."""
    if not url or not re.match(r"(?i)https?://", url):
        return None
    # Spaces and angle brackets would end an autolink or an attribute early.
    return quote(url, safe="/:?#[]@!$&'()*+,;=%~-._")


def _text(view: AlertView) -> str:
    snippet = "".join(f"«{t}»" if hit else t for t, hit in view.snippet)
    lines = [
        view.title,
        view.link or "(no link)",
        "",
        f"Feed: {view.feed}",
        f"Published: {view.published}",
        f"Rule: {view.rule}",
        f"Matched: {', '.join(view.terms) or '-'}",
    ]
    if snippet:
        lines += ["", snippet]
    return "\n".join(lines)


def _markdown(view: AlertView) -> str:
    link = safe_link(view.link)
    snippet = "".join(f"**{md_escape(t)}**" if hit else md_escape(t) for t, hit in view.snippet)
    terms = ", ".join(f"`{t.replace('`', '')}`" for t in view.terms) or "-"
    lines = [
        f"**{md_escape(view.title)}**",
        f"<{link}>" if link else md_escape(view.link or "(no link)"),
        "",
        f"Feed: {md_escape(view.feed)}",
        f"Published: {view.published}",
        f"Rule: {md_escape(view.rule)}",
        f"Matched: {terms}",
    ]
    if snippet:
        lines += ["", f"> {snippet}"]
    return "\n".join(lines)


def _html(view: AlertView) -> str:
    e = html.escape
    link = safe_link(view.link)
    if link:
        link_html = f'<a href="{e(link, quote=True)}">{e(view.link or "")}</a>'
    else:
        link_html = e(view.link or "(no link)")
    snippet = "".join(f"<mark>{e(t)}</mark>" if hit else e(t) for t, hit in view.snippet)
    rows = [
        f"<p><strong>{e(view.title)}</strong><br>{link_html}</p>",
        "<p>",
        f"Feed: {e(view.feed)}<br>",
        f"Published: {e(view.published)}<br>",
        f"Rule: {e(view.rule)}<br>",
        f"Matched: {e(', '.join(view.terms) or '-')}",
        "</p>",
    ]
    if snippet:
        rows.append(f"<blockquote>{snippet}</blockquote>")
    return "\n".join(rows)


# -- digests and template contexts (issue 4) -----------------------------------------------


def render_digest(digest: DigestToSend) -> RenderedAlert:
    """One message listing a digest's matches, newest first, then "and N more"."""
    views = [_item_view(i) for i in digest.items]
    more = digest.more_count
    title = one_line(f"[{digest.rule}] {digest.total} new match{'es' if digest.total != 1 else ''}")
    tail = f"… and {more} more" if more else ""
    text = "\n\n".join([*(_text(v) for v in views), *([tail] if tail else [])])
    markdown = "\n\n---\n\n".join(_markdown(v) for v in views) + (f"\n\n{tail}" if tail else "")
    html_body = "\n<hr>\n".join(_html(v) for v in views)
    if tail:
        html_body += f"\n<p>{html.escape(tail)}</p>"
    return RenderedAlert(title=title, text=text, markdown=markdown, html=html_body)


def _item_view(item: DigestItem) -> AlertView:
    return AlertView(
        rule=item.rule,
        title=one_line(item.title) or "(untitled)",
        link=item.link,
        feed=one_line(item.feed),
        published=format_time(item.published or item.matched_at),
        terms=item.terms,
        snippet=split_snippet(_WS_RE.sub(" ", item.snippet or "").strip()),
    )


def alert_context(alert: AlertToSend) -> dict[str, Any]:
    """The template variables of one alert (see monitor.alerts.templates)."""
    a = alert.article
    article_vars = {"title": a.title, "url": a.link or a.canonical_url or "",
                    "feed": a.feed_name, "published": format_time(a.published or a.updated),
                    "summary": a.summary}
    evidence = {"terms": list(alert.terms), "snippet": alert.snippet}
    s = alert.story
    story = ({"id": s.id, "title": s.title, "articles": s.articles, "outlets": list(s.outlets)}
             if s is not None else None)
    return {"kind": "alert", "rule": alert.rule, "article": article_vars, "evidence": evidence,
            "matches": [{**article_vars, **evidence}], "more_count": 0, "story": story}


def digest_context(digest: DigestToSend) -> dict[str, Any]:
    """The template variables of a digest: ``matches`` newest first, ``more_count``."""
    matches = [{"title": i.title, "url": i.link or "", "feed": i.feed,
                "published": format_time(i.published or i.matched_at), "summary": i.summary,
                "terms": list(i.terms), "snippet": i.snippet} for i in digest.items]
    first = matches[0] if matches else {}
    return {"kind": "digest", "rule": digest.rule, "matches": matches,
            "more_count": digest.more_count, "total": digest.total,
            "article": {k: first.get(k, "") for k in ("title", "url", "feed", "published",
                                                     "summary")},
            "evidence": {"terms": first.get("terms", []), "snippet": first.get("snippet", "")}}
