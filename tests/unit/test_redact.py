"""monitor.redact: secrets never reach a log line, an output or a stored error."""

from __future__ import annotations

import io
import logging
from typing import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.redact import RedactingFilter, clear_secrets, redact, register_secrets, url_secrets


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # password in user:pass@host, query kept
        (
            "mailto://user:s3cr3tpw@smtp.example.com?to=team@example.com",
            "mailto://user:***@smtp.example.com?to=team@example.com",
        ),
        # mailtos with an empty user
        ("mailtos://:pw1234@smtp.example.com", "mailtos://:***@smtp.example.com"),
        # slack tokens are the whole path; the channel survives
        (
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
            "slack://***/***/***/#general",
        ),
        # telegram bot token and chat id
        ("tgram://123456789:AAHabcdefghijklmnop/12315544", "tgram://***/***"),
        # ntfy: credentials and topic
        ("ntfy://user:pw12@ntfy.sh/mytopic", "ntfy://***/***"),
        # a webhook keeps its address, loses a secret query value
        (
            "json://127.0.0.1:8080/hook?token=abcd1234&x=1",
            "json://127.0.0.1:8080/hook?token=***&x=1",
        ),
        # every secret-looking key name
        (
            "https://h/x?apikey=1&api_key=2&password=3&secret=4&pass=5&access_token=6&page=7",
            "https://h/x?apikey=***&api_key=***&password=***&secret=***&pass=***"
            "&access_token=***&page=7",
        ),
        # apprise custom header carrying a key
        ("json://host/p?+X-Api-Key=abc123", "json://host/p?+X-Api-Key=***"),
        # a mailto query holding an address: no userinfo, nothing to mask (no invented password)
        (
            "mailto://127.0.0.1:18025?to=policy@example.org",
            "mailto://127.0.0.1:18025?to=policy@example.org",
        ),
        # feed URLs are shown as written: long mixed-case or numeric path segments included
        (
            "feed failed: http://127.0.0.1:18096/realworld/Ranchero-Software_NetNewsWire/DaringFireball.rss: 500",
            "feed failed: http://127.0.0.1:18096/realworld/Ranchero-Software_NetNewsWire/DaringFireball.rss: 500",
        ),
        ("https://feeds.a.dj.com/rss/RSSWorldNews.xml", "https://feeds.a.dj.com/rss/RSSWorldNews.xml"),
        (
            "https://example.com/feeds/550e8400-e29b-41d4-a716-446655440000/rss",
            "https://example.com/feeds/550e8400-e29b-41d4-a716-446655440000/rss",
        ),
        # ... but a password in userinfo and a secret-named query value still go
        ("https://bob:hunter22@example.com/rss?api_key=k3y&page=2",
         "https://bob:***@example.com/rss?api_key=***&page=2"),
        # a token used as the user part
        ("https://ghp_abcdefghijklmnop1234@github.com/x", "https://***@github.com/x"),
        # article URLs stay readable: slugs and short ids are not tokens
        (
            "https://thehill.com/policy/technology/4567890-tiktok-ban-vote/",
            "https://thehill.com/policy/technology/4567890-tiktok-ban-vote/",
        ),
        # a URL inside a sentence, plus an Authorization header value
        (
            "failed json://u:p%40ss@host/x (Authorization: Bearer abcdefghij)",
            "failed json://u:***@host/x (Authorization: Bearer ***)",
        ),
        # a mistyped feed scheme (an OPML outline left out) is an address, shown as written
        (
            "left out: 'htps://feeds.a.dj.com/rss/RSSMarketsMain.xml', 'htttp://x.org/Rss20Feed.xml'",
            "left out: 'htps://feeds.a.dj.com/rss/RSSMarketsMain.xml', 'htttp://x.org/Rss20Feed.xml'",
        ),
        ("hhtps://a.org/AbcDef1234567890xyz/rss", "hhtps://a.org/AbcDef1234567890xyz/rss"),
        ("thtp://a.org/AbcDef1234567890xyz/rss", "thtp://a.org/AbcDef1234567890xyz/rss"),
        # ... its password still goes; a scheme two edits away is a token URL as before
        ("htps://bob:hunter22@a.org/rss", "htps://bob:***@a.org/rss"),
        ("hts://abcdefgh/ijklmnop", "hts://***/***"),
        # no URL at all
        ("nothing to hide here", "nothing to hide here"),
    ],
)
def test_redact_masks_url_credentials(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("recipient", "shown"),
    [
        # a token in the path of an https webhook (apprise maps it to Slack)
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/T000/B000/***",
        ),
        # a UUID path segment (Teams/Zapier style webhooks)
        (
            "https://example.com/webhook/550e8400-e29b-41d4-a716-446655440000",
            "https://example.com/webhook/***",
        ),
        # a plain webhook address has nothing secret
        ("json://127.0.0.1:8080/hook", "json://127.0.0.1:8080/hook"),
        # a token URL's parts, wherever they appear later (apprise's own log lines)
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://***/***"),
    ],
)
def test_recipient_url_secrets_are_masked_once_registered(recipient: str, shown: str) -> None:
    register_secrets(url_secrets(recipient))
    assert redact(f"sending to {recipient} failed") == f"sending to {shown} failed"


def test_registered_secrets_are_masked_raw_and_url_encoded() -> None:
    register_secrets(["hunter2 pw!", "ab"])  # "ab" is too short to register
    out = redact("raw=hunter2 pw! quoted=hunter2%20pw%21 plus=hunter2+pw%21 ab")
    assert out == "raw=*** quoted=*** plus=*** ab"


def test_longer_secret_wins_over_a_secret_it_contains() -> None:
    register_secrets(["abcd", "abcdefgh"])
    assert redact("x abcdefgh y") == "x *** y"


@settings(deadline=None)  # correctness, not speed: a loaded machine must not fail it
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789!$%&*+-._~:", min_size=1))
def test_any_mailto_password_is_masked(password: str) -> None:
    masked = redact(f"mailto://user:{password}@smtp.example.com")
    assert masked == "mailto://user:***@smtp.example.com"


def _logger_with_filter() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_redact.isolated")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_filter_redacts_formatted_message_and_args() -> None:
    register_secrets(["topsecretvalue"])
    logger, stream = _logger_with_filter()
    url = "mailto://bob:pw5678@mx.example.com"
    logger.warning("send failed url=%s note=%s", url, "topsecretvalue")
    logger.info("literal percent %s kept", "100%")
    out = stream.getvalue()
    assert "pw5678" not in out and "topsecretvalue" not in out
    assert "send failed url=mailto://bob:***@mx.example.com note=***" in out
    assert "literal percent 100% kept" in out


def test_filter_redacts_exception_text() -> None:
    logger, stream = _logger_with_filter()
    try:
        raise RuntimeError("cannot reach slack://TTTTTTTTT/BBBBBBBBB/CCCCCCCCCCCCCCCCCCCCCCC1")
    except RuntimeError:
        logger.exception("alert.error")
    out = stream.getvalue()
    assert "Traceback" in out and "slack://***/***/***" in out
    assert "CCCCCCCCCCCCCCCCCCCCCCC1" not in out
