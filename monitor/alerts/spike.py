"""Render a spike alert: the rule, the count against what was expected, the stories (pure).

Story titles and outlet names come from feeds: escaped in every format, as in
``monitor.alerts.render``.
"""

from __future__ import annotations

import html

from monitor.alerts.render import RenderedAlert, md_escape, safe_link
from monitor.alerts.view import one_line
from monitor.article import AlertToSend, SpikeRef, StoryRef

#: Stories listed in one message; the rest are counted.
MAX_STORIES = 20


def _window(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}min"


def headline(rule: str, spike: SpikeRef) -> str:
    """``[rule] spike: 7 stories in 1h (usually 1.2)``."""
    return one_line(f"[{rule}] spike: {spike.count} stories in {_window(spike.window_s)} "
                    f"(usually {spike.expected:.1f})")


def _outlets(s: StoryRef) -> str:
    more = f" and {len(s.outlets) - 3} more" if len(s.outlets) > 3 else ""
    return ", ".join(s.outlets[:3]) + more


def render_spike(alert: AlertToSend) -> RenderedAlert:
    spike = alert.spike
    assert spike is not None
    shown = spike.stories[:MAX_STORIES]
    rest = len(spike.stories) - len(shown)
    link = alert.article.link or alert.article.canonical_url
    text = [headline(alert.rule, spike), ""]
    md = [md_escape(headline(alert.rule, spike))]
    items = []
    for s in shown:
        # Each story with its link (its first article's), to open from the message.
        title, rest_of_line = one_line(s.title), f" — {s.articles} article(s): {_outlets(s)}"
        safe = safe_link(s.link)
        text.append(f"- {title}{rest_of_line}" + (f"\n  {s.link}" if s.link else ""))
        md.append(f"- [{md_escape(title)}](<{safe}>){md_escape(rest_of_line)}" if safe
                  else f"- {md_escape(title + rest_of_line)}")
        anchor = (f'<a href="{html.escape(safe, quote=True)}">{html.escape(title)}</a>'
                  if safe else html.escape(title))
        items.append(f"<li>{anchor}{html.escape(rest_of_line)}</li>")
    if rest:
        text.append(f"and {rest} more")
        md.append(md_escape(f"and {rest} more"))
        items.append(f"<li>and {rest} more</li>")
    latest = safe_link(link)
    text += ["", f"latest: {link or '(no link)'}"]
    md.append("latest: " + (f"<{latest}>" if latest else md_escape(link or "(no link)")))
    href = (f'<a href="{html.escape(latest, quote=True)}">{html.escape(link or "")}</a>'
            if latest else html.escape(link or "(no link)"))
    body = (f"<p><strong>{html.escape(headline(alert.rule, spike))}</strong></p>\n"
            f"<ul>\n{chr(10).join(items)}\n</ul>\n<p>latest: {href}</p>")
    return RenderedAlert(title=headline(alert.rule, spike), text="\n".join(text),
                         markdown="\n".join(md), html=f"<div>\n{body}\n</div>")
