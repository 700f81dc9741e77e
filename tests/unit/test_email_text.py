"""monitor.alerts.email_text: our text part for exactly our HTML, apprise's for the rest."""

from __future__ import annotations

from apprise.common import NotifyFormat
from apprise.conversion import convert_between

from monitor.alerts.email_text import install, text_part

HTML, TEXT = NotifyFormat.HTML, NotifyFormat.TEXT


def test_our_text_replaces_the_conversion_of_our_html_only() -> None:
    assert install()
    with text_part("<p>Hit <mark>x</mark> <a href='https://e.test/a'>read</a></p>",
                   "Hit «x»\nread: https://e.test/a"):
        assert convert_between(HTML, TEXT, "<p>Hit <mark>x</mark> <a href='https://e.test/a'>"
                               "read</a></p>") == "Hit «x»\nread: https://e.test/a"
        assert convert_between(HTML, TEXT, "<p>other</p>") == "other"  # apprise's own
    assert convert_between(HTML, TEXT, "<p>Hit <mark>x</mark></p>") == "Hit x"  # outside


def test_installing_again_does_not_wrap_twice() -> None:
    from apprise.conversion import format as conversion

    from monitor.alerts import email_text

    assert install()
    hooked = conversion.CONVERTERS[(HTML, TEXT)]
    email_text._state.clear()  # as if a second import (reload) installed it again
    assert install()
    assert conversion.CONVERTERS[(HTML, TEXT)] is hooked
