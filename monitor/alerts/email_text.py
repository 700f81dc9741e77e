"""Our own text/plain part for the HTML emails apprise sends.

apprise's email plugin (``apprise/plugins/email/base.py``, ``prepare_emails``)
sends an HTML body as ``multipart/alternative`` whose text/plain part is
``convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, body)``: its
``HTMLConverter`` drops every link target, puts `` >`` before a blockquote and
leaves stray spaces, and the plugin has no parameter for a text part of the
caller's. ``convert_between`` looks the converter up in apprise's
``CONVERTERS`` table at call time, so we register one for (HTML, TEXT) that
answers with our text for the exact HTML body being sent, and defers to
apprise's own converter for anything else. The pair is held in a ContextVar:
apprise copies the context into the threads it sends from.

When the table is not there (another apprise version), the hook is not
installed, a warning is logged once, and apprise's conversion is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger(__name__)

#: (html body, its text part) of the message being sent in this context.
_PENDING: ContextVar[tuple[str, str] | None] = ContextVar("monitor_email_text", default=None)
_state: dict[str, bool] = {}


def _converter(original: Callable[[str], str]) -> Callable[[str], str]:
    def html_to_text(content: str) -> str:
        pending = _PENDING.get()
        if pending is not None and pending[0] == content:
            return pending[1]
        return original(content)

    html_to_text.news_monitor = True  # type: ignore[attr-defined]
    return html_to_text


def install() -> bool:
    """Register the converter once; whether apprise will use our text parts."""
    if "installed" in _state:
        return _state["installed"]
    try:
        from apprise.common import NotifyFormat
        from apprise.conversion import format as conversion

        table = conversion.CONVERTERS
        key = (NotifyFormat.HTML, NotifyFormat.TEXT)
        original = table[key]
    except (ImportError, AttributeError, KeyError):
        log.warning("email.text_part_unavailable reason=apprise has no converter table; "
                    "the text part of HTML emails is apprise's conversion of the HTML")
        _state["installed"] = False
        return False
    if not getattr(original, "news_monitor", False):
        table[key] = _converter(original)
    _state["installed"] = True
    return True


@contextmanager
def text_part(html: str, text: str) -> Iterator[None]:
    """While inside, apprise renders ``html`` as ``text`` wherever it needs plain text."""
    install()
    token = _PENDING.set((html, text))
    try:
        yield
    finally:
        _PENDING.reset(token)
