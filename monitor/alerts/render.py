"""Render an alert to a title and a body in text, Markdown and HTML (pure).

Feed content is untrusted: the HTML body escapes every value taken from the
article (no ``<script>`` or tracking pixel from a feed reaches an inbox), links
are only made clickable for http(s) URLs, and Markdown specials are escaped so
a title cannot inject links or formatting into a chat message.

What an alert shows is collected first into an :class:`~monitor.alerts.view.AlertView`
(title and lead with hits marked, excerpts, date); the three formats are small
functions over it, and templates get the same values (:func:`alert_context`).
The text body is a message of its own (hits marked «like this», the URL written
out), not a conversion of the HTML: email sends it as the text/plain part.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from monitor.alerts.digest import DigestItem, DigestToSend
from monitor.alerts.view import (  # noqa: F401  (format_time, one_line, split_snippet: re-exported)
    AlertView,
    build_view,
    date_label,
    describe_when,
    format_time,
    one_line,
    split_snippet,
)
from monitor.article import AlertToSend, StoryRef
from monitor.rules.snippet import Piece
from monitor.rules.snippet import joined as marked

#: Formats a body can be rendered in (apprise's NotifyFormat values).
FORMATS = ("text", "markdown", "html")
_MD_SPECIALS = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
_MD_LINE_START = re.compile(r"^(\s*)([-=])", re.MULTILINE)
_MD_ORDERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)


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


def render_alert(alert: AlertToSend) -> RenderedAlert:
    """Render one claimed alert (title plus text, Markdown and HTML bodies)."""
    if alert.spike is not None:
        from monitor.alerts.spike import render_spike  # it builds on this module

        return render_spike(alert)
    view = alert_view(alert)
    return RenderedAlert(
        title=one_line(f"[{view.rule}] {view.title_text}"),
        text=_text(view),
        markdown=_markdown(view),
        html=_html_page([_html(view)]),
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
    a = alert.article
    texts = {f: a.field_text(f) for f in dict.fromkeys(("title", "summary", "content",
                                                        *(h.field for h in alert.hits)))}
    return build_view(
        alert.rule, texts, alert.hits, link=a.link or a.canonical_url,
        feed=one_line(a.feed_name) or a.feed_url,
        when=describe_when(a.published, a.updated, alert.matched_at),
        terms=alert.terms, snippet=alert.snippet,
    )


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


# -- plain text ----------------------------------------------------------------------------


def _text(view: AlertView, *, rule_line: bool = True) -> str:
    lines = [marked(view.title), f"{view.feed} · {view.when}"]
    if view.lead:
        lines += ["", marked(view.lead)]
    for e in view.excerpts:
        lines += ["", f"{e.label}: {marked(e.pieces)}"]
    lines += ["", _matched_line(view.rule, rule_line, ", ".join(view.terms) or "-"),
              f"read: {view.link or '(no link)'}"]
    return "\n".join(lines)


def _matched_line(rule: str, rule_line: bool, terms: str) -> str:
    """``rule`` and ``terms`` already escaped for the format."""
    return f"Rule: {rule} · matched: {terms}" if rule_line else f"matched: {terms}"


# -- Markdown (chats) ----------------------------------------------------------------------


def _md(pieces: Sequence[Piece]) -> str:
    return "".join(f"**{md_escape(t)}**" if hit else md_escape(t) for t, hit in pieces)


def _markdown(view: AlertView, *, rule_line: bool = True) -> str:
    link = safe_link(view.link)
    terms = ", ".join(f"`{t.replace('`', '')}`" for t in view.terms) or "-"
    blocks = [_md(view.title), f"_{md_escape(view.feed)} · {view.when}_"]
    if view.lead:
        blocks.append(_md(view.lead))
    blocks += [f"_{e.label}:_ {_md(e.pieces)}" for e in view.excerpts]
    blocks += [_matched_line(md_escape(view.rule), rule_line, terms),
               "read: " + (f"<{link}>" if link else md_escape(view.link or "(no link)"))]
    return "\n\n".join(blocks)


# -- HTML (email) --------------------------------------------------------------------------

# Inline styles only (email clients drop <style>), with explicit colours on a white
# background so a client's dark mode cannot leave dark text on a dark background.
_MUTED = "font-size:13px;color:#57606a;"
_STYLE = {
    "page": "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;"
            "line-height:1.5;color:#1f2328;background-color:#ffffff;max-width:680px;"
            "padding:8px 12px;",
    "title": "margin:0 0 2px;font-size:18px;font-weight:600;line-height:1.3;color:#1f2328;",
    "title_link": "color:#1f2328;text-decoration:none;",
    "meta": f"margin:0 0 12px;{_MUTED}",
    "lead": "margin:0 0 12px;",
    "excerpt": "margin:0 0 12px;padding:2px 0 2px 10px;border-left:3px solid #d0d7de;",
    "label": _MUTED,
    "footer": f"margin:0;{_MUTED}",
    "url": f"margin:0;{_MUTED}word-break:break-all;overflow-wrap:anywhere;",
    "link": "color:#0969da;",
    "mark": "background-color:#fff1a8;color:#1f2328;font-weight:600;padding:0 1px;",
    "hr": "border:0;border-top:1px solid #d0d7de;margin:18px 0;",
    "more": f"margin:16px 0 0;{_MUTED}",
}


def _h(pieces: Sequence[Piece]) -> str:
    e = html.escape
    return "".join(f'<mark style="{_STYLE["mark"]}">{e(t)}</mark>' if hit else e(t)
                   for t, hit in pieces)


def _p(style: str, inner: str) -> str:
    return f'<p style="{_STYLE[style]}">{inner}</p>'


def _html(view: AlertView, *, rule_line: bool = True) -> str:
    e = html.escape
    link = safe_link(view.link)
    title = _h(view.title)
    if link:
        href = e(link, quote=True)
        title = f'<a href="{href}" style="{_STYLE["title_link"]}">{title}</a>'
        url = f'read: <a href="{href}" style="{_STYLE["link"]}">{e(view.link or "")}</a>'
    else:
        url = f"read: {e(view.link or '(no link)')}"
    rows = [_p("title", title), _p("meta", f"{e(view.feed)} · {e(view.when)}")]
    if view.lead:
        rows.append(_p("lead", _h(view.lead)))
    rows += [_p("excerpt", f'<span style="{_STYLE["label"]}">{e(ex.label)}:</span> '
                           f"{_h(ex.pieces)}") for ex in view.excerpts]
    terms = e(", ".join(view.terms) or "-")
    rows += [_p("footer", _matched_line(e(view.rule), rule_line, terms)), _p("url", url)]
    return "\n".join(rows)


def _html_page(items: Sequence[str], tail: str = "") -> str:
    body = f'\n<hr style="{_STYLE["hr"]}">\n'.join(items)
    if tail:
        body += "\n" + _p("more", html.escape(tail))
    return f'<div style="{_STYLE["page"]}">\n{body}\n</div>'


# -- digests and template contexts ---------------------------------------------------------


def render_digest(digest: DigestToSend) -> RenderedAlert:
    """One message listing a digest's matches, newest first, then "and N more"."""
    pairs = [(digest_item_view(i), also_reported(i.also_reported_by, folded=i.folded))
             for i in digest.items]
    more = digest.more_count
    title = one_line(f"[{digest.rule}] {digest.total} new match{'es' if digest.total != 1 else ''}")
    tail = f"… and {more} more" if more else ""
    text = "\n\n----\n\n".join(_text(v, rule_line=False) + (f"\n{a}" if a else "")
                                for v, a in pairs)
    markdown = "\n\n---\n\n".join(_markdown(v, rule_line=False)
                                     + (f"\n\n_{md_escape(a)}_" if a else "") for v, a in pairs)
    if tail:
        text, markdown = f"{text}\n\n{tail}", f"{markdown}\n\n{tail}"
    html_body = _html_page([_html(v, rule_line=False)
                            + (_p("footer", html.escape(a)) if a else "") for v, a in pairs], tail)
    return RenderedAlert(title=title, text=text, markdown=markdown, html=html_body)


