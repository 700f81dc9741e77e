"""Jinja2 for the pages: autoescaped templates and the filters that keep feed text inert.

Feed-provided strings are hostile: everything is escaped by default, and a link is
rendered only for an http(s) URL (``safe_href``), so a ``javascript:`` link in a
feed stays text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from monitor.redact import redact
from monitor.web.auth import PRINCIPAL, Principal
from monitor.web.state import STATE

TEMPLATES = web.AppKey("templates", jinja2.Environment)
_MARKED = re.compile(r"«([^«»]*)»")


def safe_href(url: str | None) -> str | None:
    """The URL if it is http(s) with a host, else None (render it as text)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def highlight(snippet: str) -> Markup:
    """The snippet escaped, with the hits the matcher marked «like this» in <mark>."""
    return Markup(_MARKED.sub(r"<mark>\1</mark>", str(escape(snippet))))


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "–"


def bars(counts: list[int] | tuple[int, ...]) -> Markup:
    """A tiny inline SVG bar chart of per-day counts (no script needed)."""
    top = max(counts, default=0) or 1
    width = 4 * len(counts)
    rects = "".join(
        f'<rect x="{4 * i}" y="{20 - round(18 * c / top)}" width="3" '
        f'height="{round(18 * c / top)}"><title>{c}</title></rect>'
        for i, c in enumerate(counts))
    return Markup(f'<svg class="bars" viewBox="0 0 {width} 20" width="{width * 2}" '
                  f'height="40" role="img" aria-label="matches per day">{rects}</svg>')


#: Rendered matches kept (a list page shows up to 200; the overview 30 of the newest).
MATCH_ITEMS_KEPT = 4096


def _match_item(env: jinja2.Environment) -> Callable[[Any], Markup]:
    """The filter rendering one match as a list item (``_match.html``), remembered by
    value: a match listed again (every page view lists the newest) costs a lookup."""

    @functools.lru_cache(maxsize=MATCH_ITEMS_KEPT)
    def match_item(m: Any) -> Markup:
        return Markup(env.get_template("_match.html").render(m=m))

    return match_item


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship with the package: no stat() per include per request.
        auto_reload=False)
    env.filters.update(safe_href=safe_href, highlight=highlight, when=when, bars=bars,
                       redact=redact)
    env.filters["match_item"] = _match_item(env)
    return env


def render(request: web.Request, template: str, status: int = 200,
           **context: Any) -> web.Response:
    """A page (or, for an htmx request to a partial, just the fragment)."""
    state = request.app[STATE]
    principal: Principal | None = request.get(PRINCIPAL)
    book = state.tokens()
    html = request.app[TEMPLATES].get_template(template).render(
        principal=principal, csrf=book.csrf_for(principal) if principal else "",
        path=request.path, htmx=request.headers.get("HX-Request") == "true", **context)
    return web.Response(text=html, status=status, content_type="text/html")