def also_reported(outlets: Sequence[str], shown: int = 2, *, folded: int = 0) -> str:
    """``also reported by BBC, Guardian and 3 more`` ("" for none), and how many more
    matches of the story the digest counts under this one (``; 8 more matches of this
    story``), so the items add up to the count in the title."""
    names = [one_line(o) for o in outlets]
    more = f"{folded} more match{'es' if folded != 1 else ''} of this story" if folded else ""
    if not names:
        return more
    if len(names) <= shown + 1:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    else:
        listed = ", ".join(names[:shown]) + f" and {len(names) - shown} more"
    return f"also reported by {listed}" + (f"; {more}" if more else "")


def digest_item_view(item: DigestItem) -> AlertView:
    """The view of one match listed in a digest."""
    more = {"fulltext": item.full_text, "author": "\n".join(item.authors),
            "category": "\n".join(item.categories), "url": item.link or "", "feed": item.feed}
    # A field whose text is gone (a page pruned) shows its hit words alone, not offsets
    # into nothing.
    texts = {"title": item.title, "summary": item.summary, "content": item.content,
             **{f: text for f, text in more.items() if text}}
    return build_view(
        item.rule, texts, item.hits, link=item.link, feed=one_line(item.feed),
        when=describe_when(item.published, item.updated, item.matched_at),
        terms=item.terms, snippet=item.snippet,
    )


def _match_vars(view: AlertView, published: Any, updated: Any, summary: str,
                snippet: str) -> dict[str, Any]:
    """One match's template variables (see monitor.alerts.templates)."""
    return {"title": view.title_text, "url": view.link or "", "feed": view.feed,
            "published": format_time(date_label(published, updated)[1]), "when": view.when,
            "summary": summary, "lead": marked(view.lead), "terms": list(view.terms),
            "snippet": snippet, "marked_title": marked(view.title),
            "excerpts": [{"field": x.field, "label": x.label, "text": marked(x.pieces)}
                         for x in view.excerpts]}


_ARTICLE_KEYS = ("title", "url", "feed", "published", "when", "summary", "lead")
_EVIDENCE_KEYS = ("terms", "snippet", "marked_title", "excerpts")


def _context(kind: str, rule: str, matches: list[dict[str, Any]], more: int) -> dict[str, Any]:
    first = matches[0] if matches else {}
    return {"kind": kind, "rule": rule, "matches": matches, "more_count": more,
            "article": {k: first.get(k, "") for k in _ARTICLE_KEYS},
            "evidence": {k: first.get(k, "") for k in _EVIDENCE_KEYS}}


def _story_vars(s: StoryRef) -> dict[str, Any]:
    return {"id": s.id, "title": s.title, "link": s.link, "articles": s.articles,
            "outlets": list(s.outlets)}


def alert_context(alert: AlertToSend) -> dict[str, Any]:
    """The template variables of one alert (see monitor.alerts.templates)."""
    a = alert.article
    one = _match_vars(alert_view(alert), a.published, a.updated, a.summary, alert.snippet)
    p = alert.spike
    spike = ({"count": p.count, "expected": p.expected, "window_s": p.window_s,
              "stories": [_story_vars(x) for x in p.stories]} if p is not None else None)
    story = _story_vars(alert.story) if alert.story is not None else None
    return {**_context("alert", alert.rule, [one], 0), "story": story, "spike": spike}


def digest_context(digest: DigestToSend) -> dict[str, Any]:
    """The template variables of a digest: ``matches`` newest first, ``more_count``."""
    matches = [_match_vars(digest_item_view(i), i.published, i.updated, i.summary, i.snippet)
               for i in digest.items]
    return {**_context("digest", digest.rule, matches, digest.more_count),
            "total": digest.total}
